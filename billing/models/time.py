from django.db import models
from simple_history.models import HistoricalRecords


class TimeEntry(models.Model):
    """One approved time entry from the PSA, as last approved (a re-approval corrects it)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        RATED = "rated", "Rated"
        INVOICED = "invoiced", "Invoiced"
        ON_HOLD = "on_hold", "On hold"
        NON_BILLABLE = "non_billable", "Non-billable"
        RETRACTED = "retracted", "Retracted"

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
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    trace_id = models.CharField(max_length=32, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-work_date", "psa_time_entry_id"]
        verbose_name_plural = "time entries"

    def __str__(self) -> str:
        return f"{self.psa_time_entry_id} {self.person_email} {self.work_date} {self.hours}h"
