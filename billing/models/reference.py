from django.db import models
from simple_history.models import HistoricalRecords


class Role(models.Model):
    """A delivery role priced on rate cards (consultant, senior-consultant, partner …)."""

    code = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=120)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Person(models.Model):
    """Someone who books time: their role, entity, cost rate (for margin) and capacity."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="people")
    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="people"
    )
    cost_rate = models.DecimalField(
        max_digits=19, decimal_places=4, help_text="Per hour, entity currency"
    )
    weekly_capacity_hours = models.DecimalField(max_digits=5, decimal_places=2, default="40")

    history = HistoricalRecords()

    class Meta:
        ordering = ["email"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.email


class TaxRate(models.Model):
    """The (estimated) tax rate of a jurisdiction from a date; the ERP is authoritative."""

    jurisdiction = models.CharField(max_length=20)
    rate = models.DecimalField(
        max_digits=8, decimal_places=6, help_text="0.20 for 20 %; 0.08875 for New York City"
    )
    valid_from = models.DateField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["jurisdiction", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "valid_from"], name="uniq_tax_rate_from"
            )
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction} {self.rate} from {self.valid_from}"


class FxRate(models.Model):
    """A reporting exchange rate on a date (dashboards only; never used for billing)."""

    from_currency = models.CharField(max_length=3)
    to_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=19, decimal_places=8)
    date = models.DateField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["from_currency", "to_currency", "-date"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_currency", "to_currency", "date"], name="uniq_fx_rate"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_currency}/{self.to_currency} {self.rate} on {self.date}"
