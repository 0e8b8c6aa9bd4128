from django.db import models

from exceptions_queue.models.items import Queue


class QueueSubscription(models.Model):
    """An external system (e.g. a service desk reached as a CRM/PSA/ERP event sink) that hears
    about items of one queue: a signed ``<kind>.event.publish`` message through the outbox when
    an item is raised and when it is resolved or dismissed."""

    queue = models.CharField(max_length=12, choices=Queue.choices)
    system = models.ForeignKey(
        "integrations.ExternalSystem", on_delete=models.CASCADE, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["queue", "system"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "system"], name="uniq_queue_subscription")
        ]

    def __str__(self) -> str:
        return f"{self.queue} → {self.system_id}"
