"""Two more tests of the chaos suite (docs/reliability.md) against a real worker process: a
bulk replay of 500 dead letters run twice at once, and an enqueue rolled back 1,000 times. Each
counts the sandbox ERP's business effects per idempotency key (lost = keys missing, doubled =
counts above 1)."""

import threading

import pytest
from django.db import connection, transaction

from integrations.models import ExternalSystem, OutboxMessage, SandboxCall
from integrations.services.outbox import enqueue_outbox_message, replay_outbox_message
from tests.e2e.support import effects_per_key, outbox_statuses
from tests.e2e.worker import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]
KIND = "erp.time_entry.record"


def _payload(n: int) -> dict:
    return {
        "time_entry_id": f"TE-R{n}", "project_id": "PRJ-100", "phase_code": "DISC",
        "person_email": "ana@acme.example", "role": "consultant", "work_date": "2026-11-02",
        "hours": "1.00", "billable": True, "legal_entity": None,
    }  # fmt: skip


def _dead_letters(erp: ExternalSystem, count: int) -> list:
    with transaction.atomic():
        ids = [
            enqueue_outbox_message(
                system=erp, kind=KIND, payload=_payload(n), idempotency_key=f"replay-chaos:{n}"
            ).pk
            for n in range(count)
        ]
        # Dead before any worker saw them (as after an outage past their attempts).
        OutboxMessage.objects.filter(pk__in=ids).update(
            status=OutboxMessage.Status.DEAD, attempts=8, last_error="ERP down"
        )
    return ids


def test_a_bulk_replay_run_twice_at_once_doubles_nothing(systems, start_worker):
    erp = systems["erp"][0]
    ids = _dead_letters(erp, 500)
    worker = start_worker(concurrency=2)

    def replay_all(order: list) -> None:
        try:
            for message_id in order:
                replay_outbox_message(message_id=message_id)
        finally:
            connection.close()

    runs = [threading.Thread(target=replay_all, args=(order,)) for order in (ids, ids[::-1])]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    wait_for(
        lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == 500,
        timeout=150,
        message=f"500 replayed messages sent ({outbox_statuses()})\n" + worker.log_tail(),
    )
    effects = effects_per_key()
    assert len(effects) == 500 and set(effects.values()) == {1}  # lost 0, doubled 0
    replays = sorted(OutboxMessage.objects.values_list("replay_count", flat=True).distinct())
    assert set(replays) <= {1, 2}  # the second replay of a sent message changes nothing


def _queued_tasks() -> int:
    """Tasks waiting in the broker's default queue (Celery's ``celery``)."""
    from config.celery import app

    with app.connection_for_read() as conn:
        return conn.default_channel.queue_declare(queue="celery").message_count


def test_an_enqueue_rolled_back_a_thousand_times_leaves_no_task_and_no_effect(
    systems, start_worker
):
    erp = systems["erp"][0]
    from config.celery import app

    app.control.purge()

    class RolledBack(Exception):
        pass

    for n in range(1000):  # no worker yet: anything published would wait in the queue
        try:
            with transaction.atomic():
                enqueue_outbox_message(
                    system=erp, kind=KIND, payload=_payload(n), idempotency_key=f"rolled-back:{n}"
                )
                raise RolledBack
        except RolledBack:
            pass
    assert _queued_tasks() == 0  # orphan tasks: 0 (a task is published only after COMMIT)
    assert OutboxMessage.objects.count() == 0
    with transaction.atomic():
        enqueue_outbox_message(
            system=erp, kind=KIND, payload=_payload(9999), idempotency_key="kept"
        )
    assert _queued_tasks() == 1
    worker = start_worker()
    wait_for(
        lambda: OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count() == 1,
        timeout=60,
        message="the committed message sent\n" + worker.log_tail(),
    )
    assert effects_per_key() == {"kept": 1}
    assert SandboxCall.objects.count() == 1  # no call for any rolled-back row
