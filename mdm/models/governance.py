from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class FieldOwnership(models.Model):
    """Which system kind is the system of record for one field of one entity.

    An update of the field from the owner applies and propagates; from any other system it
    changes nothing and raises ``ownership_conflict``. Seeded by a data migration; editable in
    the admin (a change applies to the next event, never retroactively).
    """

    class Entity(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        BILLING_PROFILE = "billing_profile", "Billing profile"
        CONTACT = "contact", "Contact"

    class Owner(models.TextChoices):
        CRM = "crm", "CRM"
        ERP = "erp", "ERP"

    entity = models.CharField(max_length=20, choices=Entity.choices)
    field = models.CharField(max_length=60)
    owner = models.CharField(max_length=10, choices=Owner.choices)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["entity", "field"]
        verbose_name_plural = "field ownership"
        constraints = [
            models.UniqueConstraint(fields=["entity", "field"], name="uniq_field_ownership")
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.field} → {self.owner}"


class DuplicateDecision(models.Model):
    """A person decided that two customers are NOT duplicates: the pair is never raised again.

    Stored with ``low`` < ``high`` (customer ids) so a pair has exactly one row.
    """

    low = models.ForeignKey("mdm.Customer", on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey("mdm.Customer", on_delete=models.CASCADE, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["low", "high"], name="uniq_duplicate_decision"),
            models.CheckConstraint(
                condition=models.Q(low__lt=models.F("high")), name="decision_low_lt_high"
            ),
        ]

    def __str__(self) -> str:
        return f"not a duplicate: {self.low_id} / {self.high_id}"


# The seed defaults of field ownership: CRM owns relationship data, ERP owns bill-to, legal
# entity, payment terms and tax. Migration 0002 copies a frozen copy of this table once;
# afterwards the admin (FieldOwnership) is the place to change it.
SEED_OWNERSHIP: tuple[tuple[str, str, str], ...] = (
    ("customer", "name", "crm"),
    ("customer", "website", "crm"),
    ("customer", "industry", "crm"),
    ("customer", "phone", "crm"),
    ("customer", "owner_email", "crm"),
    ("customer", "parent", "crm"),
    ("customer", "country", "crm"),
    ("customer", "legal_name", "erp"),
    ("billing_profile", "bill_to", "erp"),
    ("billing_profile", "legal_entity", "erp"),
    ("billing_profile", "payment_terms", "erp"),
    ("billing_profile", "currency", "erp"),
    ("billing_profile", "tax_id", "erp"),
    ("billing_profile", "tax_jurisdiction", "erp"),
    ("contact", "first_name", "crm"),
    ("contact", "last_name", "crm"),
    ("contact", "email", "crm"),
    ("contact", "phone", "crm"),
    ("contact", "title", "crm"),
    ("contact", "is_billing_contact", "crm"),
)
