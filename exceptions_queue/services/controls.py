"""Runs of controls (ControlRun) and what they found (ControlResult): a control is a check that
compares records and raises or resolves exception items (billing's reconciliation). The
control itself lives in the app that knows the records; this records its runs, so every
control's runs look alike on pages, in the API and in the admin's database."""

from django.db import transaction
from django.utils import timezone

from config.roles import User
from exceptions_queue.models import ControlResult, ControlRun
from integrations.services.traces import current_or_new_trace_id


@transaction.atomic
def create_control_run(
    *, control: str, scope: str, parameters: dict, requested_by: User | None
) -> ControlRun:
    """A queued run of ``control`` over ``scope`` (words) with its ``parameters``."""
    run = ControlRun(
        control=control,
        scope=scope[:200],
        parameters=parameters,
        requested_by=requested_by,
        trace_id=current_or_new_trace_id(),
    )
    run.full_clean()
    run.save()
    return run


def start_control_run(*, run_id: int) -> ControlRun:
    """Mark the run running (again, when a redelivered task resumes it): counts start over."""
    ControlRun.objects.filter(pk=run_id).update(
        status=ControlRun.Status.RUNNING,
        started_at=timezone.now(),
        finished_at=None,
        progress=0,
        counts={},
        error="",
    )
    return ControlRun.objects.get(pk=run_id)


def record_control_progress(*, run_id: int, progress: int, counts: dict) -> None:
    ControlRun.objects.filter(pk=run_id).update(progress=min(progress, 99), counts=counts)


def record_control_result(
    *, run: ControlRun, period: str, group: str, figures: dict, mismatch_count: int
) -> ControlResult:
    """What ``run`` found for ``group``'s ``period``: the newest row is the current picture."""
    return ControlResult.objects.create(
        run=run,
        control=run.control,
        period=period,
        group=group,
        figures=figures,
        mismatch_count=mismatch_count,
    )


def finish_control_run(*, run_id: int, counts: dict) -> ControlRun:
    ControlRun.objects.filter(pk=run_id).update(
        status=ControlRun.Status.FINISHED,
        progress=100,
        counts=counts,
        finished_at=timezone.now(),
    )
    return ControlRun.objects.get(pk=run_id)


def fail_control_run(*, run_id: int, error: str, counts: dict) -> ControlRun:
    ControlRun.objects.filter(pk=run_id).update(
        status=ControlRun.Status.FAILED,
        counts=counts,
        error=error[:4000],
        finished_at=timezone.now(),
    )
    return ControlRun.objects.get(pk=run_id)
