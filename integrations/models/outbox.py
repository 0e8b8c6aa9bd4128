import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class OutboxMessage(models.Model):
    """One effect on an external system, written in the transaction of the domain change that
    caused it, delivered by the dispatcher at least once with a stable idempotency key."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending (claimed by a worker)"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (needs a person)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed only for the lookups the code makes (claim and sweep, per-object order, local
    # object, trace), each row being inserted and updated three times or more (`make bench`).
    system = models.ForeignKey(
        "integrations.ExternalSystem",
        on_delete=models.PROTECT,
        related_name="outbox",
        db_index=False,
    )
    kind = models.CharField(max_length=80, help_text="e.g. erp.time_entry.record")
    object_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="The external object this is about; messages of one object are sent in order.",
    )
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField()
    claim_token = models.UUIDField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time a task was queued for it."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    error_class = models.CharField(max_length=20, blank=True)
    external_id = models.CharField(max_length=120, blank=True)
    response = models.JSONField(default=dict, blank=True)
    trace_id = models.CharField(max_length=32)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    object_id = models.CharField(max_length=64, blank=True)
    local_object = GenericForeignKey("content_type", "object_id")
    external_object_type = models.CharField(
        max_length=60,
        blank=True,
        help_text="Recorded as an ExternalRef of the local object on success.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="uniq_outbox_idempotency_key")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["system", "object_key", "created_at"]),
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["trace_id"], name="outboxmessage_trace_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.system_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at delivering an outbox message (or a decision not to call: breaker open)."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Delivered"
        RETRYABLE = "retryable", "Failed, will retry"
        RATE_LIMITED = "rate_limited", "Rate limited by the peer"
        PERMANENT = "permanent", "Refused permanently"
        AUTH = "auth", "Authentication refused"
        DEFERRED = "deferred", "Deferred: breaker open"
        STALE = "stale", "Finished after its claim was rescued (ignored)"

    message = models.ForeignKey(
        OutboxMessage, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    error = models.TextField(blank=True)
    replay_round = models.PositiveIntegerField(
        default=0, help_text="0 before any replay, 1 after the first …"
    )

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"#{self.number} {self.outcome}"


class SyncRun(models.Model):
    """A scheduled or manual pull of reference data from one system, and what it found."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="sync_runs"
    )
    kind = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    cursor = models.CharField(
        max_length=200,
        blank=True,
        help_text="Where the next poll of this stream starts (peer's own)",
    )
    read_count = models.PositiveIntegerField(default=0)
    changed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    trace_id = models.CharField(max_length=32, db_index=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.system_id} {self.kind} {self.started_at:%Y-%m-%d %H:%M}"
