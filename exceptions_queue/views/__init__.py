"""Queue pages: a list per queue, an item page, and the actions people take on items."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.errors import DomainError
from config.exports import export_response, requested_format
from exceptions_queue import selectors, services
from exceptions_queue.errors import ExceptionItemNotFound
from exceptions_queue.filters import ExceptionItemFilter
from exceptions_queue.forms import AssignForm, BulkForm, CommentForm, DismissForm
from exceptions_queue.models import Queue
from exceptions_queue.views import presenters
from exceptions_queue.views.exports import ITEM_COLUMNS

PAGE_SIZE = 25
SORTS = {  # ?sort= key → order_by; "-key" reverses. "id" last keeps pages stable.
    "severity": ("-severity_rank", "due_at"),
    "subject": ("subject_ref",),
    "type": ("type_code",),
    "count": ("-occurrence_count",),
    "amount": ("-amount_at_risk", "-hours"),
    "age": ("first_seen_at",),
    "due": ("due_at",),
    "status": ("status", "due_at"),
}


def queue_badge(queue: str):
    """The navigation badge of a queue: its open items, for users who work it."""

    def badge(user) -> int | None:
        counts = selectors.count_open_items_by_queue(user=user)
        return (counts.get(queue) or {}).get("open") or None

    return badge


def home_panel_counts(*, user) -> dict:
    counts = selectors.count_open_items_by_queue(user=user)
    return {
        "queues": [
            {"key": q.value, "label": q.label, **counts[q.value]}
            for q in Queue
            if q.value in counts
        ]
    }


@login_required
def queue_index(request: HttpRequest) -> HttpResponse:
    queues = selectors.list_visible_queues(user=request.user)
    if not queues:
        raise PermissionDenied("you work no exception queue")
    return redirect("exceptions_queue:item_list", queue=queues[0])


def _order(request: HttpRequest) -> tuple[str, tuple[str, ...]]:
    sort = request.GET.get("sort", "severity")
    key, descending = sort.lstrip("-"), sort.startswith("-")
    fields = SORTS.get(key, SORTS["severity"])
    if descending:
        fields = tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)
    return (sort if key in SORTS else "severity"), (*fields, "id")


@login_required
def item_list(request: HttpRequest, queue: str) -> HttpResponse:
    if queue not in Queue.values or not selectors.can_see_queue(user=request.user, queue=queue):
        raise PermissionDenied(f"you do not work the {queue} queue")
    params = request.GET.copy()
    params.setdefault("status", "active")
    base = selectors.list_exception_items(user=request.user).filter(queue=queue)
    filterset = ExceptionItemFilter(params, queryset=base, request=request)
    sort, ordering = _order(request)
    if fmt := requested_format(request):
        rows = filterset.qs.order_by(*ordering)
        return export_response(fmt, name=f"{queue}-queue", columns=ITEM_COLUMNS, rows=rows)
    page = Paginator(filterset.qs.order_by(*ordering), PAGE_SIZE).get_page(request.GET.get("page"))
    context = presenters.list_context(
        request=request, queue=queue, filterset=filterset, page=page, sort=sort
    )
    template = "exceptions_queue/item_list.html"
    return render(request, f"{template}#item-table" if request.htmx else template, context)


def _item_or_404(request: HttpRequest, item_id: int):
    try:
        return selectors.get_exception_item(user=request.user, item_id=item_id)
    except ExceptionItemNotFound as exc:
        raise Http404(str(exc)) from exc


@login_required
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(request, item_id)
    context = presenters.detail_context(request=request, item=item)
    return render(request, "exceptions_queue/item_detail.html", context)


def _run(request: HttpRequest, item_id: int, call, success: str) -> HttpResponse:
    """Run one service for a page action; a DomainError becomes a message, not a 500."""
    _item_or_404(request, item_id)
    try:
        outcome = call()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, outcome or success)
    target = request.POST.get("next") or reverse("exceptions_queue:item_detail", args=[item_id])
    if not target.startswith("/"):
        target = reverse("exceptions_queue:item_detail", args=[item_id])
    return redirect(target)


@login_required
@require_POST
def item_claim(request: HttpRequest, item_id: int) -> HttpResponse:
    def claim():
        services.assign_exception_item(item_id=item_id, assignee=request.user, by=request.user)

    return _run(request, item_id, claim, f"#{item_id} is yours.")


@login_required
@require_POST
def item_assign(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item_or_404(request, item_id)
    form = AssignForm(request.POST, queue=item.queue)
    if not form.is_valid():
        messages.error(request, "Pick someone who works this queue.")
        return redirect("exceptions_queue:item_detail", item_id=item_id)
    assignee = form.cleaned_data["assignee"]

    def assign():
        services.assign_exception_item(item_id=item_id, assignee=assignee, by=request.user)

    return _run(request, item_id, assign, f"#{item_id} assigned to {assignee or 'the queue'}.")


@login_required
@require_POST
def item_comment(request: HttpRequest, item_id: int) -> HttpResponse:
    form = CommentForm(request.POST)
    text = form.data.get("text", "")

    def comment():
        services.comment_on_exception_item(item_id=item_id, user=request.user, text=text)

    return _run(request, item_id, comment, "Comment added.")


@login_required
@require_POST
def item_dismiss(request: HttpRequest, item_id: int) -> HttpResponse:
    reason = DismissForm(request.POST).data.get("reason", "")

    def dismiss():
        services.dismiss_exception_item(item_id=item_id, user=request.user, reason=reason)

    return _run(request, item_id, dismiss, f"#{item_id} dismissed.")


@login_required
@require_POST
def item_resolve(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    data = {k: v for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "next")}

    def resolve():
        item = services.resolve_exception_item(
            item_id=item_id, action=action, user=request.user, data=data
        )
        return item.resolution_outcome

    return _run(request, item_id, resolve, f"{action.replace('_', ' ').capitalize()}: done.")


@login_required
@require_POST
def item_bulk(request: HttpRequest, queue: str) -> HttpResponse:
    if not selectors.can_see_queue(user=request.user, queue=queue):
        raise PermissionDenied(f"you do not work the {queue} queue")
    form = BulkForm(request.POST)
    back = request.POST.get("next") or reverse("exceptions_queue:item_list", args=[queue])
    if not form.is_valid():
        messages.error(request, "Tick at least one item, then choose what to do.")
        return redirect(back if back.startswith("/") else "/")
    done, failed = services.apply_bulk_operation(
        user=request.user,
        item_ids=form.cleaned_data["items"],
        operation=form.cleaned_data["operation"],
        reason=form.cleaned_data["reason"],
    )
    if done:
        messages.success(request, f"{done} item(s) updated.")
    for error in failed:
        messages.error(request, error)
    return redirect(back if back.startswith("/") else "/")
