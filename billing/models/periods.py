"""Accounting periods per legal entity (open, closing, closed) and the approved moves of late
time out of a closed month into an open one (docs/finance-controls/period-close.md)."""

from django.db import models
from simple_history.models import HistoricalRecords


class AccountingPeriod(models.Model):
    """One month of one legal entity's books. A month without a row is open.

    Closed: a billing run refuses it (an entity named) or leaves the entity out (a run of
    every entity), no invoice of it is approved, and time approved late for it waits until
    finance moves it to an open month (PeriodMove).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSING = "closing", "Closing (finishing the month's invoices)"
        CLOSED = "closed", "Closed"

    legal_entity = models.ForeignKey(
        "mdm.LegalEntity", on_delete=models.PROTECT, related_name="accounting_periods"
    )
    period = models.DateField(help_text="The first day of the month.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-period", "legal_entity"]
        constraints = [
            models.UniqueConstraint(
                fields=["legal_entity", "period"], name="billing_period_unique_entity_month"
            )
        ]

    def __str__(self) -> str:
        return f"{self.legal_entity} {self.period:%Y-%m} {self.get_status_display()}"


class PeriodMove(models.Model):
    """Late time of a closed month, billed in an open month by finance's decision: who moved
    which entries, from which month to which, for how many hours and how much."""

    legal_entity = models.ForeignKey("mdm.LegalEntity", on_delete=models.PROTECT, related_name="+")
    from_period = models.DateField(help_text="The closed month the time was worked in.")
    to_period = models.DateField(help_text="The open month it is billed in.")
    entries = models.PositiveIntegerField(default=0)
    hours = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    amounts = models.JSONField(
        default=dict, blank=True, help_text='Rated amount per currency: {"USD": "525.00"}.'
    )
    approved_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta:
        ordering = ["-approved_at"]

    def __str__(self) -> str:
        return f"{self.legal_entity} {self.from_period:%Y-%m} → {self.to_period:%Y-%m}"
