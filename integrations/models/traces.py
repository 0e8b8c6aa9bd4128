from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class TraceStep(models.Model):
    """One thing that happened within a trace: an event received, a record written, an outbound
    call, an exception raised. ``GET /api/v1/traces/<id>/`` lists them in time order."""

    class Kind(models.TextChoices):
        EVENT = "event", "Inbound event"
        RECORD = "record", "Record written"
        OUTBOUND = "outbound", "Outbound call"
        EXCEPTION = "exception", "Exception raised"
        NOTE = "note", "Note"

    trace_id = models.CharField(max_length=32)
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    action = models.CharField(
        max_length=60, help_text="e.g. received, created, updated, sent, failed"
    )
    summary = models.CharField(max_length=300)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    object_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("content_type", "object_id")
    detail = models.JSONField(default=dict, blank=True)
    # The client's X-Request-ID of the request that recorded the step (its correlation id, never
    # the trace id: integrations/middleware.py); "" when none was sent or it was not kept.
    client_request_id = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        # Steps are written several times per event: a trace in time order, and a subject's
        # steps, are the only lookups.
        indexes = [
            models.Index(fields=["trace_id", "at"], name="tracestep_trace_at_idx"),
            models.Index(fields=["content_type", "object_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.trace_id} {self.kind} {self.action}"
