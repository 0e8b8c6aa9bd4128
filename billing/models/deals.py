from django.db import models
from simple_history.models import HistoricalRecords


class OpportunityDeal(models.Model):
    """The latest closed-won deal received for one CRM opportunity, finance's fixes to it, and
    the result of validating them: what a ``contract_invalid`` item re-runs after a fix."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        INVALID = "invalid", "Invalid (in the finance queue)"
        APPLIED = "applied", "Applied to its contract"

    crm_opportunity_id = models.CharField(max_length=120, unique=True)
    crm_account_id = models.CharField(max_length=120, db_index=True)
    data = models.JSONField(default=dict, help_text="The deal's data as the CRM last sent it")
    overrides = models.JSONField(
        default=dict,
        blank=True,
        help_text="Fields finance fixed (they win over the CRM's values for this opportunity)",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="One {rule, field, message} per failed rule"
    )
    contract = models.OneToOneField(
        "billing.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="deal"
    )
    last_event_at = models.DateTimeField(null=True, blank=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"deal {self.crm_opportunity_id} ({self.status})"

    @property
    def effective_data(self) -> dict:
        return {**self.data, **self.overrides}


class EventSubscription(models.Model):
    """An external system that hears one kind of Throughline event (``throughline.project.
    activated`` …): a signed ``<kind>.event.publish`` message through the outbox."""

    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="+"
    )
    event_type = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event_type", "system"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "event_type"], name="uniq_billing_event_subscription"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.system_id}"
