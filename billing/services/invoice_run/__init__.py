"""The billing run (docs/contract.md §5 "Drafts"): build or refresh the drafts of one month.

Steps, each idempotent and committed on its own, so a run that stops can simply run again:

1. ``sweep``      drafts of the month let go of entries that are no longer billable;
2. ``drafts``     one open draft per group that has something to bill (get or create);
3. ``time``       rated time-and-materials entries of the month on no line yet go onto time
                  lines of their draft: set-based ``INSERT … SELECT`` in batches of id ranges (no
                  per-entry Python, flat memory), lines grouped per the client's rule;
4. ``retainers``  the month's retainer line per retainer contract (prorated), its entries and
                  overage;
5. ``milestones`` fixed-fee milestones completed in the month;
6. ``totals``     line sums, tax estimate and net/gross per draft; empty drafts removed.

Progress (step, percent, counts) is saved on the ``BillingRun`` row after every batch.
"""

import logging
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import BillingRun, Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.services.dispatch import publish_billing_run_on_commit
from billing.services.invoice_run.fixed_fees import milestone_lines, retainer_lines
from billing.services.invoice_run.scope import Scope, closed_entity_ids, record_progress
from billing.services.invoice_run.time_lines import time_lines
from billing.services.invoices import get_or_create_draft, month_start, refresh_invoices
from billing.services.rating import rerun_held_entries
from config.errors import DomainError
from config.roles import User
from integrations.services.traces import current_or_new_trace_id, record_trace_step, use_trace
from mdm.models import Customer, LegalEntity

logger = logging.getLogger(__name__)


def _sweep(scope: Scope) -> int:
    """Entries on draft lines of the month that are no longer invoiced (defensive: the event
    path already takes them off) leave their lines."""
    with transaction.atomic():
        stale = InvoiceLineEntry.objects.filter(
            is_active=True,
            line__invoice__status=Invoice.Status.DRAFT,
            line__invoice__period=scope.first,
        ).exclude(time_entry__status=TimeEntry.Status.INVOICED)
        count, _ = stale.delete()
    return count


def _draft_groups(scope: Scope) -> set[tuple]:
    source, params = scope.candidates_sql()
    sql = f"SELECT DISTINCT c.customer_id, c.legal_entity_id, c.currency, c.tax_jurisdiction FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set(cursor.fetchall())


def _ensure_drafts(scope: Scope) -> list[int]:
    ids = []
    with transaction.atomic():
        for customer, entity, currency, jurisdiction in sorted(_draft_groups(scope)):
            group = {
                "customer_id": customer,
                "legal_entity_id": entity,
                "currency": currency,
                "tax_jurisdiction": jurisdiction,
            }
            ids.append(get_or_create_draft(group=group, period=scope.first).pk)
    return ids


def _drafts_of_month(scope: Scope) -> list[int]:
    drafts = Invoice.objects.filter(period=scope.first, status=Invoice.Status.DRAFT).exclude(
        legal_entity_id__in=scope.closed
    )
    if scope.legal_entity_id:
        drafts = drafts.filter(legal_entity_id=scope.legal_entity_id)
    if scope.customer_id:
        drafts = drafts.filter(customer_id=scope.customer_id)
    return list(drafts.values_list("pk", flat=True))


def execute_billing_run(*, run_id: int) -> BillingRun:
    """Run (or resume) one billing run; marks it finished or failed with the error. Safe to
    call again on the same run: every step only adds what is missing."""
    run = BillingRun.objects.get(pk=run_id)
    with use_trace(run.trace_id):
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.RUNNING, started_at=timezone.now(), error=""
        )
        try:
            _steps(run, Scope(run))
        except Exception as exc:  # noqa: BLE001 boundary: the run records its failure
            logger.exception("billing.run_failed", extra={"run_id": run.pk})
            BillingRun.objects.filter(pk=run.pk).update(
                status=BillingRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000]
            )
            raise
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.FINISHED, progress=100, finished_at=timezone.now()
        )
        run.refresh_from_db()
        record_trace_step(
            kind="record",
            action="finished",
            summary=f"billing run {run.period:%Y-%m}: {run.counts}",
            subject=run,
        )
    return run


def _rerun_holds(scope: Scope) -> dict[str, int]:
    """Held entries of the month whose cause may have gone away without a hook firing (a phase
    reopened, a rate or a higher cap loaded some other way) are re-run before billing."""
    held = TimeEntry.objects.filter(
        status=TimeEntry.Status.ON_HOLD, work_date__range=(scope.first, scope.last)
    )
    if scope.legal_entity_id:
        held = held.filter(project__contract__legal_entity_id=scope.legal_entity_id)
    if scope.customer_id:
        held = held.filter(project__contract__customer_id=scope.customer_id)
    with transaction.atomic():
        return rerun_held_entries(entries=held, note="re-run by the billing run: cause gone")


def _steps(run: BillingRun, scope: Scope) -> None:
    rerun = _rerun_holds(scope)
    record_progress(run, "holds", 1, released_from_hold=rerun["rated"] + rerun["non_billable"])
    record_progress(run, "sweep", 2, entries_swept=_sweep(scope))
    late = Scope(run, late=True)
    opened = len(_ensure_drafts(scope)) + len(_ensure_drafts(late))
    record_progress(run, "drafts", 8, drafts_opened=opened, entities_closed=len(scope.closed))
    time_lines(run, scope)
    # Late time of closed months that finance moved into this one (billing/services/periods.py).
    record_progress(run, "late time", 80, late_entries_added=time_lines(run, late, report=False))
    retainer_entries, _touched = retainer_lines(scope)
    record_progress(run, "retainers", 85, retainer_entries=retainer_entries)
    milestones, _touched = milestone_lines(scope)
    record_progress(run, "milestones", 90, milestones=milestones)
    drafts = _drafts_of_month(scope)
    with transaction.atomic():
        refresh_invoices(
            invoice_ids=drafts, reason=f"{scope.reason}: totals", user_id=scope.user_id
        )
    remaining = Invoice.objects.filter(pk__in=drafts)
    record_progress(
        run,
        "totals",
        99,
        drafts=remaining.count(),
        lines=InvoiceLine.objects.filter(invoice__in=remaining).count(),
        held_entries=TimeEntry.objects.filter(
            Q(status=TimeEntry.Status.ON_HOLD),
            work_date__range=(scope.first, scope.last),
        ).count(),
    )


def previous_month() -> date:
    first = timezone.localdate().replace(day=1)
    return month_start(first - timedelta(days=1))


class BillingRunInvalid(DomainError):
    code = "billing_run_invalid"


def create_billing_run(
    *,
    period: date,
    legal_entity_code: str | None,
    customer_id: int | None,
    requested_by: User | None,
) -> BillingRun:
    """A queued run for a month (optionally one entity or customer), on a new trace."""
    entity = None
    if legal_entity_code:
        entity = LegalEntity.objects.filter(code=legal_entity_code).first()
        if entity is None:
            raise BillingRunInvalid(f"no legal entity {legal_entity_code}")
        if entity.pk in closed_entity_ids(period):
            raise BillingRunInvalid(
                f"{entity.code}'s {period:%Y-%m} is closed: nothing can be billed in it; late "
                "time of that month is moved to an open month on the late time page"
            )
    if customer_id and not Customer.objects.filter(pk=customer_id).exists():
        raise BillingRunInvalid(f"no customer {customer_id}")
    run = BillingRun.objects.create(
        period=month_start(period),
        legal_entity=entity,
        customer_id=customer_id or None,
        requested_by=requested_by,
        trace_id=current_or_new_trace_id(),
    )
    record_trace_step(
        kind="record",
        action="queued",
        summary=f"billing run {run.period:%Y-%m} queued",
        subject=run,
        trace_id=run.trace_id,
    )
    return run


@transaction.atomic
def start_billing_run(
    *,
    period: date,
    requested_by: User | None,
    legal_entity_code: str | None = None,
    customer_id: int | None = None,
) -> BillingRun:
    """Queue a run; the worker executes it after commit (``execute_billing_run_task``)."""
    run = create_billing_run(
        period=period,
        legal_entity_code=legal_entity_code,
        customer_id=customer_id,
        requested_by=requested_by,
    )
    publish_billing_run_on_commit(run.pk)
    return run
