"""Reads of the exception queues. Permission scoping lives here, once, for pages and API."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from config.roles import ADMIN, MaybeUser, User, user_roles
from exceptions_queue.errors import ExceptionItemNotFound
from exceptions_queue.models import ExceptionComment, ExceptionItem, ExceptionMember, Queue
from exceptions_queue.registry import ExceptionType, exception_types

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


def list_visible_queues(*, user: MaybeUser) -> list[str]:
    """The queues a user works: the queue's group (finance, pmo, operations); admin all."""
    roles = user_roles(user)
    if ADMIN in roles:
        return list(Queue.values)
    return [queue for queue in Queue.values if queue in roles]


def can_see_queue(*, user: MaybeUser, queue: str) -> bool:
    return queue in list_visible_queues(user=user)


def visible_exception_items(*, user: MaybeUser) -> QuerySet[ExceptionItem]:
    """Every item of the user's queues, and nothing else: the base of every list and lookup."""
    return ExceptionItem.objects.filter(queue__in=list_visible_queues(user=user))


def list_exception_items(*, user: MaybeUser) -> QuerySet[ExceptionItem]:
    """Items for lists (pages, API): joins decided, severity rank annotated, stable order."""
    return (
        visible_exception_items(user=user)
        .select_related("assignee", "resolved_by")
        .annotate(severity_rank=_severity_rank())
        .order_by("-severity_rank", "due_at", "id")
    )


def _severity_rank() -> Case:
    return Case(
        *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def get_exception_item(*, user: MaybeUser, item_id: int) -> ExceptionItem:
    """One item the user may see; ExceptionItemNotFound (404) otherwise."""
    item = (
        visible_exception_items(user=user)
        .select_related("assignee", "resolved_by", "content_type")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise ExceptionItemNotFound(f"no exception item #{item_id} in your queues", id=item_id)
    return item


def open_item_about(subject: models.Model) -> ExceptionItem | None:
    """The open item whose subject is ``subject`` (e.g. the dead outbox message of an invoice's
    posting), for a link from the business record to its problem; None when there is none."""
    return (
        ExceptionItem.objects.filter(
            content_type=ContentType.objects.get_for_model(subject),
            object_id=str(subject.pk),
            status__in=ExceptionItem.OPEN_STATUSES,
        )
        .order_by("-last_seen_at")
        .first()
    )


def list_item_members(*, item: ExceptionItem) -> QuerySet[ExceptionMember]:
    return item.members.order_by("released_at", "added_at", "id")


def list_item_activity(*, item: ExceptionItem) -> QuerySet[ExceptionComment]:
    return item.comments.select_related("author").order_by("created_at", "id")


def count_open_items_by_queue(*, user: MaybeUser) -> dict[str, dict[str, int]]:
    """{queue: {"open": n, "overdue": n, "unassigned": n}} for the user's queues, in one query.

    Cached on the user object for the request: the navigation asks once per queue.
    """
    cached = getattr(user, "_exception_counts", None)
    if cached is not None:
        return cached
    now = timezone.now()
    rows = (
        visible_exception_items(user=user)
        .filter(status__in=ExceptionItem.OPEN_STATUSES)
        .values("queue")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            unassigned=Count("id", filter=Q(assignee__isnull=True)),
        )
    )
    counts = {q: {"open": 0, "overdue": 0, "unassigned": 0} for q in list_visible_queues(user=user)}
    for row in rows:
        counts[row["queue"]] = {key: row[key] for key in ("open", "overdue", "unassigned")}
    setattr(user, "_exception_counts", counts)  # noqa: B010 a per-request cache
    return counts


def list_assignable_users(*, queue: str) -> QuerySet[User]:
    """People who may be given an item of ``queue``: the queue's group and admins."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=queue) | Q(groups__name=ADMIN) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )


def list_types_of_queue(*, queue: str) -> list[ExceptionType]:
    return sorted((t for t in exception_types.values() if t.queue == queue), key=lambda t: t.title)


def list_digest_items(*, queue: str, now: datetime | None = None) -> dict[str, list[ExceptionItem]]:
    """What a queue's daily digest tells: items first seen in the last 24 h, and open overdue."""
    now = now or timezone.now()
    base = ExceptionItem.objects.filter(queue=queue).order_by("due_at", "id")
    return {
        "new": list(base.filter(first_seen_at__gte=now - timedelta(hours=24))),
        "overdue": list(base.filter(status__in=ExceptionItem.OPEN_STATUSES, due_at__lt=now)),
    }
