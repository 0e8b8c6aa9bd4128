from django.conf import settings
from django.db import models


class ControlRun(models.Model):
    """One run of a control: a scheduled or requested check that compares records and raises
    (or resolves) exception items for what disagrees, e.g. billing's reconciliation. What it
    was asked to check, how far it got, and its counts."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    control = models.CharField(max_length=60, help_text="Which control, e.g. reconciliation")
    scope = models.CharField(max_length=200, help_text="What it checks, in words")
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveIntegerField(default=0, help_text="Percent")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the schedule",
    )
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["control", "-created_at"], name="controlrun_recent_idx")]

    def __str__(self) -> str:
        return f"{self.control} #{self.pk} {self.scope} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class ControlResult(models.Model):
    """What one run of a control found for one group of one period (a legal entity's month):
    its figures side by side and how many of them disagree. The latest row of a (control,
    period, group) is the current picture."""

    run = models.ForeignKey(ControlRun, on_delete=models.CASCADE, related_name="results")
    control = models.CharField(max_length=60)
    period = models.CharField(max_length=7, help_text="YYYY-MM")
    group = models.CharField(max_length=60, help_text="What the period is split by (an entity)")
    figures = models.JSONField(default=dict, blank=True)
    mismatch_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period", "group", "-id"]
        indexes = [
            models.Index(fields=["control", "period", "group"], name="controlresult_latest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.control} {self.period} {self.group}: {self.mismatch_count}"
