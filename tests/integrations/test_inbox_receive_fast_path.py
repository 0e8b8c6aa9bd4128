"""The receive path's shortcuts (`make bench`) change nothing that is stored or answered: an
accepted delivery is one INSERT outside any transaction, and the INSERT's SQL, compiled once,
writes the row the ORM compiler writes."""

import json

import pytest
from django.db import connection, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.test.utils import CaptureQueriesContext

from integrations.models import InboundEvent, TraceStep, rows
from integrations.services.inbox import receive
from tests.helpers import envelope, sign_headers, time_entry_data

VOLATILE = {"id", "webhook_id", "trace_id", "received_at", "enqueued_at"}


def _deliver(secret: str, body: bytes, webhook_id: str) -> receive.Receipt:
    headers = sign_headers(secret, body, webhook_id=webhook_id)
    return receive.receive_webhook(slug="psa", headers=headers, body=body, remote_addr="127.0.0.1")


def _row(webhook_id: str) -> dict:
    row = InboundEvent.objects.filter(webhook_id=webhook_id).values().get()
    assert row["received_at"] is not None and row["enqueued_at"] is not None
    return {k: v for k, v in row.items() if k not in VOLATILE}


BODIES = {
    "accepted": json.dumps(envelope("psa.time_entry.approved", time_entry_data())).encode(),
    "schema": json.dumps(
        envelope("psa.time_entry.approved", time_entry_data(hours=7.5, billable="yes"))
    ).encode(),
    "not json": b"{not json",
    "unknown type": json.dumps({"type": "psa.nope", "data": {"a": [1, 2.5, None]}}).encode(),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BODIES))
def test_the_compiled_once_insert_writes_what_the_orm_compiler_writes(case, psa_secret):
    rows._INSERT_SQL.clear()
    compiled = _deliver(psa_secret, BODIES[case], f"msg_{case}_compiled")
    assert rows._INSERT_SQL  # kept for the next delivery
    cached = _deliver(psa_secret, BODIES[case], f"msg_{case}_cached")
    assert compiled.status_code == cached.status_code != 200
    assert _row(f"msg_{case}_cached") == _row(f"msg_{case}_compiled")
    stored = InboundEvent.objects.get(webhook_id=f"msg_{case}_cached")
    assert stored.trace_id == cached.body["trace_id"]
    assert stored.received_at >= stored.enqueued_at  # auto_now_add, as save() sets it

    event = InboundEvent(system=stored.system, webhook_id="x", trace_id="t")
    query = InsertQuery(InboundEvent, on_conflict=OnConflict.IGNORE)
    meta = InboundEvent._meta
    query.insert_values([f for f in meta.concrete_fields if f is not meta.pk], [event])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(sql, _params)] = compiler.as_sql()
    assert rows._INSERT_SQL[(InboundEvent, connection.alias, connection.vendor)] == sql


@pytest.mark.django_db(transaction=True)
def test_an_accepted_delivery_is_one_insert_outside_a_transaction(psa_secret, monkeypatch):
    rung, atomic_blocks = [], []
    monkeypatch.setattr(
        receive, "ring_inbox_doorbell", lambda pk: rung.append((pk, connection.in_atomic_block))
    )
    real_atomic = transaction.atomic
    monkeypatch.setattr(
        transaction, "atomic", lambda *a, **k: atomic_blocks.append(k) or real_atomic(*a, **k)
    )
    _deliver(psa_secret, BODIES["accepted"], "msg_warm")  # the system and its secrets, cached
    rung.clear()
    body = json.dumps(
        envelope("psa.time_entry.approved", time_entry_data(time_entry_id="TE-2"))
    ).encode()
    with CaptureQueriesContext(connection) as queries:
        receipt = _deliver(psa_secret, body, "msg_one_insert")
    assert receipt.status_code == 202
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]
    event = InboundEvent.objects.get(webhook_id="msg_one_insert")
    assert rung == [(event.pk, False)]  # rung at once: the row is committed
    assert atomic_blocks == []

    again = _deliver(psa_secret, body, "msg_one_insert")
    assert again.status_code == 200 and again.body["status"] == "duplicate"
    assert again.body["trace_id"] == receipt.body["trace_id"] and len(rung) == 1

    rejected = _deliver(psa_secret, BODIES["schema"], "msg_rejected")
    assert rejected.status_code == 422
    assert atomic_blocks[0] == {"durable": True}  # the rejected path keeps its transaction
    event = InboundEvent.objects.get(webhook_id="msg_rejected")
    assert TraceStep.objects.filter(trace_id=event.trace_id, action="rejected").exists()
    assert _deliver(psa_secret, BODIES["schema"], "msg_rejected").status_code == 200


@pytest.mark.django_db
def test_inside_a_callers_transaction_the_doorbell_waits_for_its_commit(
    psa_secret, monkeypatch, django_capture_on_commit_callbacks
):
    rung = []
    monkeypatch.setattr(receive, "ring_inbox_doorbell", rung.append)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        receipt = _deliver(psa_secret, BODIES["accepted"], "msg_in_atomic")
        assert receipt.status_code == 202 and rung == []
    assert len(callbacks) == 1
    assert rung == [InboundEvent.objects.get(webhook_id="msg_in_atomic").pk]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_insert_is_prepared_once_and_can_be_turned_off(psa_secret, settings):
    from tests.helpers import require

    require(connection.vendor == "postgresql", "prepared statements are PostgreSQL's")
    connection.close()  # a new session: nothing prepared on it yet

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ['INSERT INTO "integrations_inboundevent"%'],
            )
            return cursor.fetchone()[0]

    settings.DATABASE_PREPARED_INSERTS = False
    _deliver(psa_secret, BODIES["accepted"], "msg_unprepared")
    assert prepared() == 0  # behind a transaction-mode pooler: nothing left on the server
    settings.DATABASE_PREPARED_INSERTS = True
    for n in range(3):
        body = json.dumps(
            envelope("psa.time_entry.approved", time_entry_data(time_entry_id=f"TE-P{n}"))
        ).encode()
        assert _deliver(psa_secret, body, f"msg_prepared_{n}").status_code == 202
    assert prepared() == 1  # prepared on its first run, then only executed
    assert InboundEvent.objects.filter(webhook_id__startswith="msg_prepared_").count() == 3
