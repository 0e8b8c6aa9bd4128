"""Thin Celery entry points of billing: parse ids, call one service.

Services publish these by name (billing/services/dispatch.py) and never import this module.
"""

from celery import shared_task

from billing.demo.traffic import run_scheduled_tick
from billing.services.invoice_run import execute_billing_run, previous_month, start_billing_run


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
