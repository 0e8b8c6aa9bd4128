"""Publishing billing's tasks: the one place billing's services talk to Celery.

Tasks are found by name in the Celery app's registry (``billing.tasks`` is imported by
BillingConfig.ready(), so every process has them), so no service imports the tasks module:
``tasks.py`` calls services, never the reverse. Going through the registered task keeps
``task_always_eager`` and ``delay_on_commit`` working as before.
"""

from typing import Any, cast

from celery import current_app
from celery.contrib.django.task import DjangoTask

EXECUTE_BILLING_RUN = "billing.tasks.execute_billing_run_task"


def publish_billing_run_on_commit(run_id: int) -> None:
    """The worker executes the run once the transaction that queued it commits."""
    # Under Django, Celery makes every task a DjangoTask (which has delay_on_commit); the
    # registry is typed with the base Task.
    task = cast(DjangoTask[[int], Any], current_app.tasks[EXECUTE_BILLING_RUN])
    task.delay_on_commit(run_id)


EXECUTE_RECONCILIATION = "billing.tasks.execute_reconciliation_task"


def publish_reconciliation_on_commit(run_id: int) -> None:
    """A worker runs the reconciliation (it calls the peers) once the transaction that queued
    it commits."""
    task = cast(DjangoTask[[int], Any], current_app.tasks[EXECUTE_RECONCILIATION])
    task.delay_on_commit(run_id)
