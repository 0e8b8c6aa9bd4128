from django.db import models
from simple_history.models import HistoricalRecords

from config.money_db import MoneyField


class TimeEntry(models.Model):
    """One approved time entry from the PSA, as last approved (a re-approval corrects it), and
    what Throughline decided about it: held, non-billable, or rated with the card version used."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        RATED = "rated", "Rated"
        INVOICED = "invoiced", "Invoiced"
        ON_HOLD = "on_hold", "On hold"
        NON_BILLABLE = "non_billable", "Non-billable"
        RETRACTED = "retracted", "Retracted"

    # As the PSA sent it.
    psa_time_entry_id = models.CharField(max_length=120, unique=True)
    psa_project_id = models.CharField(max_length=120, db_index=True)
    phase_code = models.CharField(max_length=60)
    person_email = models.EmailField()
    role = models.CharField(max_length=60)
    work_date = models.DateField(db_index=True)
    hours = models.DecimalField(max_digits=6, decimal_places=2)
    is_billable = models.BooleanField()
    category = models.CharField(max_length=60)
    psa_bill_rate = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    notes = models.TextField(blank=True)
    approved_at = models.DateTimeField()
    approved_by = models.CharField(max_length=200, blank=True)
    retracted_at = models.DateTimeField(null=True, blank=True)
    retraction_reason = models.TextField(blank=True)
    # What Throughline decided.
    # Not indexed, on purpose: the billing run marks a month of entries ``invoiced`` in one
    # pass, and only an UPDATE that changes no indexed column (predicates of partial indexes
    # count) can be HOT, i.e. write no index entry (docs/billing.md, performance notes).
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RECEIVED)
    hold_reason = models.CharField(
        max_length=30, blank=True, help_text="The exception type holding it"
    )
    project = models.ForeignKey(
        "billing.Project",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    rate_card_version = models.ForeignKey(
        "billing.RateCardVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="time_entries",
    )
    rate = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    billed_hours = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    amount = MoneyField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    cost_amount = MoneyField(currency_field="cost_currency", null=True, blank=True)
    cost_currency = models.CharField(
        max_length=3, blank=True, help_text="The person's entity currency (cost rate)"
    )
    hold_key = models.CharField(
        max_length=200, blank=True, help_text="Subject key of the exception item holding it"
    )
    rate_override = models.DecimalField(
        max_digits=19,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="A rate finance accepted for this entry (e.g. the PSA's), used instead of the card's",
    )
    write_off_reason = models.TextField(blank=True, help_text="Written off by finance: leakage")
    written_off_amount = MoneyField(null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    # Late time of a closed month that finance moved to an open one (PeriodMove): billed by
    # that month's run; empty, the entry is billed in its work month.
    billing_period = models.DateField(null=True, blank=True)
    period_move = models.ForeignKey(
        "billing.PeriodMove", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trace_id = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-work_date", "psa_time_entry_id"]
        verbose_name_plural = "time entries"
        indexes = [
            # Held entries by exception item (and by cause): a few rows, found without status.
            models.Index(
                fields=["hold_reason", "hold_key"],
                condition=~models.Q(hold_reason=""),
                name="billing_te_held_idx",
            ),
            # Moved late time by the month it is billed in: a few rows.
            models.Index(
                fields=["billing_period"],
                condition=models.Q(billing_period__isnull=False),
                name="billing_te_moved_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.psa_time_entry_id} {self.person_email} {self.work_date} {self.hours}h"

    def status_label(self) -> str:
        """The status as a person reads it: time on an invoice not approved yet is "On draft"
        (it can still be written down, held or taken off); "Invoiced" once it is approved.
        Uses the ``active_billings`` the list selector prefetches, when there."""
        if self.status == self.Status.INVOICED:
            billings = getattr(self, "active_billings", None) or []
            if billings and all(link.line.invoice.status == "draft" for link in billings):
                return "On draft"
        return self.get_status_display()
