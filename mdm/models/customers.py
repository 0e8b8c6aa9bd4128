from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

# Depth guard for the parent walk: a real account hierarchy is a handful of levels deep.
MAX_HIERARCHY_DEPTH = 50


class Customer(models.Model):
    """The golden record of one client: what Throughline believes after applying each field
    from its system of record (``FieldOwnership``). Cross-references to the CRM account and
    the ERP customer(s) are ``integrations.ExternalRef`` rows pointing here."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"
        MERGED = "merged", "Merged into another record"

    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    website = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=60, blank=True)
    owner_email = models.CharField(max_length=200, blank=True, help_text="Account owner (CRM)")
    country = models.CharField(max_length=2, blank=True, help_text="CRM billing country")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    pending_parent_account_id = models.CharField(
        max_length=120,
        blank=True,
        help_text="CRM parent account not known yet; linked when it arrives.",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="absorbed"
    )
    merged_at = models.DateTimeField(null=True, blank=True)
    # Matching keys, derived from the fields above by mdm.services.matching (blocking, no all-pairs).
    match_name = models.CharField(max_length=200, blank=True)
    match_prefix = models.CharField(max_length=8, blank=True, db_index=True)
    match_sorted_prefix = models.CharField(max_length=8, blank=True, db_index=True)
    website_domain = models.CharField(max_length=200, blank=True, db_index=True)
    trace_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="customer_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.throughline_id} {self.name}"

    def clean(self) -> None:
        if self.parent_id is None:
            return
        node, seen = self.parent, 0
        while node is not None and seen < MAX_HIERARCHY_DEPTH:
            if self.pk is not None and node.pk == self.pk:
                raise ValidationError({"parent": "This parent would make the hierarchy a cycle."})
            node, seen = node.parent, seen + 1

    @property
    def throughline_id(self) -> str:
        return f"TL-{self.pk:06d}" if self.pk else "TL-new"


class BillingProfile(models.Model):
    """How one customer is billed by one of our legal entities: the ERP customer's bill-to,
    terms, currency and tax attributes (ERP-owned by default)."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="billing_profiles"
    )
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="billing_profiles"
    )
    erp_customer_id = models.CharField(max_length=120, blank=True, db_index=True)
    bill_to_line1 = models.CharField(max_length=200, blank=True)
    bill_to_line2 = models.CharField(max_length=200, blank=True)
    bill_to_city = models.CharField(max_length=120, blank=True)
    bill_to_region = models.CharField(max_length=120, blank=True)
    bill_to_postal_code = models.CharField(max_length=30, blank=True)
    bill_to_country = models.CharField(max_length=2, blank=True)
    payment_terms = models.CharField(max_length=40, blank=True, help_text="ERP code, e.g. NET30")
    currency = models.CharField(max_length=3, blank=True)
    tax_id = models.CharField(max_length=60, blank=True, db_index=True)
    tax_jurisdiction = models.CharField(max_length=20, blank=True)
    billing_contact = models.ForeignKey(
        "mdm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["customer", "legal_entity__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "legal_entity"], name="uniq_billing_profile_per_entity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} @ {self.legal_entity_id}"

    @property
    def bill_to(self) -> dict:
        return {
            "line1": self.bill_to_line1,
            "line2": self.bill_to_line2,
            "city": self.bill_to_city,
            "region": self.bill_to_region,
            "postal_code": self.bill_to_postal_code,
            "country": self.bill_to_country,
        }


class Contact(models.Model):
    """A person at a customer (CRM-owned); ``is_billing_contact`` marks who receives invoices."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=60, blank=True)
    title = models.CharField(max_length=120, blank=True)
    is_billing_contact = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["last_name", "first_name", "id"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email
