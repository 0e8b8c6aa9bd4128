"""Writes of the exception queues: raise, release, resolve, assign, comment, dismiss.

Raising is called by workflows and runtime hooks inside their own transaction, so an item
exists if and only if the work that found the problem committed.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from config.errors import DomainError
from config.roles import has_role
from exceptions_queue import notifications
from exceptions_queue.exceptions import (
    ActionInputInvalid,
    ActionNotAllowed,
    ExceptionItemClosed,
    ExceptionItemNotFound,
    OutsideTransaction,
    UnknownAction,
    UnknownExceptionType,
)
from exceptions_queue.models import ExceptionComment, ExceptionItem, ExceptionMember
from exceptions_queue.registry import ExceptionType, exception_types
from exceptions_queue.selectors import can_see_queue, get_exception_item
from integrations.services.traces import get_trace_id, record_trace_step

logger = logging.getLogger(__name__)
AUTO = "auto"  # resolution_action of items resolved because their cause went away
DISMISS = "dismiss"  # built-in action on every type: close without fixing, with a reason


def _type(type_code: str) -> ExceptionType:
    exception_type = exception_types.get(type_code)
    if exception_type is None:
        raise UnknownExceptionType(f"no exception type {type_code!r} is registered", type=type_code)
    return exception_type


def _lock_open_item(type_code: str, subject_key: str) -> ExceptionItem | None:
    return (
        ExceptionItem.objects.select_for_update()
        .filter(
            type_code=type_code, subject_key=subject_key, status__in=ExceptionItem.OPEN_STATUSES
        )
        .first()
    )


def _note(item: ExceptionItem, text: str, *, kind=ExceptionComment.Kind.SYSTEM, author=None):
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
) -> ExceptionItem:
    """Open an item for a problem, or add to the open item of the same (type, subject key).

    With ``member_key`` the item holds a set of members (re-raising one updates it) and its
    count, amount and hours are those of its members; without, each raise counts one
    occurrence and adds its amount. Must run inside the caller's transaction (raises
    OutsideTransaction otherwise); raises UnknownExceptionType for an unregistered code.
    Idempotent per member; safe against concurrent raises of the same problem.
    """
    return _raise(
        type_code=type_code,
        subject_key=subject_key,
        subject_ref=subject_ref,
        subject=subject,
        trace_id=trace_id,
        summary=summary,
        details=details,
        member_key=member_key,
        amount=amount,
        currency=currency,
        hours=hours,
        publish=True,
    )


def _raise(
    *,
    type_code,
    subject_key,
    subject_ref,
    subject,
    trace_id,
    summary,
    details,
    member_key,
    amount,
    currency,
    hours,
    publish: bool,
) -> ExceptionItem:
    exception_type = _type(type_code)
    if not transaction.get_connection().in_atomic_block:
        raise OutsideTransaction("raise_exception_item must run inside the caller's transaction")
    trace_id = trace_id or get_trace_id()
    now = timezone.now()
    item, created = _lock_open_item(type_code, subject_key), False
    if item is None:
        item = ExceptionItem(
            type_code=type_code,
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
            created = True
        except IntegrityError:
            # Another transaction opened the same item between our read and insert; the unique
            # index made us wait for its commit, so the row is there to lock now.
            item = _lock_open_item(type_code, subject_key)
            if item is None:
                raise
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
            item.amount_at_risk = (item.amount_at_risk or Decimal("0.00")) + amount
        if hours is not None:
            item.hours = (item.hours or Decimal("0.00")) + hours
    item.currency = currency or item.currency
    item.full_clean(validate_constraints=False)
    item.save()
    record_trace_step(
        kind="exception",
        action="raised" if created else "raised_again",
        summary=f"{exception_type.title}: {item.subject_ref}"[:300],
        subject=item,
        detail={"type": type_code, "queue": item.queue, "count": item.occurrence_count},
        trace_id=trace_id or None,
    )
    logger.info(
        "exception.raised",
        extra={"item_id": item.pk, "type": type_code, "is_new": created},
    )
    if created and publish:
        notifications.publish_item_event(item=item, event="exception.raised")
    return item


def _upsert_member(item, member_key, amount, currency, hours, description, trace_id, now):
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


def _recount_members(item: ExceptionItem) -> None:
    # Summed in Python Decimal: SQLite returns SUM() of decimals as a float (1.00 + 0.10 would
    # come back as 1.1000000000000001 and fail the field's validation). An item holds a handful
    # of members, so this costs nothing.
    held = list(item.members.filter(released_at__isnull=True).values_list("amount", "hours"))
    amounts = [amount for amount, _hours in held if amount is not None]
    hours = [h for _amount, h in held if h is not None]
    item.occurrence_count = len(held)
    item.amount_at_risk = sum(amounts, Decimal("0")) if amounts else None
    item.hours = sum(hours, Decimal("0")) if hours else None


def _close(item, *, status, action, outcome, user, note_kind=ExceptionComment.Kind.ACTION):
    item.status, item.resolution_action, item.resolution_outcome = status, action, outcome
    item.resolved_by, item.resolved_at = user, timezone.now()
    item.save()
    _note(
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
    item = _lock_open_item(type_code, subject_key)
    if item is None:
        return None
    released = item.members.filter(member_key=member_key, released_at__isnull=True).update(
        released_at=timezone.now()
    )
    if not released:
        return item
    _recount_members(item)
    _note(item, f"{member_key} left the item: {note}")
    if item.occurrence_count == 0:
        _close(
            item,
            status=ExceptionItem.Status.RESOLVED,
            action=AUTO,
            outcome=note,
            user=None,
            note_kind=ExceptionComment.Kind.SYSTEM,
        )
    else:
        item.save()
    return item


@transaction.atomic
def resolve_items_automatically(*, type_code: str, subject_key: str, note: str) -> int:
    """The cause went away (a phase reopened, a rate was added, the message was delivered):
    resolve the open item of (type, subject key) with ``note``. Returns how many (0 or 1)."""
    item = _lock_open_item(type_code, subject_key)
    if item is None:
        return 0
    _close(
        item,
        status=ExceptionItem.Status.RESOLVED,
        action=AUTO,
        outcome=note,
        user=None,
        note_kind=ExceptionComment.Kind.SYSTEM,
    )
    return 1


def _lock_for_user(*, item_id: int, user) -> ExceptionItem:
    get_exception_item(user=user, item_id=item_id)  # 404 outside the user's queues
    item = ExceptionItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise ExceptionItemNotFound(f"no exception item #{item_id}", id=item_id)
    return item


def _require_open(item: ExceptionItem) -> None:
    if not item.is_open:
        raise ExceptionItemClosed(
            f"item #{item.pk} is already {item.status}", id=item.pk, status=item.status
        )


@transaction.atomic
def resolve_exception_item(
    *, item_id: int, action: str, user, data: dict | None = None
) -> ExceptionItem:
    """Take one of the item's type's actions (or the built-in ``dismiss``) as ``user``.

    Checks the user's queue and the action's roles (ActionNotAllowed), validates ``data``
    with the action's form (ActionInputInvalid), runs the handler and records its outcome.
    An action with ``resolves=False`` is recorded and leaves the item open. Raises
    ExceptionItemNotFound, ExceptionItemClosed, UnknownAction; a handler may raise
    ActionRefused, which rolls the whole attempt back.
    """
    item = _lock_for_user(item_id=item_id, user=user)
    if action == DISMISS and not _type(item.type_code).action(DISMISS):
        return _dismiss_locked(item, user=user, reason=str((data or {}).get("reason", "")))
    _require_open(item)
    resolution = _type(item.type_code).action(action)
    if resolution is None:
        raise UnknownAction(f"{item.type_code} has no action {action!r}", action=action)
    if resolution.roles and not has_role(user, *resolution.roles):
        raise ActionNotAllowed(
            f"{resolution.label} needs one of the roles: {', '.join(resolution.roles)}"
        )
    cleaned = dict(data or {})
    if resolution.form_class is not None:
        form = resolution.form_class(data=cleaned)
        if not form.is_valid():
            raise ActionInputInvalid(
                "the action's input is invalid", errors=form.errors.get_json_data()
            )
        cleaned = form.cleaned_data
    outcome = str(resolution.handler(item, user=user, data=cleaned) or resolution.label)[:2000]
    if resolution.resolves:
        _close(
            item, status=ExceptionItem.Status.RESOLVED, action=action, outcome=outcome, user=user
        )
    else:
        item.resolution_action, item.resolution_outcome = action, outcome
        item.save(update_fields=["resolution_action", "resolution_outcome", "updated_at"])
        _note(
            item, f"{resolution.label}: {outcome}", kind=ExceptionComment.Kind.ACTION, author=user
        )
    logger.info("exception.action", extra={"item_id": item.pk, "action": action})
    return item


@transaction.atomic
def assign_exception_item(*, item_id: int, assignee, by) -> ExceptionItem:
    """Give an open item to ``assignee`` (None: back to the queue). ``by`` must see the queue;
    the assignee must work the queue too (ActionNotAllowed otherwise)."""
    item = _lock_for_user(item_id=item_id, user=by)
    _require_open(item)
    if assignee is not None and not can_see_queue(user=assignee, queue=item.queue):
        raise ActionNotAllowed(f"{assignee} does not work the {item.queue} queue")
    item.assignee = assignee
    item.status = ExceptionItem.Status.ASSIGNED if assignee else ExceptionItem.Status.OPEN
    item.save(update_fields=["assignee", "status", "updated_at"])
    if assignee is None:
        text = "Unassigned"
    elif assignee == by:
        text = "Claimed"
    else:
        text = f"Assigned to {assignee.get_username()}"
    _note(item, text, kind=ExceptionComment.Kind.ACTION, author=by)
    return item


@transaction.atomic
def comment_on_exception_item(*, item_id: int, user, text: str) -> ExceptionComment:
    """Add a comment (any status: people explain afterwards too). Raises ActionInputInvalid
    for an empty text."""
    item = _lock_for_user(item_id=item_id, user=user)
    if not text.strip():
        raise ActionInputInvalid("a comment needs some text", errors={"text": ["Required."]})
    return _note(item, text.strip(), kind=ExceptionComment.Kind.COMMENT, author=user)


@transaction.atomic
def dismiss_exception_item(*, item_id: int, user, reason: str) -> ExceptionItem:
    """Close an item without fixing it; the reason is required and recorded."""
    return _dismiss_locked(_lock_for_user(item_id=item_id, user=user), user=user, reason=reason)


def _dismiss_locked(item: ExceptionItem, *, user, reason: str) -> ExceptionItem:
    _require_open(item)
    if not reason.strip():
        raise ActionInputInvalid("dismissing needs a reason", errors={"reason": ["Required."]})
    _close(
        item,
        status=ExceptionItem.Status.DISMISSED,
        action=DISMISS,
        outcome=reason.strip(),
        user=user,
    )
    return item


def apply_bulk_operation(
    *, user, item_ids: list[int], operation: str, reason: str = ""
) -> tuple[int, list[str]]:
    """Apply one operation to many items, each in its own transaction, so one refusal does
    not undo the others. ``operation``: ``claim``, ``unassign``, ``dismiss`` (needs
    ``reason``) or ``action:<name>``. Returns (items done, one message per refusal)."""
    done, errors = 0, []
    for item_id in sorted(set(item_ids)):
        try:
            if operation == "claim":
                assign_exception_item(item_id=item_id, assignee=user, by=user)
            elif operation == "unassign":
                assign_exception_item(item_id=item_id, assignee=None, by=user)
            elif operation == DISMISS:
                dismiss_exception_item(item_id=item_id, user=user, reason=reason)
            elif operation.startswith("action:"):
                resolve_exception_item(item_id=item_id, action=operation[7:], user=user, data={})
            else:
                raise UnknownAction(f"no bulk operation {operation!r}", operation=operation)
        except DomainError as exc:
            errors.append(f"#{item_id}: {exc.message}")
        else:
            done += 1
    return done, errors
