"""Rates for finance and PMO (``/rates/``): the rate cards and billing rules as they are, and a
preview of a change to either — what it would do to time not invoiced, on drafts and on posted
invoices (billing/services/amendments.py). Saving stays in the admin (administrators)."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.models import BillingRule, RateCard, Role
from billing.services.amendments import card_change_preview, rule_change_preview
from config.policy import require


@login_required
def rate_list(request: HttpRequest) -> HttpResponse:
    require(request, "rate_cards", "read")
    cards = RateCard.objects.select_related("legal_entity").prefetch_related(
        "versions__rates__role"
    )
    context = {
        "cards": cards.order_by("legal_entity__code", "code"),
        "rules": BillingRule.objects.order_by("client_account_id"),
        "roles": Role.objects.order_by("code"),
        "roundings": BillingRule.Rounding.choices,
    }
    return render(request, "billing/rates.html", context)


def _shown(request: HttpRequest, title: str, preview) -> HttpResponse:
    return render(request, "billing/change_preview.html", {"title": title, "preview": preview})


@login_required
@require_POST
def card_preview(request: HttpRequest, card_id: int) -> HttpResponse:
    require(request, "rate_cards", "read")
    card = get_object_or_404(RateCard, pk=card_id)
    try:
        hourly = Decimal(request.POST.get("hourly", "").replace(",", ""))
        valid_from = date.fromisoformat(request.POST.get("valid_from", ""))
    except (InvalidOperation, ValueError):
        messages.error(
            request, "give the new hourly rate (e.g. 175.00) and the day it applies from"
        )
        return redirect("billing:rate_list")
    role = request.POST.get("role", "")
    if not Role.objects.filter(code=role).exists():
        messages.error(request, f"no role {role!r}")
        return redirect("billing:rate_list")
    preview = card_change_preview(card=card, role=role, hourly=hourly, valid_from=valid_from)
    title = f"{card.code}: {role} at {hourly} {card.currency} from {valid_from:%Y-%m-%d}"
    return _shown(request, title, preview)


@login_required
@require_POST
def rule_preview(request: HttpRequest, rule_id: int) -> HttpResponse:
    require(request, "rate_cards", "read")
    rule = get_object_or_404(BillingRule, pk=rule_id)
    increment = request.POST.get("rounding_increment_hours", "").strip()
    try:
        values = {
            "rounding_increment_hours": Decimal(increment) if increment else None,
            "rounding": request.POST.get("rounding") or rule.rounding,
        }
        preview = rule_change_preview(rule=rule, values=values)
    except (InvalidOperation, ValueError) as exc:
        messages.error(request, f"the rule is not valid: {exc}")
        return redirect("billing:rate_list")
    title = f"Billing rule of {rule.client_account_id}: round {values['rounding']} to {increment or 'no'} h"
    return _shown(request, title, preview)
