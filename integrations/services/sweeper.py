"""Beat's safety net: PostgreSQL is the truth, the broker only a doorbell (docs/reliability.md rule 9).

Every few seconds: rescue claims whose lease expired, and queue due messages and events that
no task is known to be queued for (a lost task, a retry whose time came, a broker restart).
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from integrations.models import InboundEvent, OutboxMessage
from integrations.services import dispatch
from integrations.services.outbox.rescue import rescue_expired_claims

REQUEUE_AFTER_SECONDS = 60  # a queued task not picked up after this long is presumed lost
BATCH = 500  # rows queued per sweep; the next sweep takes the rest


def sweep_due_work() -> dict[str, int]:
    now = timezone.now()
    rescued = rescue_expired_claims()
    stale = now - timedelta(seconds=REQUEUE_AFTER_SECONDS)
    not_queued = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)

    message_ids = list(
        OutboxMessage.objects.filter(
            not_queued,
            status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.FAILED],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    OutboxMessage.objects.filter(pk__in=message_ids).update(enqueued_at=now)
    for message_id in message_ids:
        dispatch.publish_outbox_message(message_id)

    event_ids = list(
        InboundEvent.objects.filter(
            not_queued,
            Q(status=InboundEvent.Status.FAILED, next_attempt_at__lte=now)
            | Q(status=InboundEvent.Status.RECEIVED),
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    InboundEvent.objects.filter(pk__in=event_ids).update(enqueued_at=now)
    for event_id in event_ids:
        dispatch.publish_inbound_event(event_id)
    return {
        "rescued": rescued,
        "messages_queued": len(message_ids),
        "events_queued": len(event_ids),
    }
