"""The inbox doorbell (a process's committed event ids, published as few tasks): every id in
exactly one task, published by the doorbell's own thread, never by the request that rang."""

import threading
import time

from integrations.services.inbox import doorbell as inbox_doorbell
from integrations.tasks import process_inbound_events_task


def test_every_id_lands_in_exactly_one_task_published_off_the_ringing_threads(monkeypatch):
    published: list[tuple[list[int], int]] = []
    monkeypatch.setattr(
        process_inbound_events_task,
        "delay",
        lambda ids: published.append((list(ids), threading.get_ident())),
    )
    doorbell = inbox_doorbell.Doorbell()
    ringers = [
        threading.Thread(target=lambda n=n: [doorbell.ring(n * 1000 + i) for i in range(150)])
        for n in range(4)
    ]
    for thread in ringers:
        thread.start()
    for thread in ringers:
        thread.join()
    deadline = time.monotonic() + 5
    while sum(len(ids) for ids, _ in published) < 600 and time.monotonic() < deadline:
        time.sleep(0.01)

    ids = [event_id for batch, _ in published for event_id in batch]
    assert sorted(ids) == sorted(n * 1000 + i for n in range(4) for i in range(150))
    assert all(len(batch) <= inbox_doorbell.DOORBELL_MAX_BATCH for batch, _ in published)
    assert len(published) < 600 / 10  # debounced: a task carries many ids
    ringing = {thread.ident for thread in ringers} | {threading.get_ident()}
    assert not {publisher for _, publisher in published} & ringing


def test_a_refused_publish_is_logged_not_raised_and_the_doorbell_keeps_ringing(monkeypatch):
    calls: list[list[int]] = []

    def flaky(ids):
        calls.append(list(ids))
        if len(calls) == 1:
            raise ConnectionError("broker down")

    monkeypatch.setattr(process_inbound_events_task, "delay", flaky)
    doorbell = inbox_doorbell.Doorbell()
    doorbell.ring(1)  # its publish fails: the sweeper re-queues event 1 later
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    doorbell.ring(2)
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [[1], [2]]
