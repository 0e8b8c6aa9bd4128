"""Telling people about items: a daily digest per queue by email, and an optional signed
outbound event per queue through the outbox (a ``QueueSubscription``)."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.money import money_json
from exceptions_queue.models import ExceptionItem, Queue, QueueSubscription
from integrations.services.outbox import publish_to_subscribers

logger = logging.getLogger(__name__)
PUBLISH_KEY_PREFIX = "exceptions_queue.publish:"


def item_event_payload(*, item: ExceptionItem, event: str) -> dict:
    """The canonical JSON of an item event (what a service desk receives)."""
    return {
        "type": event,
        "item": {
            "id": item.pk,
            "type": item.type_code,
            "queue": item.queue,
            "severity": item.severity,
            "status": item.status,
            "subject_ref": item.subject_ref,
            "subject_key": item.subject_key,
            "summary": item.summary,
            "trace_id": item.trace_id,
            "count": item.occurrence_count,
            "amount_at_risk": money_json(item.amount_at_risk, item.currency),
            "hours": None if item.hours is None else str(item.hours),
            "first_seen_at": item.first_seen_at.isoformat(),
            "due_at": item.due_at.isoformat(),
            "resolution_action": item.resolution_action,
            "resolution_outcome": item.resolution_outcome,
            "url": reverse("exceptions_queue:item_detail", args=[item.pk]),
        },
    }


def publish_item_event(*, item: ExceptionItem, event: str) -> int:
    """Queue ``event`` about ``item`` to every active subscription of its queue, in the
    caller's transaction. Idempotent per (item, event, system). Returns messages queued.

    A failed publish is itself a ``delivery_failed`` item, which is not published again (the
    hook raises it with publishing off), so a dead service desk cannot feed a loop.
    """
    subscriptions = QueueSubscription.objects.filter(
        queue=item.queue, is_active=True, system__is_active=True
    ).select_related("system")
    return publish_to_subscribers(
        (subscription.system for subscription in subscriptions),
        payload=item_event_payload(item=item, event=event),
        idempotency_key=lambda system: f"{PUBLISH_KEY_PREFIX}{item.pk}:{event}:{system.pk}",
        object_key=f"exception:{item.pk}",
    )


def is_own_publish(idempotency_key: str) -> bool:
    return idempotency_key.startswith(PUBLISH_KEY_PREFIX)


def send_exception_digests(*, now: datetime | None = None) -> int:
    """Email each queue's group the items first seen in the last 24 h and the open overdue
    ones; a queue with neither sends nothing. Returns emails sent. Re-running sends again
    (a digest is a report, not a state change)."""
    from exceptions_queue.selectors import list_digest_items

    now = now or timezone.now()
    sent = 0
    for queue in Queue:
        items = list_digest_items(queue=queue.value, now=now)
        if not items["new"] and not items["overdue"]:
            continue
        recipients = sorted(
            set(
                get_user_model()
                .objects.filter(groups__name=queue.value, is_active=True)
                .exclude(email="")
                .values_list("email", flat=True)
            )
        )
        if not recipients:
            continue
        context = {"queue": queue, "now": now, **items}
        send_mail(
            subject=f"[Throughline] {queue.label} queue: {len(items['new'])} new, "
            f"{len(items['overdue'])} overdue",
            message=render_to_string("exceptions_queue/email/digest.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
        sent += 1
        logger.info("exceptions.digest_sent", extra={"queue": queue.value, "to": len(recipients)})
    return sent
