"""Raising and releasing exception items: open or add to an item, take a member off it,
resolve it when its cause goes away, and close it (shared with the actions).

Raising is called by workflows and runtime hooks inside their own transaction, so an item
exists if and only if the work that found the problem committed.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from config.money import Money, sum_by_currency
from config.roles import User
from exceptions_queue.errors import OutsideTransaction, UnknownExceptionType
from exceptions_queue.models import ExceptionComment, ExceptionItem, ExceptionMember
from exceptions_queue.registry import ExceptionType, exception_types
from exceptions_queue.services import notifications
from integrations.services.traces import get_trace_id, record_trace_step

logger = logging.getLogger(__name__)
AUTO = "auto"  # resolution_action of items resolved because their cause went away
DISMISS = "dismiss"  # built-in action on every type: close without fixing, with a reason


def exception_type_of(type_code: str) -> ExceptionType:
    exception_type = exception_types.get(type_code)
    if exception_type is None:
        raise UnknownExceptionType(f"no exception type {type_code!r} is registered", type=type_code)
    return exception_type


def lock_open_item(type_code: str, subject_key: str) -> ExceptionItem | None:
    return (
        ExceptionItem.objects.select_for_update()
        .filter(
            type_code=type_code, subject_key=subject_key, status__in=ExceptionItem.OPEN_STATUSES
        )
        .first()
    )


def add_note(
    item: ExceptionItem,
    text: str,
    *,
    kind: str = ExceptionComment.Kind.SYSTEM,
    author: User | None = None,
) -> ExceptionComment:
    return ExceptionComment.objects.create(item=item, author=author, kind=kind, text=text[:4000])


def raise_exception_item(
    *,
    type_code: str,
    subject_key: str,
    subject_ref: str,
    subject: models.Model | None = None,
    trace_id: str = "",
    summary: str = "",
    details: dict | None = None,
    member_key: str = "",
    amount: Decimal | None = None,
    currency: str = "",
    hours: Decimal | None = None,
    publish: bool = True,
) -> ExceptionItem:
    """Open an item for a problem, or add to the open item of the same (type, subject key).

    With ``member_key`` the item holds a set of members (re-raising one updates it) and its
    count, amount and hours are those of its members; without, each raise counts one
    occurrence and adds its amount. ``publish=False`` keeps a new item off the subscribers'
    outbox (the runtime's own dead letters of that outbox). Must run inside the caller's
    transaction (raises OutsideTransaction otherwise); raises UnknownExceptionType for an
    unregistered code. Idempotent per member; safe against concurrent raises of the same problem.
    """
    exception_type = exception_type_of(type_code)
    if not transaction.get_connection().in_atomic_block:
        raise OutsideTransaction("raise_exception_item must run inside the caller's transaction")
    trace_id = trace_id or get_trace_id()
    now = timezone.now()
    item, created = _open_item(exception_type, subject_key, subject_ref, subject, trace_id, now)
    item.last_seen_at = now
    item.subject_ref = subject_ref[:200] or item.subject_ref
    item.summary = (summary or item.summary)[:500]
    if details is not None:
        item.details = details
    if not item.trace_id:
        item.trace_id = trace_id
    if member_key:
        _upsert_member(item, member_key, amount, currency, hours, summary, trace_id, now)
        _recount_members(item)
    else:
        item.occurrence_count += 1
        if amount is not None:
            _set_at_risk(item, [*_held_amounts(item), Money(amount, currency)])
        if hours is not None:
            item.hours = (item.hours or Decimal("0.00")) + hours
    item.full_clean(validate_constraints=False)
    item.save()
    _record_raise(item, exception_type, created=created, trace_id=trace_id)
    if created and publish:
        notifications.publish_item_event(item=item, event="exception.raised")
    return item


def _open_item(
    exception_type: ExceptionType,
    subject_key: str,
    subject_ref: str,
    subject: models.Model | None,
    trace_id: str,
    now: datetime,
) -> tuple[ExceptionItem, bool]:
    """The open item of (type, subject key), locked, or a new one; (item, created)."""
    item = lock_open_item(exception_type.code, subject_key)
    if item is not None:
        return item, False
    item = ExceptionItem(
        type_code=exception_type.code,
        queue=exception_type.queue,
        severity=exception_type.severity,
        subject_key=subject_key[:200],
        subject_ref=subject_ref[:200],
        trace_id=trace_id,
        first_seen_at=now,
        due_at=now + timedelta(hours=exception_type.sla_hours),
        occurrence_count=0,
    )
    if subject is not None:
        item.content_type = ContentType.objects.get_for_model(subject)
        item.object_id = str(subject.pk)
    try:
        with transaction.atomic():  # a savepoint, so a lost race leaves the caller usable
            item.save()
    except IntegrityError:
        # Another transaction opened the same item between our read and insert; the unique
        # index made us wait for its commit, so the row is there to lock now.
        item = lock_open_item(exception_type.code, subject_key)
        if item is None:
            raise
        return item, False
    return item, True


def _record_raise(
    item: ExceptionItem, exception_type: ExceptionType, *, created: bool, trace_id: str
) -> None:
    record_trace_step(
        kind="exception",
        action="raised" if created else "raised_again",
        summary=f"{exception_type.title}: {item.subject_ref}"[:300],
        subject=item,
        detail={"type": item.type_code, "queue": item.queue, "count": item.occurrence_count},
        trace_id=trace_id or None,
    )
    logger.info(
        "exception.raised",
        extra={"item_id": item.pk, "type": item.type_code, "is_new": created},
    )


def _upsert_member(
    item: ExceptionItem,
    member_key: str,
    amount: Decimal | None,
    currency: str,
    hours: Decimal | None,
    description: str,
    trace_id: str,
    now: datetime,
) -> None:
    member, created = ExceptionMember.objects.get_or_create(
        item=item,
        member_key=member_key[:200],
        defaults={
            "amount": amount,
            "currency": currency,
            "hours": hours,
            "description": description[:500],
            "trace_id": trace_id,
            "added_at": now,
        },
    )
    if not created:
        member.amount, member.currency, member.hours = amount, currency, hours
        member.description, member.released_at = description[:500], None
        member.trace_id = trace_id or member.trace_id
        member.save()


def _held_amounts(item: ExceptionItem) -> list[Money]:
    """What an item without members holds so far, per currency."""
    return [Money(Decimal(m["amount"]), m["currency"]) for m in item.amounts_at_risk or []] or (
        [Money(item.amount_at_risk, item.currency)] if item.amount_at_risk is not None else []
    )


def _set_at_risk(item: ExceptionItem, amounts: list[Money]) -> None:
    """Amounts at risk summed per currency, never across: ``amounts_at_risk`` lists each
    currency; ``amount_at_risk``/``currency`` are the total when there is one currency, and
    empty when there are several (no single figure exists without FX)."""
    totals = sum_by_currency(amounts)
    item.amounts_at_risk = [totals[c].as_json() for c in sorted(totals)]
    if len(totals) == 1:
        (only,) = totals.values()
        item.amount_at_risk, item.currency = only.rounded().amount, only.currency
    else:
        item.amount_at_risk, item.currency = None, ""


def _recount_members(item: ExceptionItem) -> None:
    # Summed in Python Decimal: SQLite returns SUM() of decimals as a float (1.00 + 0.10 would
    # come back as 1.1000000000000001 and fail the field's validation). An item holds a handful
    # of members, so this costs nothing.
    held = list(
        item.members.filter(released_at__isnull=True).values_list("amount", "currency", "hours")
    )
    hours = [h for _amount, _currency, h in held if h is not None]
    item.occurrence_count = len(held)
    _set_at_risk(item, [Money(a, c) for a, c, _h in held if a is not None])
    item.hours = sum(hours, Decimal("0")) if hours else None


def close_item(
    item: ExceptionItem,
    *,
    status: ExceptionItem.Status,
    action: str,
    outcome: str,
    user: User | None,
    note_kind: str = ExceptionComment.Kind.ACTION,
) -> None:
    item.status, item.resolution_action, item.resolution_outcome = status, action, outcome
    item.resolved_by, item.resolved_at = user, timezone.now()
    item.save()
    add_note(
        item, f"{status.label}: {outcome}" if outcome else status.label, kind=note_kind, author=user
    )
    record_trace_step(
        kind="exception",
        action=status.value,
        summary=f"#{item.pk} {item.type_code} {status.value}: {outcome}"[:300],
        subject=item,
        trace_id=item.trace_id or None,
    )
    notifications.publish_item_event(item=item, event=f"exception.{status.value}")


@transaction.atomic
def release_member(
    *, type_code: str, subject_key: str, member_key: str, note: str
) -> ExceptionItem | None:
    """Take a held entry (retracted, corrected) off the open item; an item left with no
    members resolves itself with ``note``. Returns the item, or None when nothing held it.
    Idempotent."""
    item = lock_open_item(type_code, subject_key)
    if item is None:
        return None
    released = item.members.filter(member_key=member_key, released_at__isnull=True).update(
        released_at=timezone.now()
    )
    if not released:
        return item
    _recount_members(item)
    add_note(item, f"{member_key} left the item: {note}")
    if item.occurrence_count == 0:
        _resolve_by_itself(item, note)
    else:
        item.save()
    return item


@transaction.atomic
def resolve_items_automatically(*, type_code: str, subject_key: str, note: str) -> int:
    """The cause went away (a phase reopened, a rate was added, the message was delivered):
    resolve the open item of (type, subject key) with ``note``. Returns how many (0 or 1)."""
    item = lock_open_item(type_code, subject_key)
    if item is None:
        return 0
    _resolve_by_itself(item, note)
    return 1


def _resolve_by_itself(item: ExceptionItem, note: str) -> None:
    """Resolved because its cause went away: no person, a system note."""
    close_item(
        item,
        status=ExceptionItem.Status.RESOLVED,
        action=AUTO,
        outcome=note,
        user=None,
        note_kind=ExceptionComment.Kind.SYSTEM,
    )
