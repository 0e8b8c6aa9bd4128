"""Replays of one dead message from every door at once: the queue's action, the outbox API and
a worker delivering it. They take their locks in one order (the message, then its item), so
none of them deadlocks and the effect is single."""

import threading

import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from exceptions_queue.models import ExceptionItem
from integrations.models import OutboxMessage, SandboxCall
from integrations.services.outbox import dispatch_outbox_message
from tests.conftest import make_user
from tests.exceptions_queue.conftest import make_dead_message

ROUNDS = 4


def _all_doors_at_once(operator, message: OutboxMessage, item: ExceptionItem) -> tuple[list, list]:
    """13 threads released together: 6 queue actions and 5 outbox replays through the API,
    each followed by the worker's send it wakes, and 2 workers sending. → (statuses, errors)"""
    barrier, answers, errors = threading.Barrier(13), [], []

    def door(kind: str) -> None:
        try:
            client = APIClient()
            client.force_authenticate(operator)
            barrier.wait()
            if kind == "queue":
                answer = client.post(
                    f"/api/v1/exceptions/{item.pk}/resolve/", {"action": "replay"}, format="json"
                )
                answers.append(answer.status_code)
            elif kind == "api":
                answers.append(client.post(f"/api/v1/outbox/{message.pk}/replay/").status_code)
            dispatch_outbox_message(message_id=message.pk)
        except Exception as exc:  # noqa: BLE001 collected and asserted below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [
        threading.Thread(target=door, args=(kind,))
        for kind in ["queue"] * 6 + ["api"] * 5 + ["worker"] * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors


@pytest.mark.django_db(transaction=True)
def test_thirteen_concurrent_replays_of_one_dead_message_answer_without_a_500(systems):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers (IMMEDIATE transactions): no lock order to test")
    operator = make_user("olga", "operations")
    erp = systems["erp"][0]
    for n in range(ROUNDS):
        message = make_dead_message(erp, f"TE-R{n}")
        erp.settings = {}  # the cause is fixed: the next send succeeds
        erp.save()
        item = ExceptionItem.objects.get(subject_key=f"outbox:{message.pk}")
        answers, errors = _all_doors_at_once(operator, message, item)
        assert errors == []
        # Every request is answered: done (200, 202) or already closed by the delivery (409).
        assert len(answers) == 11 and set(answers) <= {200, 202, 409}, answers
        dispatch_outbox_message(message_id=message.pk)
        message.refresh_from_db()
        item.refresh_from_db()
        assert message.status == OutboxMessage.Status.SENT
        assert item.status == "resolved"
        # One send after the replay: a second one (even an idempotent repeat) is a doubled effect.
        calls = SandboxCall.objects.filter(system=erp, idempotency_key=message.idempotency_key)
        assert list(calls.exclude(outcome="PermanentError").values_list("outcome", flat=True)) == [
            "created"
        ]
