"""The exception types that hold time (docs/contract.md §3) and the actions finance and the PMO take
on them. Registered in ``BillingConfig.ready``.

Every action works on the entries the item holds and re-rates them; the item resolves itself
when no entry is left on it (``release_member``), so the actions are ``resolves=False`` and a
re-run that leaves entries held is refused (rolled back) with the reason.
"""

from decimal import Decimal

from django import forms
from django.utils import timezone

from billing.models import Phase, TimeEntry
from billing.services import rating
from config.roles import FINANCE, PMO
from exceptions_queue.exceptions import ActionRefused
from exceptions_queue.registry import ExceptionType, ResolutionAction


class WriteOffForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why this time is not billed (leakage)")


class MovePhaseForm(forms.Form):
    phase_code = forms.CharField(max_length=60, help_text="An open phase of the same project")


def held_entries(item):
    return TimeEntry.objects.filter(
        status=TimeEntry.Status.ON_HOLD, hold_reason=item.type_code, hold_key=item.subject_key
    )


def _still_held(item) -> list[str]:
    return list(held_entries(item).values_list("psa_time_entry_id", flat=True)[:5])


def _outcome(item, counts: dict[str, int], what: str) -> str:
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


def rerun_action(item, *, user, data: dict) -> str:
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"re-run by {user.get_username()}"
    )
    return _outcome(item, counts, "Re-run")


def _override_and_rerun(item, user, *, use_psa: bool) -> str:
    entries = list(held_entries(item).select_for_update())
    for entry in entries:
        entry.rate_override = entry.psa_bill_rate if use_psa else entry.rate
        entry.save(update_fields=["rate_override", "updated_at"])
    which = "the PSA's rate" if use_psa else "the card's rate"
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"billed at {which} by {user.get_username()}"
    )
    return _outcome(item, counts, f"Bill at {which}")


def bill_at_psa_rate_action(item, *, user, data: dict) -> str:
    return _override_and_rerun(item, user, use_psa=True)


def bill_at_card_rate_action(item, *, user, data: dict) -> str:
    return _override_and_rerun(item, user, use_psa=False)


def move_phase_action(item, *, user, data: dict) -> str:
    code = data["phase_code"]
    entries = list(held_entries(item).select_for_update())
    for entry in entries:
        phase = Phase.objects.filter(project_id=entry.project_id, code=code).first()
        if phase is None or phase.status != Phase.Status.OPEN:
            raise ActionRefused(f"{code} is not an open phase of the project", phase_code=code)
        entry.phase_code = code
        entry.save(update_fields=["phase_code", "updated_at"])
    counts = rating.rerun_held_entries(
        entries=held_entries(item), note=f"moved to phase {code} by {user.get_username()}"
    )
    return _outcome(item, counts, f"Moved to {code}")


def write_off_action(item, *, user, data: dict) -> str:
    """Not billed, recorded as leakage: the amount at risk (or nothing known) per entry."""
    reason = data["reason"].strip()
    total, count = Decimal("0"), 0
    members = {m.member_key: m for m in item.members.filter(released_at__isnull=True)}
    for entry in held_entries(item).select_for_update().order_by("work_date", "psa_time_entry_id"):
        member = members.get(entry.psa_time_entry_id)
        entry.written_off_amount = member.amount if member is not None else None
        entry.write_off_reason = f"{reason} ({user.get_username()}, {timezone.localdate()})"
        note = f"written off by {user.get_username()}: {reason}"
        rating.release_hold(entry=entry, note=note)
        entry.status = TimeEntry.Status.NON_BILLABLE
        entry.save()
        total += entry.written_off_amount or Decimal("0")
        count += 1
    return (
        f"Wrote off {count} entr{'y' if count == 1 else 'ies'} ({total} {item.currency}): {reason}"
    )


RERUN = ResolutionAction(
    name="rerun", label="Re-run the held time", handler=rerun_action, resolves=False
)
WRITE_OFF = ResolutionAction(
    name="write_off",
    label="Write off (leakage)",
    handler=write_off_action,
    roles=(FINANCE,),
    form_class=WriteOffForm,
    resolves=False,
)


def billing_exception_types() -> list[ExceptionType]:
    return [
        ExceptionType(
            code=rating.UNKNOWN_PROJECT,
            queue="pmo",
            severity="medium",
            title="Time for an unknown project",
            help_text=(
                "Approved time arrived for a PSA project Throughline does not know or has not "
                "activated (its deal may be invalid). The time is stored and held. Activate the "
                "project (fix the deal); the time is re-run by itself, or re-run it here."
            ),
            sla_hours=48,
            actions=(RERUN, WRITE_OFF),
        ),
        ExceptionType(
            code=rating.CLOSED_PHASE,
            queue="pmo",
            severity="medium",
            title="Time on a closed phase",
            help_text=(
                "Approved time on a closed or unlisted phase, a closed or on-hold project, or "
                "dated outside the contract. Reopen the phase in the PSA (the time re-runs by "
                "itself), move the time to an open phase, or write it off."
            ),
            sla_hours=48,
            actions=(
                RERUN,
                ResolutionAction(
                    name="move_phase",
                    label="Move to an open phase",
                    handler=move_phase_action,
                    roles=(PMO, FINANCE),
                    form_class=MovePhaseForm,
                    resolves=False,
                ),
                WRITE_OFF,
            ),
        ),
        ExceptionType(
            code=rating.RATE_MISSING,
            queue="finance",
            severity="high",
            title="No rate for the time",
            help_text=(
                "No rate for the role on the work date in the card that applies. Add the rate "
                "(admin or import): held time re-runs by itself, or re-run it here."
            ),
            sla_hours=24,
            actions=(RERUN, WRITE_OFF),
        ),
        ExceptionType(
            code=rating.RATE_MISMATCH,
            queue="finance",
            severity="high",
            title="Rate differs",
            help_text=(
                "The PSA's rate differs from the card's (or the ERP posted a different invoice "
                "total). Bill at the PSA's new rate, at the card's rate, or fix the card and "
                "re-run."
            ),
            sla_hours=24,
            actions=(
                ResolutionAction(
                    name="bill_at_psa_rate",
                    label="Bill at the new (PSA) rate",
                    handler=bill_at_psa_rate_action,
                    roles=(FINANCE,),
                    resolves=False,
                ),
                ResolutionAction(
                    name="bill_at_card_rate",
                    label="Bill at the card's rate",
                    handler=bill_at_card_rate_action,
                    roles=(FINANCE,),
                    resolves=False,
                ),
                RERUN,
                WRITE_OFF,
            ),
        ),
        ExceptionType(
            code=rating.NOT_TO_EXCEED,
            queue="finance",
            severity="high",
            title="Not-to-exceed cap reached",
            help_text=(
                "Billing this time would pass the contract's cap. Raise the cap (amended deal "
                "or contract edit: held time re-runs by itself in date order) or write it off."
            ),
            sla_hours=24,
            actions=(RERUN, WRITE_OFF),
        ),
    ]
