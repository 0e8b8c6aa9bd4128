from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from config.money_db import MoneyField


class Invoice(models.Model):
    """An invoice of one customer by one legal entity, in one currency and tax jurisdiction, for
    one calendar month: a draft until finance approves it, then posted to the ERP."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        POSTING = "posting", "Posting to the ERP"
        POSTED = "posted", "Posted"
        SENT = "sent", "Sent"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    customer = models.ForeignKey("mdm.Customer", on_delete=models.PROTECT, related_name="invoices")
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="invoices"
    )
    currency = models.CharField(max_length=3)
    tax_jurisdiction = models.CharField(max_length=20)
    period = models.DateField(help_text="First day of the month billed")
    sequence = models.PositiveIntegerField(
        default=1, help_text="2, 3 …: supplementary drafts of the month"
    )
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    invoice_date = models.DateField(help_text="Last day of the month")
    net_total = MoneyField(default=0)
    tax_rate = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True)
    tax_total = MoneyField(default=0)
    gross_total = MoneyField(default=0)
    erp_invoice_id = models.CharField(max_length=120, blank=True, db_index=True)
    number = models.CharField(max_length=60, blank=True)
    erp_total = MoneyField(null=True, blank=True)
    amount_due = MoneyField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "auth.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_invoices",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-period", "customer_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "customer",
                    "legal_entity",
                    "currency",
                    "tax_jurisdiction",
                    "period",
                    "sequence",
                ],
                name="uniq_invoice_group_month_sequence",
            ),
            # At most one open draft per group and month: supplementary drafts come after approval.
            models.UniqueConstraint(
                fields=["customer", "legal_entity", "currency", "tax_jurisdiction", "period"],
                condition=Q(status="draft"),
                name="one_draft_per_group_month",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.pk} {self.period:%Y-%m}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("billing:invoice_detail", args=[self.pk])

    @property
    def title(self) -> str:
        """What a person calls it: the ERP's number once it has one, a draft until approved."""
        if self.number:
            return f"Invoice {self.number}"
        if self.erp_invoice_id:
            return f"Invoice {self.erp_invoice_id}"
        if self.status == self.Status.DRAFT:
            return f"Draft #{self.pk}"
        return f"Invoice #{self.pk}"


class InvoiceLine(models.Model):
    """One line of an invoice; links to what it bills (entries, a milestone, a contract month)."""

    class Kind(models.TextChoices):
        TIME = "time", "Time"
        MILESTONE = "milestone", "Milestone"
        RETAINER = "retainer", "Retainer"
        OVERAGE = "overage", "Overage"
        CREDIT = "credit", "Credit"
        ADJUSTMENT = "adjustment", "Write-down or write-up"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.CharField(max_length=300)
    contract = models.ForeignKey(
        "billing.Contract", on_delete=models.PROTECT, related_name="invoice_lines"
    )
    milestone = models.ForeignKey(
        "billing.Milestone",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    role = models.CharField(max_length=60, blank=True)
    person_email = models.CharField(max_length=200, blank=True)
    hours = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    amount = MoneyField(currency_field="invoice.currency")
    service_month = models.DateField(
        null=True, blank=True, help_text="Retainer/overage month billed"
    )
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        help_text="A credit line names the line it reverses",
    )
    group_key = models.CharField(
        max_length=200,
        blank=True,
        db_index=True,
        help_text="What the billing run groups on (entry, or contract+role/person+rate)",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["invoice", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class InvoiceLineEntry(models.Model):
    """A time entry billed on a line, with the amount it contributed. ``is_active`` is False
    once a credit line reverses it or its invoice is void, so each billable entry is on exactly
    one active line (a partial unique constraint)."""

    line = models.ForeignKey(InvoiceLine, on_delete=models.CASCADE, related_name="entries")
    time_entry = models.ForeignKey(
        "billing.TimeEntry", on_delete=models.PROTECT, related_name="billings"
    )
    hours = models.DecimalField(max_digits=6, decimal_places=2)
    amount = MoneyField(currency_field="line.invoice.currency")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["time_entry"], condition=Q(is_active=True), name="entry_billed_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.time_entry_id} on line {self.line_id}"


class BillingRun(models.Model):
    """One run of the billing for a month (optionally one entity or customer), and its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    period = models.DateField(help_text="First day of the month")
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", null=True, blank=True, on_delete=models.PROTECT
    )
    customer = models.ForeignKey("mdm.Customer", null=True, blank=True, on_delete=models.PROTECT)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    step = models.CharField(max_length=40, blank=True)
    progress = models.PositiveIntegerField(default=0, help_text="Percent")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"billing run {self.period:%Y-%m} {self.status}"
