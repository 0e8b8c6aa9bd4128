"""How a CRM's records are read and written, field by field (the Salesforce connector's
mapping): editable in the admin, every change kept in history, and what the peer says about its
API limits."""

from django.db import models
from simple_history.models import HistoricalRecords


class FieldMapping(models.Model):
    """One canonical field of one kind of CRM record and the CRM field that holds it.

    Read on every inbound change (an Outbound Message, a change event) and every write. A row
    set for a system replaces that field's default (integrations/connectors/salesforce/
    mapping.py ``DEFAULT_FIELDS``); adding a system seeds the defaults as rows, so the admin
    shows the whole mapping. ``values`` translates a picklist: the CRM's value → ours.
    """

    class Record(models.TextChoices):
        ACCOUNT = "account", "Account"
        CONTACT = "contact", "Contact"
        OPPORTUNITY = "opportunity", "Opportunity"
        INVOICE = "invoice", "Invoice status (written)"

    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="field_mappings"
    )
    record = models.CharField(max_length=20, choices=Record.choices)
    field = models.CharField(
        max_length=60, help_text="Throughline's field (the contract's name, e.g. billing_model)."
    )
    source = models.CharField(
        max_length=120,
        blank=True,
        help_text="The CRM field's API name (e.g. Billing_Model__c); empty: not mapped.",
    )
    values = models.JSONField(
        default=dict,
        blank=True,
        help_text='Picklist values. Read fields: the CRM\'s to ours ({"Time and Materials": '
        '"time_and_materials"}); the invoice status (written): ours to the CRM\'s ({"paid": '
        '"Paid"}). A value not listed is passed as it is.',
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["system", "record", "field"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "record", "field"], name="field_mapping_unique_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_record_display()} {self.field} ← {self.source or '(not mapped)'}"


class ApiUsage(models.Model):
    """The peer's own count of the API calls it allows (Salesforce: ``Sforce-Limit-Info:
    api-usage=18/5000``, rolling 24 hours, the whole org), as last seen on an answer."""

    system = models.OneToOneField(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="api_usage"
    )
    used = models.PositiveIntegerField(default=0)
    allowed = models.PositiveIntegerField(default=0)
    observed_at = models.DateTimeField()

    class Meta:
        ordering = ["system"]

    def __str__(self) -> str:
        return f"{self.system.slug}: {self.used}/{self.allowed}"

    @property
    def share(self) -> float:
        return self.used / self.allowed if self.allowed else 0.0
