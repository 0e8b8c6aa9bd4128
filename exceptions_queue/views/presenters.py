"""Prepared context for the queue pages: templates only read what is built here."""

import json

from django.contrib.contenttypes.models import ContentType
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from config.roles import has_role
from exceptions_queue import selectors
from exceptions_queue.forms import AssignForm, CommentForm, DismissForm
from exceptions_queue.models import ExceptionItem, Queue
from exceptions_queue.registry import exception_types
from exceptions_queue.services.actions import form_context
from integrations.selectors import visible_trace_steps

COLUMNS = [  # (sort key, label, css class)
    ("severity", "Severity", ""),
    ("subject", "Problem", ""),
    ("count", "Count", "num"),
    ("amount", "At risk", "num"),
    ("age", "Age", ""),
    ("due", "Due", ""),
    ("status", "Status", ""),
]
DETAIL_SPECIAL_KEYS = ("payload", "differences", "errors", "raw_body", "record", "record_url")


def _querystring(params, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()


def list_context(*, request, queue: str, filterset, page, sort: str) -> dict:
    params = request.GET.copy()
    params.pop("page", None)
    columns = []
    for key, label, css in COLUMNS:
        active = sort.lstrip("-") == key
        next_sort = key if (not active or sort.startswith("-")) else f"-{key}"
        columns.append(
            {
                "label": label,
                "css": css,
                "active": active,
                "descending": active and sort.startswith("-"),
                "query": _querystring(params, sort=next_sort),
            }
        )
    types = selectors.list_types_of_queue(queue=queue)
    now = timezone.now()
    rows = [
        {
            "item": item,
            "type": exception_types.get(item.type_code),
            "overdue": item.is_open and item.due_at < now,
        }
        for item in page.object_list
    ]
    counts = selectors.count_open_items_by_queue(user=request.user)
    return {
        "queue": queue,
        "queue_label": Queue(queue).label,
        "queue_tabs": [
            {"key": q.value, "label": q.label, **counts[q.value]}
            for q in Queue
            if q.value in counts
        ],
        "form": filterset.form,
        "filters_active": any(
            k in request.GET for k in ("type", "q", "assignee", "age", "min_amount")
        ),
        "types": types,
        "people": selectors.list_assignable_users(queue=queue),
        "page": page,
        "rows": rows,
        "columns": columns,
        "sort": sort,
        "page_query": _querystring(params, sort=sort),
        "bulk_actions": [
            {"value": f"action:{action.name}", "label": f"{action.label} ({t.title})"}
            for t in types
            for action in t.actions
            if action.form_class is None
        ],
        "full_path": request.get_full_path(),
    }


def _subject_link(item: ExceptionItem) -> str:
    if not item.content_type_id:
        return ""
    content_type = ContentType.objects.get_for_id(item.content_type_id)
    try:
        return reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[item.object_id]
        )
    except NoReverseMatch:
        return ""


def _fact_text(value) -> str:
    """A detail's value as a person reads it: mappings as "name: value" pairs, lists joined,
    yes/no for booleans; never a Python or JSON structure."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(
            f"{str(key).replace('_', ' ')}: {_fact_text(item)}" for key, item in value.items()
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(_fact_text(item) for item in value)
    return str(value)


def _explain_details(details: dict) -> dict:
    """Split an item's details into what the page shows specially and plain facts.

    Convention for raisers: ``differences`` is a list of {"field", "ours", "theirs"} (or a
    mapping field → {"ours", "theirs"}); ``payload`` is the data involved; ``errors`` maps a
    field to its messages; any other key is shown as a fact.
    """
    differences = details.get("differences") or []
    if isinstance(differences, dict):
        differences = [{"field": field, **values} for field, values in differences.items()]
    errors = details.get("errors") or {}
    return {
        "differences": differences,
        "errors": [
            {"field": field, "messages": messages if isinstance(messages, list) else [messages]}
            for field, messages in (errors.items() if isinstance(errors, dict) else [])
        ],
        "payload": json.dumps(details["payload"], indent=2, sort_keys=True, default=str)
        if "payload" in details
        else details.get("raw_body", ""),
        "facts": [
            (key.replace("_", " "), _fact_text(value))
            for key, value in details.items()
            if key not in DETAIL_SPECIAL_KEYS and value not in ("", None, {}, [])
        ],
    }


def _timeline(request, trace_id: str) -> list[dict]:
    """The item's trace, as much of it as the viewer may see (config/policy.py)."""
    if not trace_id:
        return []
    steps = visible_trace_steps(request, trace_id=trace_id)
    started = steps[0].at if steps else None
    return [
        {"step": step, "offset_ms": int((step.at - started).total_seconds() * 1000)}
        for step in steps
    ]


def detail_context(*, request, item: ExceptionItem) -> dict:
    exception_type = exception_types.get(item.type_code)
    actions = []
    for action in exception_type.actions if exception_type else ():
        actions.append(
            {
                "action": action,
                "allowed": not action.roles or has_role(request.user, *action.roles),
                "form": action.form_class(
                    auto_id=f"id_{action.name}_%s", **form_context(action, item)
                )
                if action.form_class
                else None,
            }
        )
    return {
        "item": item,
        "type": exception_type,
        "queue_label": Queue(item.queue).label,
        "overdue": item.is_overdue,
        "subject_link": _subject_link(item),
        "details": _explain_details(item.details or {}),
        "timeline": _timeline(request, item.trace_id),
        "members": list(selectors.list_item_members(item=item)),
        "activity": list(selectors.list_item_activity(item=item)),
        "actions": actions,
        "assign_form": AssignForm(queue=item.queue, initial={"assignee": item.assignee_id}),
        "comment_form": CommentForm(),
        "dismiss_form": DismissForm(),
        "is_mine": item.assignee_id == request.user.pk,
        "resolution": _resolution_words(item, exception_type),
    }


def _resolution_words(item: ExceptionItem, exception_type) -> dict | None:
    """Who closed it, in words: the person; or, when it closed because its cause went away
    (a delivery after a replay, a re-run after a fix), the person whose action led there."""
    if item.is_open:
        return None
    action = exception_type.action(item.resolution_action) if exception_type else None
    label = action.label if action else ""
    if item.resolved_by_id:
        return {"by": item.resolved_by, "label": label or item.get_status_display()}
    last = (
        item.comments.filter(kind="action", author__isnull=False)
        .select_related("author")
        .order_by("-created_at", "-pk")
        .first()
    )
    return {"by": None, "after": last, "label": label}
