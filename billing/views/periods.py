"""Period close for finance (``/periods/``): each entity's months (open, closing, closed), the
late time of closed months and its move to an open month (billing/services/periods.py). A
refusal is a message on the page, never an error page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.models import AccountingPeriod
from billing.periods import period_from_text
from billing.selectors.periods import period_rows, recent_moves
from billing.services.periods import late_time, move_late_time, set_period_status
from config.errors import DomainError
from config.policy import require
from mdm.models import LegalEntity


@login_required
def period_list(request: HttpRequest) -> HttpResponse:
    require(request, "periods", "read")
    entity_code = request.GET.get("legal_entity", "")
    entity = LegalEntity.objects.filter(code=entity_code).first() if entity_code else None
    groups = late_time(legal_entity_id=entity.pk if entity else None)
    context = {
        "rows": period_rows(
            today=timezone.localdate(), legal_entity_id=entity.pk if entity else None
        ),
        "late": groups,
        "moves": recent_moves(),
        "entities": LegalEntity.objects.order_by("code"),
        "entity_code": entity_code,
        "statuses": AccountingPeriod.Status.choices,
    }
    return render(request, "billing/periods.html", context)


def _entity_and_month(request: HttpRequest, name: str = "period") -> tuple[LegalEntity, object]:
    entity = LegalEntity.objects.filter(code=request.POST.get("legal_entity", "")).first()
    if entity is None:
        raise DomainError("choose a legal entity")
    try:
        return entity, period_from_text(request.POST.get(name, ""))
    except ValueError as exc:
        raise DomainError(f"the month must be YYYY-MM ({exc})") from exc


@login_required
@require_POST
def period_set_status(request: HttpRequest) -> HttpResponse:
    require(request, "periods", "close")
    try:
        entity, month = _entity_and_month(request)
        period = set_period_status(
            legal_entity=entity,
            month=month,
            status=request.POST.get("status", ""),
            user=request.user,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"{entity.code} {month:%Y-%m} is {period.get_status_display().lower()}."
        )
    return redirect("billing:period_list")


@login_required
@require_POST
def late_time_move(request: HttpRequest) -> HttpResponse:
    require(request, "periods", "move_late_time")
    try:
        entity, month = _entity_and_month(request)
        _entity, to_month = _entity_and_month(request, "to_period")
        move = move_late_time(
            legal_entity=entity,
            month=month,
            to_month=to_month,
            user=request.user,
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{move.entries} late entries of {month:%Y-%m} ({move.hours} h) will be billed by "
            f"the {to_month:%Y-%m} billing run.",
        )
    return redirect("billing:period_list")
