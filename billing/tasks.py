"""Thin Celery entry points of billing: parse ids, call one service.

Services publish these by name (billing/services/dispatch.py) and never import this module.
"""

from celery import shared_task

from billing.demo.traffic import run_scheduled_tick
from billing.services.invoice_run import execute_billing_run, previous_month, start_billing_run
from billing.services.reconciliation import (
    NIGHTLY_MONTHS,
    execute_reconciliation,
    reconcile_recent_months,
)


# A billing run of a large month takes minutes: its own limits, above the default 45/60 s.
@shared_task(acks_late=True, soft_time_limit=3300, time_limit=3600)
def execute_billing_run_task(run_id: int) -> None:
    execute_billing_run(run_id=int(run_id))


@shared_task(acks_late=True)
def start_monthly_billing_run_task() -> int:
    """Beat (CELERY_BEAT_SCHEDULE "monthly-billing-run"): bill last month, all entities."""
    return start_billing_run(period=previous_month(), requested_by=None).pk


# Not acks_late: a tick lost with its worker is replaced by the next one, while a redelivered
# one would post its deliveries a second time under a new tick number.
@shared_task(acks_late=False)
def demo_traffic_tick_task() -> dict:
    """Beat (PeriodicTask "demo-traffic", made by ``manage.py demo traffic start`` or the
    operations dashboard): one tick of the demo traffic simulator; nothing when it is off."""
    return run_scheduled_tick()


# Reads every posted invoice of the months back from the ERP and the CRM: its own limits.
@shared_task(acks_late=True, soft_time_limit=1700, time_limit=1800)
def execute_reconciliation_task(run_id: int) -> None:
    """A queued reconciliation run ("run now", an item's re-check). Idempotent."""
    execute_reconciliation(run_id=int(run_id))


@shared_task(acks_late=True, soft_time_limit=1700, time_limit=1800)
def reconcile_task(months: int = NIGHTLY_MONTHS) -> int:
    """Beat (CELERY_BEAT_SCHEDULE "nightly-reconciliation"): this month and the ones before
    it (``months`` in all), every active entity. Idempotent: items are refreshed."""
    return reconcile_recent_months(months=int(months)).pk
