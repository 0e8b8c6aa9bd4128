import base64

from django.db import models


def base64_of(raw: bytes | None) -> str | None:
    """How a delivery's raw bytes are stored (``raw_base64``)."""
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def raw_bytes_of(stored: str | None) -> bytes | None:
    return None if stored is None else base64.b64decode(stored)


class InboundEvent(models.Model):
    """One webhook delivery Throughline accepted for a configured system (the inbox).

    Unique on (system, webhook id): a repeated delivery finds this row and does nothing.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        SUPERSEDED = "superseded", "Superseded (older than the last applied)"
        UNHANDLED = "unhandled", "No handler for this type"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (retries exhausted)"
        REJECTED = "rejected", "Rejected (format or schema)"

    # Every index is paid on each of the many INSERTs and status UPDATEs of this table (`make
    # bench`): only the lookups the code makes are indexed, with no varchar_pattern_ops twins
    # (admin search is icontains, which no btree serves). The system is the unique
    # constraint's leading column.
    system = models.ForeignKey(
        "integrations.ExternalSystem",
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    webhook_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=80, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="The envelope timestamp.")
    object_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="The source object this event is about; events of one object apply in order.",
    )
    payload = models.JSONField(null=True, blank=True)
    raw_body = models.TextField(
        blank=True,
        help_text="Kept when the body could not be stored as JSON (as text: NUL and invalid "
        "UTF-8 replaced by U+FFFD).",
    )
    # The evidence for a later signature check: the body byte for byte (base64: a text column
    # keeps the accepted path's INSERT compiled once, models/rows.py). Written once at receipt;
    # the admin shows it, nothing edits it (pulled events, read by Throughline itself: NULL).
    raw_base64 = models.TextField(
        null=True, blank=True, editable=False, help_text="The body exactly as received, base64."
    )
    signature_valid = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    error_details = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time a task was queued for it."
    )
    trace_id = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)

    # Not a field: set by process_inbound_event on an event's first attempt, read (with a
    # getattr default, as it is usually absent) by record_event_step. Declared for the type
    # checker only: a bare annotation adds no attribute and no column.
    _received_step_pending: bool

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "webhook_id"], name="uniq_inbound_event_per_system"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["trace_id"], name="inboundevent_trace_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.webhook_id} {self.event_type}"

    @property
    def data(self) -> dict:
        return (self.payload or {}).get("data") or {}

    @property
    def raw_bytes(self) -> bytes | None:
        """The body as received (None for a pulled event)."""
        return raw_bytes_of(self.raw_base64)


class RejectedDelivery(models.Model):
    """A delivery refused before it became an event: bad signature, stale timestamp, unknown
    system, oversize body, malformed signature headers, signing secrets this server cannot
    decrypt. Kept for operations; nothing is processed. Past a source's budget, refusals are
    counted in one aggregate row per address (or, for signed deliveries over their system's
    budget, per system) and minute: reason ``rate_limited``, ``count`` the deliveries it stands
    for, ``aggregate_key`` its window."""

    class Reason(models.TextChoices):
        UNKNOWN_SYSTEM = "unknown_system", "Unknown system"
        SIGNATURE = "signature", "Missing or invalid signature"
        TIMESTAMP = "timestamp", "Timestamp outside tolerance"
        TOO_LARGE = "too_large", "Body over the size limit"
        RATE_LIMITED = "rate_limited", "Rate limited"
        HEADERS = "headers", "Malformed signature headers"
        # Salesforce Outbound Messages (SOAP): integrations/services/inbox/outbound_messages.py.
        MALFORMED = "malformed", "Not a readable message (malformed XML, not SOAP)"
        HOSTILE_XML = "hostile_xml", "Hostile XML (a DTD, entities)"
        WRONG_ORGANIZATION = "wrong_org", "Another Salesforce organization"
        # Not the sender's fault: this server cannot decrypt the system's signing secrets.
        SECRETS_UNREADABLE = (
            "secrets_unreadable",
            "Signing secrets unreadable (a key of this server)",
        )

    system = models.ForeignKey(
        "integrations.ExternalSystem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rejected_deliveries",
    )
    system_slug = models.CharField(max_length=80)
    webhook_id = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body_excerpt = models.TextField(blank=True)
    raw_base64 = models.TextField(
        null=True,
        blank=True,
        editable=False,
        help_text="The body exactly as received, base64 (within the size limit; none for an "
        "unknown system). Never edited.",
    )
    body_size = models.PositiveIntegerField(default=0)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    count = models.PositiveIntegerField(
        default=1, help_text="Deliveries this row stands for (more than 1: an aggregate)."
    )
    aggregate_key = models.CharField(max_length=120, null=True, blank=True, editable=False)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "rejected deliveries"
        constraints = [  # one aggregate row per window (NULL for the others: not compared)
            models.UniqueConstraint(fields=["aggregate_key"], name="uniq_rejected_aggregate")
        ]

    def __str__(self) -> str:
        return f"{self.system_slug} {self.reason} {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def raw_bytes(self) -> bytes | None:
        """The body as received (None when it was not kept)."""
        return raw_bytes_of(self.raw_base64)


class SourceObjectState(models.Model):
    """The envelope timestamp of the last event applied for one source object.

    Locked while an event of that object is applied, so two workers cannot apply an older and a
    newer event in the wrong order.
    """

    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, db_index=False
    )  # the unique constraint's leading column
    object_key = models.CharField(max_length=200)
    last_applied_at = models.DateTimeField(null=True, blank=True)
    last_event = models.ForeignKey(InboundEvent, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "object_key"], name="uniq_source_object")
        ]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.object_key}"
