"""The inbox doorbell, debounced (`make bench`: one Celery publish per delivery cost about the
bare view's whole work).

Each process buffers the ids of the events it committed; one long-lived thread of the process
publishes them as one task at most every DOORBELL_SECONDS: at once when the last publish is
older than that, else at the end of the interval. A request never publishes itself (no broker
round trip, no thread started, nothing to fail in the request that answered 202: `make bench`).
Every id is published after its COMMIT (docs/reliability.md rule 7) and lands in exactly one
task. A process that dies with ids still buffered (at most DOORBELL_SECONDS of them; an exiting
process flushes them) loses only their doorbell, and a broker that refuses the publish loses it
too: the sweeper re-queues received events whose doorbell is older than REQUEUE_AFTER_SECONDS.
"""

import atexit
import logging
import os
import threading
import time

from integrations.services import dispatch

logger = logging.getLogger("integrations.services.inbox")
DOORBELL_SECONDS = 0.025
DOORBELL_MAX_BATCH = 100


class Doorbell:
    def __init__(self) -> None:
        self._wake = threading.Condition(threading.Lock())
        self._ids: list[int] = []
        self._thread: threading.Thread | None = None
        self._pid = 0

    def ring(self, event_id: int) -> None:
        with self._wake:
            self._ids.append(event_id)
            # A forked process (a gunicorn or Celery child) does not inherit the thread.
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="inbox-doorbell", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        last = 0.0
        while True:
            with self._wake:
                while not self._ids:
                    self._wake.wait()
            wait = last + DOORBELL_SECONDS - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # ids committed meanwhile join this task
            last = time.monotonic()
            self.flush()

    def flush(self) -> None:
        with self._wake:
            ids, self._ids = self._ids, []
        for start in range(0, len(ids), DOORBELL_MAX_BATCH):
            try:
                dispatch.publish_inbound_events(ids[start : start + DOORBELL_MAX_BATCH])
            except Exception:  # noqa: BLE001 the broker is down: the sweeper re-queues them
                logger.exception("inbox.doorbell_failed", extra={"event_ids": ids[start:][:10]})


_doorbell = Doorbell()
atexit.register(_doorbell.flush)


def ring_inbox_doorbell(event_id: int) -> None:
    """Queue ``event_id`` to be applied (call after COMMIT)."""
    if dispatch.runs_eagerly():
        dispatch.publish_inbound_events([event_id])
        return
    _doorbell.ring(event_id)
