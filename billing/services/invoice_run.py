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
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing.models import (
    BillingRun,
    Contract,
    Invoice,
    InvoiceLine,
    InvoiceLineEntry,
    Milestone,
    TimeEntry,
)
from billing.services.invoices import (
    NON_VOID,
    get_or_create_draft,
    group_of,
    month_end,
    month_start,
    prorated_retainer,
    refresh_invoices,
)
from billing.services.rating import rerun_held_entries
from config.errors import DomainError
from integrations.services.traces import current_or_new_trace_id, record_trace_step, use_trace
from mdm.models import Customer, LegalEntity

logger = logging.getLogger(__name__)
BATCH_ENTRIES = 100_000  # entries per batch (a range of ids): a commit and a progress tick each
TM = Contract.BillingModel.TIME_AND_MATERIALS

_GROUP_KEY = (
    "CASE COALESCE(br.invoice_grouping, 'per_role') "
    "WHEN 'per_entry' THEN 'e:' || CAST(te.id AS TEXT) "
    "WHEN 'per_person' THEN 'p:' || CAST(c.id AS TEXT) || ':' || te.person_email || ':' "
    "|| te.role || ':' || CAST(te.rate AS TEXT) "
    "ELSE 'r:' || CAST(c.id AS TEXT) || ':' || te.role || ':' || CAST(te.rate AS TEXT) END"
)
_DESCRIPTION = (
    "CASE COALESCE(br.invoice_grouping, 'per_role') "
    "WHEN 'per_entry' THEN c.name || ' · ' || CAST(te.work_date AS TEXT) || ' · ' "
    "|| te.person_email || ' · ' || te.role "
    "WHEN 'per_person' THEN c.name || ' · ' || te.person_email || ' · ' || te.role "
    "ELSE c.name || ' · ' || te.role END"
)
_PERSON = (
    "CASE WHEN COALESCE(br.invoice_grouping, 'per_role') = 'per_role' "
    "THEN '' ELSE te.person_email END"
)


class Scope:
    """The month and optional entity/customer of a run, as SQL and as ORM filters."""

    def __init__(self, run: BillingRun) -> None:
        self.first, self.last = month_start(run.period), month_end(run.period)
        self.legal_entity_id, self.customer_id = run.legal_entity_id, run.customer_id

    def contracts(self):
        contracts = Contract.objects.all()
        if self.legal_entity_id:
            contracts = contracts.filter(legal_entity_id=self.legal_entity_id)
        if self.customer_id:
            contracts = contracts.filter(customer_id=self.customer_id)
        return contracts

    def sql(self) -> tuple[str, list]:
        where, params = "", []
        if self.legal_entity_id:
            where, params = where + " AND c.legal_entity_id = %s", [*params, self.legal_entity_id]
        if self.customer_id:
            where, params = where + " AND c.customer_id = %s", [*params, self.customer_id]
        return where, params

    def candidates_sql(self) -> tuple[str, list]:
        """FROM … WHERE of the rated T&M entries of the month in scope (aliases te, c, br)."""
        scope, params = self.sql()
        tables = (
            f"{TimeEntry._meta.db_table} te "
            f"JOIN billing_project p ON p.id = te.project_id "
            f"JOIN {Contract._meta.db_table} c ON c.id = p.contract_id "
            f"LEFT JOIN billing_billingrule br ON br.client_account_id = c.crm_account_id"
        )
        where = "te.status = %s AND te.work_date BETWEEN %s AND %s AND c.billing_model = %s" + scope
        return f"{tables} WHERE {where}", [
            TimeEntry.Status.RATED,
            self.first,
            self.last,
            TM,
            *params,
        ]


def _progress(run: BillingRun, step: str, percent: int, **counts) -> None:
    run.step, run.progress = step, percent
    run.counts = {**run.counts, **counts}
    BillingRun.objects.filter(pk=run.pk).update(
        step=run.step, progress=run.progress, counts=run.counts
    )


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


def _time_batch(scope: Scope, low: int, high: int | None) -> int:
    """One batch: the candidates with ``low < id <= high`` (no upper bound for the last
    batch, so entries rated meanwhile are not left behind): new lines for new group keys, the
    links, the entries' status. Returns the links added.

    Batches are ranges of entry ids, in id order: a batch reads its slice of the table once
    and the status UPDATE finds the same pages still in memory, so the work grows linearly
    with the month (batches of projects made every batch visit nearly every page).
    On PostgreSQL the links and the status go in one statement (data-modifying CTE); the
    status column is in no index, so that UPDATE is HOT and writes no index entry.
    """
    source, params = scope.candidates_sql()

    def in_range(alias: str) -> str:
        return f" AND {alias}id > %s" + ("" if high is None else f" AND {alias}id <= %s")

    source += in_range("te.")
    bounds = [low] if high is None else [low, high]
    params = [*params, *bounds]
    draft = (
        "JOIN billing_invoice i ON i.customer_id = c.customer_id "
        "AND i.legal_entity_id = c.legal_entity_id AND i.currency = c.currency "
        "AND i.tax_jurisdiction = c.tax_jurisdiction AND i.period = %s AND i.status = %s"
    )
    # The draft join goes before WHERE: splice it in after the FROM list.
    tables, where = source.split(" WHERE ", 1)
    joined = f"{tables} {draft} WHERE {where}"
    joined_params = [scope.first, Invoice.Status.DRAFT, *params]
    line, link = InvoiceLine._meta.db_table, InvoiceLineEntry._meta.db_table
    entries = TimeEntry._meta.db_table
    new_lines = (
        f"INSERT INTO {line} (invoice_id, kind, description, contract_id, role, person_email, "
        f"hours, rate, amount, group_key) "
        f"SELECT DISTINCT i.id, %s, {_DESCRIPTION}, c.id, te.role, {_PERSON}, 0, te.rate, 0, "
        f"{_GROUP_KEY} FROM {joined} AND NOT EXISTS (SELECT 1 FROM {line} l "
        f"WHERE l.invoice_id = i.id AND l.group_key = {_GROUP_KEY})"
    )
    with_line = joined.replace(
        " WHERE ", f" JOIN {line} l ON l.invoice_id = i.id AND l.group_key = {_GROUP_KEY} WHERE ", 1
    )
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(new_lines, [InvoiceLine.Kind.TIME, *joined_params])
        if connection.vendor == "postgresql":
            # The lines just made, counted: planned as 0 rows, the line lookup below
            # becomes a scan of every line per entry.
            cursor.execute(f"ANALYZE {line}")
            # Every candidate ends on an active link: a new one, or (should a rated entry
            # already have one) the one the partial unique index keeps; so all are invoiced.
            cursor.execute(
                f"WITH batch AS MATERIALIZED (SELECT l.id AS line_id, te.id AS entry_id, "
                f"te.billed_hours, te.amount FROM {with_line}), "
                f"linked AS (INSERT INTO {link} (line_id, time_entry_id, hours, amount, "
                f"is_active) SELECT line_id, entry_id, billed_hours, amount, %s FROM batch "
                f"ON CONFLICT DO NOTHING RETURNING 1), "
                f"marked AS (UPDATE {entries} t SET status = %s, updated_at = %s FROM batch "
                f"WHERE t.id = batch.entry_id AND t.status = %s{in_range('t.')} "
                "RETURNING 1) SELECT (SELECT COUNT(*) FROM linked), (SELECT COUNT(*) FROM marked)",
                [
                    *joined_params,
                    True,
                    TimeEntry.Status.INVOICED,
                    now,
                    TimeEntry.Status.RATED,
                    *bounds,
                ],
            )
            return cursor.fetchone()[0]
        # Elsewhere (SQLite): the same in two statements.
        cursor.execute(
            f"INSERT INTO {link} (line_id, time_entry_id, hours, amount, is_active) "
            f"SELECT l.id, te.id, te.billed_hours, te.amount, %s FROM {with_line} "
            # A rated entry has no active link; should one have, the partial unique index
            # skips it.
            "ON CONFLICT DO NOTHING",
            [True, *joined_params],
        )
        added = cursor.rowcount
        cursor.execute(
            f"UPDATE {entries} SET status = %s, updated_at = %s WHERE status = %s "
            f"AND work_date BETWEEN %s AND %s{in_range('')} AND EXISTS (SELECT 1 FROM {link} x "
            f"WHERE x.time_entry_id = {entries}.id AND x.is_active = %s)",
            [
                TimeEntry.Status.INVOICED,
                now,
                TimeEntry.Status.RATED,
                scope.first,
                scope.last,
                *bounds,
                True,
            ],
        )
    return added


def _id_batches(scope: Scope) -> list[tuple[int, int | None]]:
    """The candidates cut into ``(low, high]`` id ranges of about BATCH_ENTRIES entries, in id
    order (the last one open-ended); none when there is nothing to bill."""
    source, params = scope.candidates_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM (SELECT te.id AS id, ROW_NUMBER() OVER (ORDER BY te.id) AS n, "
            f"COUNT(*) OVER () AS total FROM {source}) s "
            f"WHERE n %% {int(BATCH_ENTRIES)} = 0 OR n = total ORDER BY id",
            params,
        )
        cuts = [row[0] for row in cursor.fetchall()]
    return list(zip([0, *cuts[:-1]], [*cuts[:-1], None], strict=True))


def _analyze(*tables: str) -> None:
    """PostgreSQL: fresh statistics for the tables a run has just filled, so the batch
    statements are planned for their real sizes (a stale "1 row" plan loops)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def _time_lines(run: BillingRun, scope: Scope) -> int:
    batches = _id_batches(scope)
    _analyze(Invoice._meta.db_table, InvoiceLine._meta.db_table)
    added = 0
    for number, (low, high) in enumerate(batches, start=1):
        added += _time_batch(scope, low, high)
        _progress(run, "time", 10 + number * 70 // len(batches), entries_added=added)
    return added


def _retainer_lines(scope: Scope) -> tuple[int, set[int]]:
    """One retainer line per retainer contract overlapping the month: the prorated fee once
    per month (a later supplementary draft gets a zero-fee line for late time), with the
    month's rated entries of the contract on it."""
    touched: set[int] = set()
    added = 0
    contracts = scope.contracts().filter(
        billing_model=Contract.BillingModel.RETAINER,
        start_date__lte=scope.last,
        end_date__gte=scope.first,
    )
    for contract in contracts.order_by("pk"):
        with transaction.atomic():
            added += _retainer_for(contract, scope, touched)
    return added, touched


def _retainer_for(contract: Contract, scope: Scope, touched: set[int]) -> int:
    fee_key = f"retainer:{contract.pk}:{scope.first:%Y-%m}"
    fee_billed = InvoiceLine.objects.filter(
        group_key=fee_key, invoice__status__in=NON_VOID
    ).exists()
    entries = list(
        TimeEntry.objects.select_for_update().filter(
            project__contract=contract,
            status=TimeEntry.Status.RATED,
            work_date__range=(scope.first, scope.last),
        )
    )
    if fee_billed and not entries:
        return 0
    draft = get_or_create_draft(group=group_of(contract), period=scope.first)
    key = fee_key if not fee_billed else f"retainer-late:{contract.pk}:{scope.first:%Y-%m}"
    line = InvoiceLine.objects.filter(invoice=draft, group_key__in=[fee_key, key]).first()
    if line is None:
        amount, included, days, month_days = prorated_retainer(contract, scope.first)
        what = "late time" if fee_billed else f"{days}/{month_days} days, {included} h included"
        line = InvoiceLine.objects.create(
            invoice=draft,
            kind=InvoiceLine.Kind.RETAINER,
            description=f"Retainer {contract.name} {scope.first:%Y-%m} ({what})",
            contract=contract,
            hours=0,
            amount=amount if not fee_billed else 0,
            service_month=scope.first,
            group_key=key,
        )
    InvoiceLineEntry.objects.bulk_create(
        InvoiceLineEntry(line=line, time_entry=e, hours=e.billed_hours, amount=0) for e in entries
    )
    TimeEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
        status=TimeEntry.Status.INVOICED, updated_at=timezone.now()
    )
    touched.add(draft.pk)
    return len(entries)


def _milestone_lines(scope: Scope) -> tuple[int, set[int]]:
    billed = InvoiceLine.objects.filter(
        milestone=OuterRef("pk"),
        kind=InvoiceLine.Kind.MILESTONE,
        invoice__status__in=NON_VOID,
        reversals__isnull=True,
    )
    milestones = (
        Milestone.objects.select_related("contract")
        .filter(
            contract__in=scope.contracts().filter(billing_model=Contract.BillingModel.FIXED_FEE),
            completed_on__range=(scope.first, scope.last),
        )
        .exclude(Exists(billed))
        .order_by("contract_id", "completed_on", "pk")
    )
    touched: set[int] = set()
    count = 0
    with transaction.atomic():
        for milestone in milestones:
            draft = get_or_create_draft(group=group_of(milestone.contract), period=scope.first)
            InvoiceLine.objects.create(
                invoice=draft,
                kind=InvoiceLine.Kind.MILESTONE,
                description=f"{milestone.contract.name}: {milestone.name} "
                f"(completed {milestone.completed_on})",
                contract=milestone.contract,
                milestone=milestone,
                amount=milestone.amount,
                service_month=scope.first,
                group_key=f"milestone:{milestone.pk}",
            )
            touched.add(draft.pk)
            count += 1
    return count, touched


def _drafts_of_month(scope: Scope) -> list[int]:
    drafts = Invoice.objects.filter(period=scope.first, status=Invoice.Status.DRAFT)
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
    _progress(run, "holds", 1, released_from_hold=rerun["rated"] + rerun["non_billable"])
    _progress(run, "sweep", 2, entries_swept=_sweep(scope))
    _progress(run, "drafts", 8, drafts_opened=len(_ensure_drafts(scope)))
    _time_lines(run, scope)
    retainer_entries, _touched = _retainer_lines(scope)
    _progress(run, "retainers", 85, retainer_entries=retainer_entries)
    milestones, _touched = _milestone_lines(scope)
    _progress(run, "milestones", 90, milestones=milestones)
    drafts = _drafts_of_month(scope)
    with transaction.atomic():
        refresh_invoices(invoice_ids=drafts)
    remaining = Invoice.objects.filter(pk__in=drafts)
    _progress(
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


def period_from_text(text: str) -> date:
    """``YYYY-MM`` → the first day of that month (ValueError otherwise)."""
    year, month = str(text).split("-")
    if len(year) != 4 or len(month) != 2:
        raise ValueError(f"period {text!r} is not YYYY-MM")
    return date(int(year), int(month), 1)


def previous_month() -> date:
    first = timezone.localdate().replace(day=1)
    return month_start(first - timedelta(days=1))


class BillingRunInvalid(DomainError):
    code = "billing_run_invalid"


def create_billing_run(
    *, period: date, legal_entity_code: str | None, customer_id: int | None, requested_by
) -> BillingRun:
    """A queued run for a month (optionally one entity or customer), on a new trace."""
    entity = None
    if legal_entity_code:
        entity = LegalEntity.objects.filter(code=legal_entity_code).first()
        if entity is None:
            raise BillingRunInvalid(f"no legal entity {legal_entity_code}")
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
    requested_by,
    legal_entity_code: str | None = None,
    customer_id: int | None = None,
) -> BillingRun:
    """Queue a run; the worker executes it after commit (``execute_billing_run_task``)."""
    from billing.tasks import execute_billing_run_task

    run = create_billing_run(
        period=period,
        legal_entity_code=legal_entity_code,
        customer_id=customer_id,
        requested_by=requested_by,
    )
    execute_billing_run_task.delay_on_commit(run.pk)
    return run
