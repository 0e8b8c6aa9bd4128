from django.db import models
from simple_history.models import HistoricalRecords

from config.money_db import MoneyField


class ProjectTemplate(models.Model):
    """A kind of engagement: which billing models it fits and the phases a project starts with."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    billing_models = models.JSONField(default=list, help_text='e.g. ["time_and_materials"]')

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class TemplatePhase(models.Model):
    template = models.ForeignKey(ProjectTemplate, on_delete=models.CASCADE, related_name="phases")
    code = models.CharField(max_length=60)
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["template", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["template", "code"], name="uniq_template_phase")
        ]

    def __str__(self) -> str:
        return f"{self.template.code}/{self.code}"


class Contract(models.Model):
    """The commercial terms of one closed-won opportunity (amended by later closed-won events)."""

    class BillingModel(models.TextChoices):
        TIME_AND_MATERIALS = "time_and_materials", "Time and materials"
        FIXED_FEE = "fixed_fee", "Fixed fee"
        RETAINER = "retainer", "Retainer"

    crm_opportunity_id = models.CharField(max_length=120, unique=True)
    crm_account_id = models.CharField(max_length=120, db_index=True)
    name = models.CharField(max_length=200)
    customer = models.ForeignKey("mdm.Customer", on_delete=models.PROTECT, related_name="contracts")
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="contracts"
    )
    billing_model = models.CharField(max_length=20, choices=BillingModel.choices)
    currency = models.CharField(max_length=3)
    amount = MoneyField()
    close_date = models.DateField()
    start_date = models.DateField()
    end_date = models.DateField()
    not_to_exceed = MoneyField(null=True, blank=True)
    po_number = models.CharField(max_length=80, blank=True)
    payment_terms = models.CharField(max_length=40, blank=True)
    tax_jurisdiction = models.CharField(max_length=20)
    rate_card = models.ForeignKey(
        "billing.RateCard",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
        help_text="The card the deal names; empty: the client's card, else the entity's standard card",
    )
    retainer_monthly_amount = MoneyField(null=True, blank=True)
    retainer_included_hours = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )
    amendment_count = models.PositiveIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.crm_opportunity_id} {self.name}"


class Project(models.Model):
    """The delivery project of a contract, as provisioned in the PSA."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning in the PSA"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        CLOSED = "closed", "Closed"

    contract = models.OneToOneField(Contract, on_delete=models.PROTECT, related_name="project")
    customer = models.ForeignKey("mdm.Customer", on_delete=models.PROTECT, related_name="projects")
    template = models.ForeignKey(ProjectTemplate, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    psa_project_id = models.CharField(max_length=120, null=True, blank=True, unique=True)
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("billing:project_detail", args=[self.pk])


class Phase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="phases")
    code = models.CharField(max_length=60)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    position = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["project", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["project", "code"], name="uniq_project_phase")
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/{self.code}"


class Milestone(models.Model):
    """A fixed-fee milestone: billed in the month it is completed."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    amount = MoneyField(currency_field="contract.currency")
    due_date = models.DateField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "due_date", "name"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "name"], name="uniq_contract_milestone")
        ]

    def __str__(self) -> str:
        return self.name
