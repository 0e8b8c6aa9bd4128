"""Re-rating a project's time under its contract's terms as they are now (docs/finance-controls/
previews.md "Amendments"): after an amendment changed the rate card (or a card's rates
changed), the time rated under the old terms is rated again, and each entry's place decides
how:

- not invoiced yet: rated again, billed by its month's run;
- on a draft: taken off it and rated again; the month's next run puts it back at the new amount;
- on an approved or posted invoice: **credited** (a credit line of the old amount on this
  month's draft, the link kept inactive) and **re-billed** (rated again and billed in this
  month, beside its credit);

so every entry ends on exactly one active line. ``rerate_preview`` shows it all, the real work
undone; ``rerate_project`` does it, under four eyes (``rate_change``) for the amount it moves.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import (
    ApprovalAction,
    ApprovalRequest,
    BillingRule,
    Contract,
    Invoice,
    InvoiceLineEntry,
    Project,
    RateCard,
    TimeEntry,
)
from billing.services.approvals import asks_second_pair, require_second_pair
from billing.services.card_rates import find_rate
from billing.services.change_previews import ChangePreview, preview_change
from billing.services.invoices import month_start, take_entry_off_invoices
from billing.services.rating import _billed_hours, client_rule, rate_time_entry
from config.money import Money
from config.roles import User
from integrations.services.traces import record_trace_step


@dataclass(frozen=True)
class Rerated:
    entries: int
    credited: int
    moved_off_drafts: int


def _billed(project: Project) -> QuerySet[TimeEntry]:
    return TimeEntry.objects.filter(
        project=project, status__in=(TimeEntry.Status.RATED, TimeEntry.Status.INVOICED)
    ).order_by("work_date", "psa_time_entry_id")


def _rate_changed(entry: TimeEntry, contract: Contract, rule: BillingRule | None) -> bool:
    """Whether the terms now give the entry another rate (the card) or other billed hours (the
    client's rounding rule). An entry billed at an override or the PSA's rate keeps its rate:
    that was a person's decision."""
    if entry.billed_hours is not None and _billed_hours(entry, rule) != entry.billed_hours:
        return True
    if entry.rate_override is not None:
        return False
    found = find_rate(contract=contract, role=entry.role, work_date=entry.work_date)
    return found is not None and found.hourly != entry.rate


def _rerate_all(project: Project, *, reason: str, this_month: date) -> Rerated:
    credited = moved = count = 0
    contract = project.contract
    rule = client_rule(contract)
    for entry in _billed(project).select_for_update():
        if not _rate_changed(entry, contract, rule):
            continue  # the same rate: it stays where it is, untouched
        link = (
            InvoiceLineEntry.objects.filter(time_entry=entry, is_active=True)
            .select_related("line__invoice")
            .first()
        )
        rate_time_entry(entry=entry, note=reason)
        count += 1
        if link is not None:
            posted = link.line.invoice.status != Invoice.Status.DRAFT
            take_entry_off_invoices(entry=entry, reason=reason)
            if posted:
                credited += 1
                entry.billing_period = this_month  # re-billed beside its credit
            else:
                moved += 1
            entry.status = TimeEntry.Status.RATED
            entry.save(update_fields=["status", "billing_period", "updated_at"])
    return Rerated(count, credited, moved)


def rerate_preview(*, project: Project) -> ChangePreview:
    """Which entries re-rating would change, before and after (nothing kept)."""
    reason = "re-rated under the contract's terms as they are now (preview)"
    return preview_change(
        lambda: _rerate_all(project, reason=reason, this_month=month_start(timezone.localdate())),
        entries=TimeEntry.objects.filter(project=project),
    )


@asks_second_pair
@transaction.atomic
def rerate_project(
    *, project: Project, user: User, approval: ApprovalRequest | None = None
) -> Rerated:
    """Re-rate the project's time under the contract's current terms (see the module)."""
    preview = rerate_preview(project=project)
    moved = [abs(m) for m in preview.totals]
    require_second_pair(
        action=ApprovalAction.RATE_CHANGE,
        subject_key=f"project:{project.pk}",
        subject_label=f"{project.name} ({len(preview.entries)} entries)",
        payload={"project_id": project.pk},
        amount=moved[0]
        if len(moved) == 1
        else (None if moved else Money.zero(project.contract.currency)),
        user=user,
        approved=approval,
    )
    reason = f"re-rated under the contract's current terms by {user.get_username()}"
    done = _rerate_all(project, reason=reason, this_month=month_start(timezone.localdate()))
    record_trace_step(
        kind="record",
        action="rerated",
        summary=f"{project.name}: {done.entries} entries re-rated, {done.credited} credited and "
        f"re-billed, {done.moved_off_drafts} taken off drafts",
        subject=project,
    )
    return done


def rule_change_preview(*, rule: BillingRule, values: dict) -> ChangePreview:
    """What re-rating the client's projects under ``rule`` changed by ``values`` (rounding
    increment, rounding) would change. Saving a rule changes no time rated so far (it applies
    to time rated from then on, and to a project's time when it is re-rated): this is that
    re-rating, with the new rule, undone."""
    projects = list(
        Project.objects.filter(contract__crm_account_id=rule.client_account_id).select_related(
            "contract"
        )
    )

    def change() -> None:
        for name, value in values.items():
            setattr(rule, name, value)
        rule.full_clean()
        rule.save()
        this_month = month_start(timezone.localdate())
        for project in projects:
            _rerate_all(project, reason="billing rule changed (preview)", this_month=this_month)

    return preview_change(change, entries=TimeEntry.objects.filter(project__in=projects))


def card_change_preview(
    *, card: RateCard, role: str, hourly: Decimal, valid_from: date
) -> ChangePreview:
    """What a new rate for ``role`` on ``card`` from ``valid_from`` would change: the card's
    held time rated (as saving does) and its projects' time re-rated (as re-rating does)."""
    from billing.models import Rate, RateCardVersion, Role
    from billing.services.rate_cards import rates_changed

    projects = list(
        Project.objects.filter(
            contract__legal_entity_id=card.legal_entity_id, contract__currency=card.currency
        ).select_related("contract")
    )

    def change() -> None:
        version = RateCardVersion.objects.filter(card=card, valid_from=valid_from).first()
        if version is None:  # a new version from that day: the one running then ends the day before
            running = (
                card.versions.filter(valid_from__lt=valid_from)
                .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from))
                .order_by("-valid_from")
                .first()
            )
            version = RateCardVersion.objects.create(
                card=card, valid_from=valid_from, valid_to=running.valid_to if running else None
            )
            if running is not None:
                for rate in running.rates.all():
                    Rate.objects.create(version=version, role=rate.role, hourly=rate.hourly)
                running.valid_to = valid_from - timedelta(days=1)
                running.save()
        Rate.objects.update_or_create(
            version=version, role=Role.objects.get(code=role), defaults={"hourly": hourly}
        )
        rates_changed(card=card)
        this_month = month_start(timezone.localdate())
        for project in projects:
            _rerate_all(project, reason="rate card changed (preview)", this_month=this_month)

    return preview_change(change, entries=TimeEntry.objects.filter(project__in=projects))
