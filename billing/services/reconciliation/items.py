"""The reconciliation's exception items: one ``reconciliation_mismatch`` item per mismatch,
raised again (refreshed, never doubled) while it lasts, resolved by itself at the first run
that checks both sides and finds them agreeing (the "re-check now" action is in ``run.py``).

An item's members are its amounts at risk, one per currency (``amount:<currency>``), so a
refresh replaces the figure instead of adding to it. A mismatch a person dismissed is not raised
again while both sides still say the same; when either side changes it is raised anew.
"""

from django.db import transaction

from billing.models import Invoice
from billing.selectors.reconciliation import MISMATCH, dismissed_sides, list_open_mismatches
from billing.services.reconciliation.compare import Comparison, Mismatch
from config.money import Money
from exceptions_queue.models import ExceptionItem
from exceptions_queue.services import raise_exception_item, release_member
from exceptions_queue.services import resolve_items_automatically as resolve_item
from mdm.models import LegalEntity

NO_AMOUNT = "difference"  # the member of a mismatch that puts no amount at risk


def _details(mismatch: Mismatch, period: str, entity: str, run_id: int) -> dict:
    return {
        "check": mismatch.check,
        "ours": mismatch.ours,
        "theirs": mismatch.theirs,
        "differences": [
            {"field": name, "ours": ours, "theirs": theirs}
            for name, ours, theirs in mismatch.differences
        ],
        "period": period,
        "legal entity": entity,
        "found by": f"reconciliation run #{run_id}",
    }


def _subject(mismatch: Mismatch, entity: LegalEntity) -> Invoice | LegalEntity:
    if mismatch.invoice_id is None:
        return entity
    return Invoice.objects.filter(pk=mismatch.invoice_id).first() or entity


def raise_mismatch(
    mismatch: Mismatch, *, entity: LegalEntity, period: str, run_id: int
) -> ExceptionItem:
    """Open or refresh the item of ``mismatch`` (inside the caller's transaction)."""
    members: list[tuple[str, Money | None]] = [
        (f"amount:{m.currency}", m) for m in mismatch.amounts
    ] or [(NO_AMOUNT, None)]
    item = None
    for member_key, money in members:
        item = raise_exception_item(
            type_code=MISMATCH,
            subject_key=mismatch.subject_key,
            subject_ref=mismatch.subject_ref,
            subject=_subject(mismatch, entity),
            summary=f"{mismatch.label}: {mismatch.summary}",
            details=_details(mismatch, period, entity.code, run_id),
            member_key=member_key,
            amount=money.amount if money is not None else None,
            currency=money.currency if money is not None else "",
        )
    assert item is not None  # at least one member
    kept = {key for key, _ in members}
    for stale in item.members.filter(released_at__isnull=True).exclude(member_key__in=kept):
        release_member(
            type_code=MISMATCH,
            subject_key=mismatch.subject_key,
            member_key=stale.member_key,
            note="no longer at risk in this currency",
        )
    return item


@transaction.atomic
def record_mismatches(
    comparison: Comparison, *, entity: LegalEntity, period: str, run_id: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Raise an item for each mismatch (unless dismissed with the same sides), resolve the
    open items of the entity's month that were checked and agree now. Returns ({subject key:
    item id} of the mismatches, counts {"raised", "refreshed", "resolved", "dismissed"})."""
    prefix = f"{period}:{entity.code}:"
    open_items = list_open_mismatches(prefix=prefix)
    dismissed = dismissed_sides(subject_keys=[m.subject_key for m in comparison.mismatches])
    counts = {"raised": 0, "refreshed": 0, "resolved": 0, "dismissed": 0}
    item_ids: dict[str, int] = {}
    for mismatch in comparison.mismatches:
        was_open = mismatch.subject_key in open_items
        if not was_open and dismissed.get(mismatch.subject_key) == (mismatch.ours, mismatch.theirs):
            counts["dismissed"] += 1
            continue
        item = raise_mismatch(mismatch, entity=entity, period=period, run_id=run_id)
        item_ids[mismatch.subject_key] = item.pk
        counts["refreshed" if was_open else "raised"] += 1
    for key in sorted(open_items):
        if key in comparison.checked and key not in item_ids:
            counts["resolved"] += resolve_item(
                type_code=MISMATCH,
                subject_key=key,
                note=f"both sides agree at reconciliation run #{run_id}",
            )
    return item_ids, counts
