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
from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.models import (
    ApprovalAction,
    ApprovalRequest,
    Contract,
    Invoice,
    InvoiceLineEntry,
    Project,
    TimeEntry,
)
from billing.services.approvals import asks_second_pair, require_second_pair
from billing.services.card_rates import find_rate
from billing.services.change_previews import ChangePreview, preview_change
from billing.services.invoices import month_start, take_entry_off_invoices
from billing.services.rating import rate_time_entry
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


def _rate_changed(entry: TimeEntry, contract: Contract) -> bool:
    """Whether the card now gives the entry another rate (an entry billed at an override or
    the PSA's rate keeps it: that was a person's decision)."""
    if entry.rate_override is not None:
        return False
    found = find_rate(contract=contract, role=entry.role, work_date=entry.work_date)
    return found is not None and found.hourly != entry.rate


def _rerate_all(project: Project, *, reason: str, this_month: date) -> Rerated:
    credited = moved = count = 0
    contract = project.contract
    for entry in _billed(project).select_for_update():
        if not _rate_changed(entry, contract):
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
