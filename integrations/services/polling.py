"""Polling peers that send no webhooks (a scheduled job in celery-beat, ``poll-peers``, editable
in the admin's periodic tasks): each pull stream of each active system is read from the cursor
its last finished run left, and every change found goes through the inbox exactly as a webhook
delivery of the same canonical event would (integrations/connectors/pull.py).

Each run is a SyncRun (``kind`` ``poll.<stream>``) with what it read, how many events were new,
how many were refused and why; a failed fetch keeps the cursor, so the next run reads the same
changes again (they are stored once: each change has a stable key).
"""

import logging

from django.utils import timezone

from integrations.connectors import ConnectorError, connector_classes
from integrations.models import ExternalSystem, SyncRun
from integrations.services.api_usage import keep_api_usage
from integrations.services.connectors import connector_for
from integrations.services.inbox import record_pulled_event
from integrations.services.traces import new_trace_id, record_trace_step, use_trace

logger = logging.getLogger(__name__)


def pull_streams(system: ExternalSystem) -> list[str]:
    """The streams to poll on ``system``: its connector's, less those its settings switch off
    (``settings["poll"] = {"invoices": false}``; ``settings["poll"] = false``: none)."""
    cls = connector_classes.get(system.connector)
    streams = list(getattr(cls, "pull_streams", {}).get(system.kind, ()))
    wanted = (system.settings or {}).get("poll", True)
    if wanted is False:
        return []
    if isinstance(wanted, dict):
        streams = [s for s in streams if wanted.get(s, True)]
    return streams


def systems_to_poll() -> list[tuple[ExternalSystem, str]]:
    """Each active system's streams that are due: a stream with an interval (the connector's
    ``pull_intervals``, e.g. the reference check hourly) waits that long after its last run; a
    system whose breaker is paused (its API quota spent) is not read until the pause ends."""
    due = []
    now = timezone.now()
    for system in (
        ExternalSystem.objects.filter(is_active=True).select_related("breaker").order_by("slug")
    ):
        breaker = getattr(system, "breaker", None)
        if breaker is not None and breaker.paused_until and breaker.paused_until > now:
            continue  # the peer's quota is spent (breakers.pause): no reads either until then
        intervals = getattr(connector_classes.get(system.connector), "pull_intervals", {})
        for stream in pull_streams(system):
            interval = intervals.get(stream)
            if interval:
                last = (
                    SyncRun.objects.filter(system=system, kind=f"poll.{stream}")
                    .order_by("-started_at")
                    .values_list("started_at", flat=True)
                    .first()
                )
                if last and (now - last).total_seconds() < interval:
                    continue
            due.append((system, stream))
    return due


def poll_system(*, system_id: int, stream: str) -> SyncRun:
    """One poll of one stream of one system; returns its run (finished or failed)."""
    system = ExternalSystem.objects.get(pk=system_id)
    kind = f"poll.{stream}"
    last = (
        SyncRun.objects.filter(system=system, kind=kind, status=SyncRun.Status.FINISHED)
        .order_by("-started_at", "-id")
        .first()
    )
    with use_trace(new_trace_id()) as trace_id:
        run = SyncRun.objects.create(
            system=system,
            kind=kind,
            since=last.started_at if last else None,
            cursor=last.cursor if last else "",
            trace_id=trace_id,
        )
        connector = None
        try:
            connector = connector_for(system)
            changes = connector.fetch_changes(stream, run.cursor or None)
        except ConnectorError as exc:
            logger.warning("integrations.poll_failed", extra={"system": system.slug})
            return _finish(run, status=SyncRun.Status.FAILED, errors=[exc.message])
        finally:
            if connector is not None:
                keep_api_usage(system, connector)
        errors = list(changes.problems)
        for event in changes.events:
            receipt = record_pulled_event(
                system=system,
                key=event.key,
                event_type=event.event_type,
                data=event.data,
                occurred_at=event.occurred_at,
            )
            if receipt.status_code == 202:
                run.changed_count += 1
            elif receipt.status_code >= 400:
                run.failed_count += 1
                errors.append(f"{event.key}: {receipt.body.get('reason', '')}"[:300])
        run.read_count = changes.read
        run.cursor = changes.cursor or run.cursor
        return _finish(run, status=SyncRun.Status.FINISHED, errors=errors)


def poll_all() -> dict[str, str]:
    """Every stream of every system that can be polled (the beat task)."""
    runs = [poll_system(system_id=s.pk, stream=stream) for s, stream in systems_to_poll()]
    return {f"{run.system.slug}:{run.kind}": run.status for run in runs}


def _finish(run: SyncRun, *, status: str, errors: list[str]) -> SyncRun:
    """Record the run; a poll that read nothing and found nothing wrong leaves no row (one a
    minute per stream would bury the runs that matter; the cursor did not move)."""
    run.status, run.errors, run.finished_at = status, errors, timezone.now()
    if status == SyncRun.Status.FINISHED and not run.read_count and not errors:
        run.delete()
        return run
    run.save()
    record_trace_step(
        kind="note",
        action=f"poll_{status}",
        summary=f"{run.system.slug} {run.kind}: read {run.read_count}, new {run.changed_count}, "
        f"refused {run.failed_count}" + (f"; {errors[0]}" if errors else ""),
    )
    return run
