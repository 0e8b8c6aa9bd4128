"""Four eyes on money-moving actions (docs/finance-controls/four-eyes.md): the rules saying
which actions, from which amount, need a second person, and the requests waiting for one."""

from django.db import models
from simple_history.models import HistoricalRecords


class ApprovalAction(models.TextChoices):
    WRITE_OFF = "write_off", "Write off held time"
    WRITE_DOWN = "write_down", "Write a draft's line down"
    PSA_RATE = "psa_rate", "Bill held time at the PSA's rate"
    POST_INVOICE = "post_invoice", "Approve an invoice for posting"
    RATE_CHANGE = "rate_change", "Re-rate a project's time under changed rates"
    REPLAY_POSTED = "replay_posted", "Replay a posting with a changed amount"


class ApprovalRule(models.Model):
    """An action that needs a second person at or above ``threshold`` (in ``currency``; an
    amount in another currency always needs one: no rate is guessed). Empty threshold: always."""

    action = models.CharField(max_length=20, choices=ApprovalAction.choices, unique=True)
    threshold = models.DecimalField(
        max_digits=19, decimal_places=3, null=True, blank=True,
        help_text="At or above this amount a second person approves; empty: always.",
    )  # fmt: skip
    currency = models.CharField(max_length=3, blank=True, help_text="The threshold's currency.")
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["action"]

    def __str__(self) -> str:
        limit = f"from {self.threshold} {self.currency}" if self.threshold is not None else "always"
        return f"{self.get_action_display()}: {limit}"


class ApprovalRequest(models.Model):
    """One money-moving action asked for by one person and waiting for another: what it is
    (``payload``, the arguments it will run with), how much it moves, who asked, who decided."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a second approval"
        APPROVED = "approved", "Approved and done"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Approved, but refused when done"

    action = models.CharField(max_length=20, choices=ApprovalAction.choices)
    subject_key = models.CharField(max_length=120, help_text="invoice:12, item:5, line:7 …")
    subject_label = models.CharField(max_length=300)
    payload = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(max_digits=19, decimal_places=3, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    request_note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    result = models.TextField(blank=True)
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "subject_key"],
                condition=models.Q(status="pending"),
                name="billing_approval_one_pending_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.subject_label} ({self.get_status_display()})"
