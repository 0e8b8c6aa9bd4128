from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class RateCard(models.Model):
    """Hourly rates of one legal entity in one currency: the entity's standard card, or one
    client's card (docs/contract.md §5 "Card")."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200, blank=True)
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="rate_cards"
    )
    currency = models.CharField(max_length=3)
    client_account_id = models.CharField(
        max_length=120,
        blank=True,
        db_index=True,
        help_text="CRM account id of the client; empty: not a client card",
    )
    is_standard = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_entity__code", "currency", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "currency"],
                condition=Q(is_standard=True),
                name="one_standard_card_per_entity",
            ),
            models.UniqueConstraint(
                fields=["client_account_id", "legal_entity", "currency"],
                condition=~Q(client_account_id=""),
                name="one_client_card_per_entity_currency",
            ),
            models.CheckConstraint(
                condition=~(Q(is_standard=True) & ~Q(client_account_id="")),
                name="standard_card_has_no_client",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class RateCardVersion(models.Model):
    """The rates of a card from ``valid_from`` to ``valid_to`` (inclusive; open end). Versions
    of one card never overlap: a new version closes the previous one."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="versions")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["card", "valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["card", "valid_from"], name="uniq_card_version_start"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="card_version_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card.code} {self.valid_from}..{self.valid_to or ''}"


class Rate(models.Model):
    """One role's hourly rate in one card version."""

    version = models.ForeignKey(RateCardVersion, on_delete=models.CASCADE, related_name="rates")
    role = models.ForeignKey("billing.Role", on_delete=models.PROTECT, related_name="rates")
    hourly = models.DecimalField(max_digits=19, decimal_places=4)

    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "role__code"]
        constraints = [
            models.UniqueConstraint(fields=["version", "role"], name="uniq_rate_per_role")
        ]

    def __str__(self) -> str:
        return f"{self.role.code} {self.hourly}"


class BillingRule(models.Model):
    """A client's billing rules: hours rounding, non-billable categories, invoice grouping."""

    class Rounding(models.TextChoices):
        UP = "up", "Up"
        NEAREST = "nearest", "Nearest (half up)"
        DOWN = "down", "Down"

    class Grouping(models.TextChoices):
        PER_ENTRY = "per_entry", "One line per time entry"
        PER_ROLE = "per_role", "One line per project and role"
        PER_PERSON = "per_person", "One line per project and person"

    client_account_id = models.CharField(max_length=120, unique=True, help_text="CRM account id")
    rounding_increment_hours = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.UP)
    non_billable_categories = models.JSONField(default=list, blank=True)
    invoice_grouping = models.CharField(
        max_length=12, choices=Grouping.choices, default=Grouping.PER_ROLE
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["client_account_id"]

    def __str__(self) -> str:
        return f"rules of {self.client_account_id}"
