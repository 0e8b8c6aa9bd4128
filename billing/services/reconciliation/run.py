"""The reconciliation job: for each month and legal entity of a run, Throughline's side
(selectors), the peers' side read back outside any transaction (integrations/services/
readback.py), the comparison (``compare.py``), then one transaction that raises, refreshes and
resolves the items (``items.py``) and records the row. Runs are ControlRuns (exceptions_queue)
with their counts; a run that stops can simply run again (every step is idempotent).
"""

import logging
from datetime import date

from django.db import transaction
from django.utils import timezone

from billing.periods import period_from_text
from billing.selectors.reconciliation import (
    RECONCILIATION,
    PeriodFigures,
    get_period_figures,
    list_entities_to_reconcile,
)
from billing.services.dispatch import publish_reconciliation_on_commit
from billing.services.reconciliation.compare import Comparison, PeerAnswers, compare
from billing.services.reconciliation.items import record_mismatches
from config.errors import DomainError
from config.roles import User
from exceptions_queue.models import ControlRun, ExceptionItem
from exceptions_queue.services import (
    create_control_run,
    fail_control_run,
    finish_control_run,
    record_control_progress,
    record_control_result,
    start_control_run,
)
from integrations.models import ExternalSystem
from integrations.services.readback import read_back_invoice_statuses, read_back_invoices
from integrations.services.traces import new_trace_id, record_trace_step, use_trace
from mdm.models import LegalEntity
from mdm.services.routing import system_for_entity

logger = logging.getLogger(__name__)
NIGHTLY_MONTHS = 3  # the nightly run: this month and the two before (late payments, statuses)
COUNTS = ("rows", "mismatches", "raised", "refreshed", "resolved", "dismissed", "not_checked")


class ReconciliationRefused(DomainError):
    code = "reconciliation_refused"


def months_back(*, months: int, today: date | None = None) -> list[date]:
    """This month and the ``months - 1`` before it, oldest first."""
    first = (today or timezone.localdate()).replace(day=1)
    found: list[date] = []
    for _ in range(max(months, 1)):
        found.insert(0, first)
        first = (first.replace(day=1) - date.resolution).replace(day=1)
    return found


def _scope_words(months: list[date], code: str | None) -> str:
    span = f"{months[0]:%Y-%m}" if len(months) == 1 else f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}"
    return f"{span} · {code or 'all entities'}"


@transaction.atomic
def create_reconciliation(
    *, months: list[date], legal_entity_code: str | None, requested_by: User | None
) -> ControlRun:
    """A queued run over ``months`` and one entity (or every active one). Raises
    ReconciliationRefused for no month or an unknown entity."""
    if not months:
        raise ReconciliationRefused("name a month to reconcile (YYYY-MM)")
    code = legal_entity_code or None
    if code and not LegalEntity.objects.filter(code=code).exists():
        raise ReconciliationRefused(f"no legal entity {code}", legal_entity=code)
    ordered = sorted(set(months))
    return create_control_run(
        control=RECONCILIATION,
        scope=_scope_words(ordered, code),
        parameters={"periods": [f"{m:%Y-%m}" for m in ordered], "legal_entity": code},
        requested_by=requested_by,
    )


def request_reconciliation(
    *, period: str, legal_entity_code: str | None, requested_by: User | None
) -> ControlRun:
    """ "Run now" (page, API, an item's re-check): a queued run of one month (``YYYY-MM``),
    executed by a worker once the caller's transaction commits."""
    try:
        month = period_from_text(period)
    except ValueError as exc:
        raise ReconciliationRefused(f"period {period!r} is not YYYY-MM") from exc
    with transaction.atomic():
        run = create_reconciliation(
            months=[month], legal_entity_code=legal_entity_code, requested_by=requested_by
        )
        publish_reconciliation_on_commit(run.pk)
    return run


def recheck_action(item: ExceptionItem, *, user: User, data: dict) -> str:
    """The "re-check now" action of a mismatch item: a run of its month and entity, queued
    to start when the resolving transaction commits (peers are never called inside it). The
    item stays open; that run resolves it if both sides agree by then."""
    period, _, rest = item.subject_key.partition(":")
    run = request_reconciliation(
        period=period, legal_entity_code=rest.split(":", 1)[0] or None, requested_by=user
    )
    return f"re-check queued: reconciliation run #{run.pk} ({run.scope})"


def reconcile_recent_months(*, months: int = NIGHTLY_MONTHS) -> ControlRun:
    """The nightly run: this month and the ``months - 1`` before it, every active entity,
    executed here (the caller is the worker)."""
    run = create_reconciliation(
        months=months_back(months=months), legal_entity_code=None, requested_by=None
    )
    return execute_reconciliation(run_id=run.pk)


def execute_reconciliation(*, run_id: int) -> ControlRun:
    """Run (or run again) one reconciliation run; finished with its counts, or failed with
    the error (then raised). Idempotent: items are refreshed, never doubled."""
    run = start_control_run(run_id=run_id)
    counts = dict.fromkeys(COUNTS, 0)
    with use_trace(run.trace_id or new_trace_id()):
        try:
            scopes = _scopes(run)
            for done, (month, entity) in enumerate(scopes, start=1):
                for key, value in reconcile_entity_month(run=run, month=month, entity=entity):
                    counts[key] = counts.get(key, 0) + value
                record_control_progress(
                    run_id=run.pk, progress=done * 100 // len(scopes), counts=counts
                )
        except Exception as exc:  # noqa: BLE001 boundary: the run records its failure
            logger.exception("billing.reconciliation_failed", extra={"run_id": run.pk})
            fail_control_run(run_id=run.pk, error=f"{type(exc).__name__}: {exc}", counts=counts)
            raise
        run = finish_control_run(run_id=run.pk, counts=counts)
        record_trace_step(
            kind="record",
            action="finished",
            summary=f"reconciliation {run.scope}: {counts['mismatches']} mismatches, "
            f"{counts['raised']} raised, {counts['resolved']} resolved",
        )
    logger.info("billing.reconciliation_finished", extra={"run_id": run.pk, **counts})
    return run


def _scopes(run: ControlRun) -> list[tuple[date, LegalEntity]]:
    months = [period_from_text(p) for p in run.parameters.get("periods") or []]
    entities = list_entities_to_reconcile(code=run.parameters.get("legal_entity"))
    return [(month, entity) for month in months for entity in entities]


def reconcile_entity_month(
    *, run: ControlRun, month: date, entity: LegalEntity
) -> list[tuple[str, int]]:
    """One entity's month: read, compare, then raise/resolve and record the row in one
    transaction. Returns its counts as (name, value) pairs."""
    figures = get_period_figures(month=month, entity=entity)
    answers = read_peers(figures, entity)
    comparison = compare(figures, answers)
    with transaction.atomic():
        item_ids, counts = record_mismatches(
            comparison, entity=entity, period=figures.period, run_id=run.pk
        )
        record_control_result(
            run=run,
            period=figures.period,
            group=entity.code,
            figures=_row(comparison, item_ids),
            mismatch_count=len(comparison.mismatches),
        )
    not_checked = len(answers.erp_errors) + (1 if answers.crm_error else 0)
    return [
        ("rows", 1),
        ("mismatches", len(comparison.mismatches)),
        ("not_checked", not_checked),
        *counts.items(),
    ]


def _row(comparison: Comparison, item_ids: dict[str, int]) -> dict:
    row = dict(comparison.figures)
    row["mismatches"] = [
        {
            "check": m.check,
            "label": m.label,
            "subject_key": m.subject_key,
            "subject_ref": m.subject_ref,
            "summary": m.summary,
            "ours": m.ours,
            "theirs": m.theirs,
            "invoice_id": m.invoice_id,
            "amounts": [amount.as_json() for amount in m.amounts],
            "item_id": item_ids.get(m.subject_key),
            "dismissed": m.subject_key not in item_ids,
        }
        for m in comparison.mismatches
    ]
    return row


def read_peers(figures: PeriodFigures, entity: LegalEntity) -> PeerAnswers:
    """The ERP's invoices (from the ERP each was posted to) and the CRM's statuses of the
    month's posted invoices; a peer that cannot be read is named with the reason."""
    if not figures.invoices:
        return PeerAnswers(crm={})
    found: dict = {}
    asked: set[str] = set()
    systems: list[str] = []
    errors: list[str] = []
    for system, ids in _erp_systems(figures, entity, errors):
        back = read_back_invoices(system=system, erp_invoice_ids=ids)
        if back.found is None:
            errors.append(back.error)
            continue
        found.update(back.found)
        asked |= set(ids)
        systems.append(system.slug)
    crm, crm_system, crm_error = None, "", ""
    try:
        system = system_for_entity("crm", entity)
    except DomainError as exc:
        crm_error = f"the CRM could not be read: {exc.message}"
    else:
        statuses = read_back_invoice_statuses(
            system=system, invoice_ids=[str(i.pk) for i in figures.invoices]
        )
        crm, crm_system, crm_error = statuses.found, system.slug, statuses.error
    return PeerAnswers(
        erp=found,
        erp_asked=frozenset(asked),
        erp_systems=tuple(systems),
        erp_errors=tuple(errors),
        crm=crm,
        crm_system=crm_system,
        crm_error=crm_error,
    )


def _erp_systems(
    figures: PeriodFigures, entity: LegalEntity, errors: list[str]
) -> list[tuple[ExternalSystem, list[str]]]:
    """The posted invoices' ERP ids grouped by the system each was posted to (an invoice
    whose posting message is gone: the entity's ERP now)."""
    by_system: dict[int, list[str]] = {}
    for invoice in figures.invoices:
        system_id = invoice.erp_system_id
        if system_id is None:
            try:
                system_id = system_for_entity("erp", entity).pk
            except DomainError as exc:
                reason = f"the ERP could not be read: {exc.message}"
                errors.extend([] if reason in errors else [reason])
                continue
        by_system.setdefault(system_id, []).append(invoice.erp_invoice_id)
    systems = ExternalSystem.objects.in_bulk(list(by_system))
    return [(systems[pk], ids) for pk, ids in sorted(by_system.items()) if pk in systems]
