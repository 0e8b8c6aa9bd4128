"""Rating approved time (docs/contract.md §5): the checks in their order, the rate, hours and amount.

``rate_time_entry`` decides one entry: held (with the §3 exception, the entry as a member of
the item of its subject), non-billable, or rated with the card version and rate used. The first
check that fails decides, so an entry is held by one item at most. ``rerun_held_entries``
re-rates held entries in ``work_date``, ``time_entry_id`` order when their cause may have gone
away; an item left with no entries resolves itself.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import (
    BillingRule,
    Contract,
    Person,
    Project,
    RateCard,
    TimeEntry,
)
from billing.services.card_rates import CardRate, find_rate
from config.money import Money, round_hours, round_money
from config.money_db import exact_sum, from_exact_sum
from exceptions_queue.services import raise_exception_item, release_member
from integrations.services.traces import record_trace_step

logger = logging.getLogger(__name__)

UNKNOWN_PROJECT, CLOSED_PHASE = "unknown_project", "closed_phase"
RATE_MISSING, RATE_MISMATCH, NOT_TO_EXCEED = "rate_missing", "rate_mismatch", "not_to_exceed"
HOLD_TYPES = (UNKNOWN_PROJECT, CLOSED_PHASE, RATE_MISSING, RATE_MISMATCH, NOT_TO_EXCEED)
# Statuses whose amount counts towards the contract's cap: rated and not retracted.
CAP_STATUSES = (TimeEntry.Status.RATED, TimeEntry.Status.INVOICED)


@dataclass(frozen=True)
class Hold:
    """Why an entry is held: the §3 type and its subject (one open item per subject)."""

    type_code: str
    subject_key: str
    subject_ref: str
    summary: str
    subject: models.Model | None = None
    amount: Decimal | None = None


def client_rule(contract: Contract) -> BillingRule | None:
    return BillingRule.objects.filter(client_account_id=contract.crm_account_id).first()


def _project_hold(entry: TimeEntry, project: Project | None) -> Hold | None:
    if project is None or project.status == Project.Status.PROVISIONING:
        return Hold(
            UNKNOWN_PROJECT,
            f"psa_project:{entry.psa_project_id}",
            f"PSA project {entry.psa_project_id}",
            f"time for PSA project {entry.psa_project_id}, which Throughline "
            + ("has not activated" if project else "does not know"),
        )
    if project.status in (Project.Status.CLOSED, Project.Status.ON_HOLD):
        return Hold(
            CLOSED_PHASE,
            f"project:{project.pk}",
            f"{project.name} ({project.get_status_display().lower()})",
            f"time on project {project.name}, which is {project.get_status_display().lower()}",
            subject=project,
        )
    phase = project.phases.filter(code=entry.phase_code).first()
    contract = project.contract
    problem = None
    if phase is None:
        problem = f"phase {entry.phase_code} is not listed on the project"
    elif phase.status != phase.Status.OPEN:
        problem = f"phase {entry.phase_code} is closed"
    elif not contract.start_date <= entry.work_date <= contract.end_date:
        problem = (
            f"work date {entry.work_date} is outside the contract "
            f"({contract.start_date} to {contract.end_date})"
        )
    if problem is None:
        return None
    if phase is not None and phase.status == phase.Status.OPEN:
        # The phase is fine; the date is not: named so, and one item per project for it.
        return Hold(
            CLOSED_PHASE,
            f"dates:{project.pk}",
            f"{project.name} · dated outside the contract",
            problem,
            subject=project,
        )
    return Hold(
        CLOSED_PHASE,
        f"phase:{project.pk}:{entry.phase_code}",
        f"{project.name} · phase {entry.phase_code} "
        + ("not on the project" if phase is None else "closed"),
        problem,
        subject=phase or project,
    )


def _is_non_billable(entry: TimeEntry, contract: Contract, rule: BillingRule | None) -> bool:
    return (
        not entry.is_billable
        or (rule is not None and entry.category in (rule.non_billable_categories or []))
        or contract.billing_model == Contract.BillingModel.FIXED_FEE
    )


def _rate_hold(entry: TimeEntry, contract: Contract, card_rate: CardRate | None) -> Hold | None:
    key = f"contract:{contract.pk}:role:{entry.role}"
    ref = f"{contract.name} · {entry.role}"
    if card_rate is None:
        return Hold(
            RATE_MISSING,
            key,
            ref,
            f"no rate for {entry.role} on {entry.work_date} in the card that applies",
            subject=contract,
        )
    if (
        entry.rate_override is None
        and entry.psa_bill_rate is not None
        and entry.psa_bill_rate != card_rate.hourly
    ):
        return Hold(
            RATE_MISMATCH,
            key,
            ref,
            f"the PSA's rate {entry.psa_bill_rate} differs from the card's {card_rate.hourly}",
            subject=contract,
        )
    return None


def _cap_hold(
    entry: TimeEntry, contract: Contract, amount: Decimal, pending_ids: frozenset[int]
) -> Hold | None:
    if (
        contract.billing_model != Contract.BillingModel.TIME_AND_MATERIALS
        or contract.not_to_exceed is None
    ):
        return None
    # The contract row is the lock that serialises cap decisions of concurrent approvals.
    Contract.objects.select_for_update().filter(pk=contract.pk).first()
    of_contract = TimeEntry.objects.filter(project__contract=contract).exclude(pk=entry.pk)
    already_held = (
        of_contract.filter(status=TimeEntry.Status.ON_HOLD, hold_reason=NOT_TO_EXCEED)
        .exclude(pk__in=pending_ids)
        .exists()
    )
    currency = contract.currency
    net = Money(
        from_exact_sum(
            of_contract.filter(status__in=CAP_STATUSES).aggregate(net=exact_sum("amount"))["net"]
        ),
        currency,
    )
    cap = Money(contract.not_to_exceed, currency)
    if not already_held and net + Money(amount, currency) <= cap:
        return None
    why = (
        "an earlier entry is already held for the cap"
        if already_held
        else f"{net} + {Money(amount, currency)} would pass the cap of {cap}"
    )
    return Hold(
        NOT_TO_EXCEED,
        f"contract:{contract.pk}",
        f"{contract.name} (cap {cap})",
        why,
        subject=contract,
        amount=amount,
    )


def _cost(entry: TimeEntry) -> None:
    person = Person.objects.select_related("legal_entity").filter(email=entry.person_email).first()
    if person is None:
        entry.cost_amount, entry.cost_currency = None, ""
        return
    currency = person.legal_entity.currency
    entry.cost_amount = round_money(entry.hours * person.cost_rate, currency)
    entry.cost_currency = currency


def _reset(entry: TimeEntry) -> None:
    entry.status, entry.hold_reason, entry.hold_key = TimeEntry.Status.RECEIVED, "", ""
    entry.rate_card_version, entry.rate, entry.billed_hours, entry.amount = None, None, None, None
    entry.currency, entry.rated_at = "", None


def _decide(entry: TimeEntry, pending_ids: frozenset[int]) -> Hold | None:
    """Apply §5's checks in order to ``entry`` (fields set in place); the hold, if any."""
    project = (
        Project.objects.select_related("contract")
        .filter(psa_project_id=entry.psa_project_id)
        .first()
    )
    entry.project = project
    hold = _project_hold(entry, project)
    if hold is not None:
        return hold
    assert project is not None  # _project_hold holds the time of an unknown project
    contract = project.contract
    entry.currency = contract.currency
    rule = client_rule(contract)
    if _is_non_billable(entry, contract, rule):
        entry.status = TimeEntry.Status.NON_BILLABLE
        return None
    card_rate = find_rate(contract=contract, role=entry.role, work_date=entry.work_date)
    if entry.rate_override is not None:
        card_rate = CardRate(card_rate.version if card_rate else None, entry.rate_override)
    hold = _rate_hold(entry, contract, card_rate)
    if hold is not None:
        if card_rate is not None:
            entry.rate = card_rate.hourly
            hold = _with_amount(hold, entry, rule, card_rate.hourly, contract.currency)
        return hold
    assert card_rate is not None  # _rate_hold holds time with no rate
    entry.rate_card_version, entry.rate = card_rate.version, card_rate.hourly
    entry.billed_hours = _billed_hours(entry, rule)
    entry.amount = round_money(entry.billed_hours * card_rate.hourly, contract.currency)
    hold = _cap_hold(entry, contract, entry.amount, pending_ids)
    if hold is None:
        entry.status, entry.rated_at = TimeEntry.Status.RATED, timezone.now()
    return hold


def _billed_hours(entry: TimeEntry, rule: BillingRule | None) -> Decimal:
    if rule is None:
        return entry.hours
    return round_hours(entry.hours, increment=rule.rounding_increment_hours, mode=rule.rounding)


def _with_amount(
    hold: Hold, entry: TimeEntry, rule: BillingRule | None, hourly: Decimal, currency: str
) -> Hold:
    amount = round_money(_billed_hours(entry, rule) * hourly, currency)
    return Hold(
        hold.type_code, hold.subject_key, hold.subject_ref, hold.summary, hold.subject, amount
    )


def rate_time_entry(
    *, entry: TimeEntry, pending_ids: frozenset[int] = frozenset(), note: str = ""
) -> TimeEntry:
    """Decide one stored entry per §5 and save it; raise or release its exception member.

    Runs inside the caller's transaction. Idempotent: rating the same facts twice gives the
    same decision and leaves the item's member as it was. ``pending_ids``: entries being
    re-run after this one (they do not count as "already held for the cap").
    """
    previous = (entry.hold_reason, entry.hold_key)
    _reset(entry)
    _cost(entry)
    hold = _decide(entry, pending_ids)
    if hold is not None:
        entry.status, entry.hold_reason, entry.hold_key = (
            TimeEntry.Status.ON_HOLD,
            hold.type_code,
            hold.subject_key,
        )
    entry.full_clean()
    entry.save()
    if previous[0] and previous != (entry.hold_reason, entry.hold_key):
        release_member(
            type_code=previous[0],
            subject_key=previous[1],
            member_key=entry.psa_time_entry_id,
            note=note or f"{entry.psa_time_entry_id} re-rated: {entry.get_status_display()}",
        )
    if hold is not None:
        _raise_hold(entry, hold)
    record_trace_step(
        kind="record",
        action="rated" if entry.status == TimeEntry.Status.RATED else entry.status,
        summary=_trace_summary(entry, hold),
        subject=entry,
        detail={"status": entry.status, "hold": entry.hold_reason, "amount": str(entry.amount)},
    )
    return entry


def _trace_summary(entry: TimeEntry, hold: Hold | None) -> str:
    if hold is not None:
        return f"time entry {entry.psa_time_entry_id} held ({hold.type_code}): {hold.summary}"
    if entry.status == TimeEntry.Status.NON_BILLABLE:
        return f"time entry {entry.psa_time_entry_id} is non-billable"
    return (
        f"time entry {entry.psa_time_entry_id} rated: {entry.billed_hours} h x {entry.rate} = "
        f"{entry.amount} {entry.currency}"
    )


def _raise_hold(entry: TimeEntry, hold: Hold) -> None:
    raise_exception_item(
        type_code=hold.type_code,
        subject_key=hold.subject_key,
        subject_ref=hold.subject_ref,
        subject=hold.subject,
        trace_id=entry.trace_id,
        summary=f"{entry.psa_time_entry_id}: {hold.summary}",
        details={"last_entry": entry.psa_time_entry_id, "psa_project_id": entry.psa_project_id},
        member_key=entry.psa_time_entry_id,
        amount=hold.amount,
        currency=entry.currency if hold.amount is not None else "",
        hours=entry.hours,
    )


def release_hold(*, entry: TimeEntry, note: str) -> None:
    """Take a held entry (retracted, corrected, written off) off its item."""
    if entry.hold_reason:
        release_member(
            type_code=entry.hold_reason,
            subject_key=entry.hold_key,
            member_key=entry.psa_time_entry_id,
            note=note,
        )
        entry.hold_reason, entry.hold_key = "", ""


def rerun_held_entries(*, entries: QuerySet[TimeEntry], note: str) -> dict[str, int]:
    """Re-rate held ``entries`` (a queryset) in ``work_date``, ``time_entry_id`` order, each
    with the cause as it is now; items left with no entries resolve themselves with ``note``.
    Runs in the caller's transaction; idempotent. Returns {"rated", "held", "non_billable"}."""
    ordered = list(
        entries.filter(status=TimeEntry.Status.ON_HOLD)
        .select_for_update()
        .order_by("work_date", "psa_time_entry_id")
    )
    pending = {entry.pk for entry in ordered}
    counts = {"rated": 0, "held": 0, "non_billable": 0}
    for entry in ordered:
        pending.discard(entry.pk)
        rate_time_entry(entry=entry, pending_ids=frozenset(pending), note=note)
        key = {"rated": "rated", "on_hold": "held"}.get(entry.status, "non_billable")
        counts[key] += 1
    if ordered:
        logger.info("billing.rerun", extra={"entries": len(ordered), **counts})
    return counts


def rerun_for_project(*, project: Project, note: str) -> dict[str, int]:
    """A project was activated, reopened, or a phase reopened (issue 7's PSA sync calls this):
    re-run its entries held as unknown project or closed phase."""
    entries = TimeEntry.objects.filter(
        psa_project_id=project.psa_project_id, hold_reason__in=(UNKNOWN_PROJECT, CLOSED_PHASE)
    )
    return rerun_held_entries(entries=entries, note=note)


def rerun_for_contract(*, contract: Contract, note: str) -> dict[str, int]:
    """A contract changed (amended deal, finance edit: dates, cap, rate card): re-run every
    held entry of its project."""
    project = Project.objects.filter(contract=contract).first()
    if project is None or not project.psa_project_id:
        return {"rated": 0, "held": 0, "non_billable": 0}
    entries = TimeEntry.objects.filter(psa_project_id=project.psa_project_id)
    return rerun_held_entries(entries=entries, note=note)


def rerun_for_rate_card(*, card: RateCard, note: str) -> dict[str, int]:
    """Rates were added or changed on ``card``: re-run entries held for a missing or different
    rate on contracts of the card's entity and currency."""
    entries = TimeEntry.objects.filter(
        hold_reason__in=(RATE_MISSING, RATE_MISMATCH),
        project__contract__legal_entity_id=card.legal_entity_id,
        project__contract__currency=card.currency,
    )
    return rerun_held_entries(entries=entries, note=note)
