"""The actions finance and the PMO take on the exception types that hold time (docs/contract.md
§3; the types are in billing/exception_types.py, registered in ``BillingConfig.ready``).

Every action works on the entries the item holds and re-rates them; the item resolves itself
when no entry is left on it (``release_member``), so the actions are ``resolves=False`` and a
re-run that leaves entries held is refused (rolled back) with the reason.
"""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from billing.models import Phase, TimeEntry
from billing.services import rating
from billing.services.history import set_history_user
from config.money import Money, sum_by_currency
from config.roles import User
from exceptions_queue.errors import ActionRefused
from exceptions_queue.models import ExceptionItem


def held_entries(item: ExceptionItem) -> QuerySet[TimeEntry]:
    return TimeEntry.objects.filter(
        status=TimeEntry.Status.ON_HOLD, hold_reason=item.type_code, hold_key=item.subject_key
    )


def _still_held(item: ExceptionItem) -> list[str]:
    return list(held_entries(item).values_list("psa_time_entry_id", flat=True)[:5])


def _outcome(item: ExceptionItem, counts: dict[str, int], what: str) -> str:
    left = _still_held(item)
    if left:
        raise ActionRefused(
            f"{what}: still held ({', '.join(left)}); fix the cause first",
            entries=left,
        )
    return (
        f"{what}: {counts['rated']} rated, {counts['non_billable']} non-billable, "
        f"{counts['held']} held for another reason"
    )


def rerun_action(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"re-run by {user.get_username()}"
    )
    return _outcome(item, counts, "Re-run")


def _override_and_rerun(item: ExceptionItem, user: User, *, use_psa: bool) -> str:
    entries = list(held_entries(item).select_for_update())
    for entry in entries:
        entry.rate_override = entry.psa_bill_rate if use_psa else entry.rate
        entry.save(update_fields=["rate_override", "updated_at"])
    which = "the PSA's rate" if use_psa else "the card's rate"
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"billed at {which} by {user.get_username()}"
    )
    return _outcome(item, counts, f"Bill at {which}")


def bill_at_psa_rate_action(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
    return _override_and_rerun(item, user, use_psa=True)


def bill_at_card_rate_action(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
    return _override_and_rerun(item, user, use_psa=False)


def move_phase_action(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
    code = data["phase_code"]
    entries = list(held_entries(item).select_for_update())
    for entry in entries:
        phase = (  # an entry of no known project has no phase to move to
            None
            if entry.project_id is None
            else Phase.objects.filter(project_id=entry.project_id, code=code).first()
        )
        if phase is None or phase.status != Phase.Status.OPEN:
            raise ActionRefused(f"{code} is not an open phase of the project", phase_code=code)
        entry.phase_code = code
        entry.save(update_fields=["phase_code", "updated_at"])
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"moved to phase {code} by {user.get_username()}"
    )
    return _outcome(item, counts, f"Moved to {code}")


def write_off_action(item: ExceptionItem, *, user: User, data: dict[str, Any]) -> str:
    """Not billed, recorded as leakage: the amount at risk (or nothing known) per entry."""
    reason = data["reason"].strip()
    written: list[Money] = []
    count = 0
    members = {m.member_key: m for m in item.members.filter(released_at__isnull=True)}
    for entry in held_entries(item).select_for_update().order_by("work_date", "psa_time_entry_id"):
        member = members.get(entry.psa_time_entry_id)
        entry.written_off_amount = member.amount if member is not None else None
        entry.write_off_reason = f"{reason} ({user.get_username()}, {timezone.localdate()})"
        note = f"written off by {user.get_username()}: {reason}"
        rating.release_hold(entry=entry, note=note)
        entry.status = TimeEntry.Status.NON_BILLABLE
        set_history_user(entry, user)  # the leakage ledger names who wrote it off
        entry.save()
        if member is not None and member.amount and member.currency:
            written.append(Money(member.amount, member.currency))
        count += 1
    totals = sum_by_currency(written)  # per currency, never added across
    total = ", ".join(totals[c].format() for c in sorted(totals)) or "no amount known"
    return f"Wrote off {count} entr{'y' if count == 1 else 'ies'} ({total}): {reason}"
