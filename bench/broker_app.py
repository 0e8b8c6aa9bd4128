"""The tiny Celery app bench/embedded_brokers.py measures each broker candidate with.

Not the Django app: a task here is one SQLite transaction, so what differs between candidates
is the broker alone. The worker settings mirror config/settings.py's ``CELERY_*`` (acks late,
reject on worker lost, prefetch 1, cancel running tasks on connection loss, retry the broker
forever, json only). Configured by the environment the bench sets:

- ``BROKERBENCH_URL``: the broker URL;
- ``BROKERBENCH_TRANSPORT_OPTIONS``: JSON of the broker transport options;
- ``BROKERBENCH_DB``: the SQLite file the task writes to;
- ``BROKERBENCH_POLLING``: seconds between polls of a polling transport. The filesystem
  transport takes it as the transport option ``polling_interval``; the SQLAlchemy transport
  passes every transport option to ``create_engine`` (which refuses that one), so for it the
  value is set on its Transport class instead.

The task ``bench.record(uid, sent, work_ms)`` sleeps ``work_ms`` (the "work"), then in one
``BEGIN IMMEDIATE`` transaction inserts the row of ``uid`` if it is new (``INSERT OR IGNORE``)
and adds one to its execution counter: the bench counts ids never executed (lost) and
executions beyond one per id (re-executions, allowed by at-least-once delivery).

``python -m bench.broker_app purge`` empties the queue between phases.

``python -m bench.broker_app publish PREFIX START COUNT [--rate R] [--work-ms M] [--deadline S]``
publishes ``PREFIX-START`` … ``PREFIX-(START+COUNT-1)`` and prints one JSON line with what it
published, how long it took and the publish errors it retried.
"""

import argparse
import json
import os
import sqlite3
import sys
import time

from celery import Celery

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    n INTEGER NOT NULL DEFAULT 0,
    sent REAL,
    first_done REAL,
    last_done REAL
)
"""

app = Celery("brokerbench")
app.conf.update(
    broker_url=os.environ.get("BROKERBENCH_URL", "memory://"),
    broker_transport_options=json.loads(os.environ.get("BROKERBENCH_TRANSPORT_OPTIONS", "{}")),
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_cancel_long_running_tasks_on_connection_loss=True,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,
    task_soft_time_limit=45,
    task_time_limit=60,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_default_queue="brokerbench",
)

if os.environ.get("BROKERBENCH_POLLING") and app.conf.broker_url.startswith("sqla+"):
    from kombu.transport import sqlalchemy as _sqla

    _sqla.Transport.polling_interval = float(os.environ["BROKERBENCH_POLLING"])

_connection: sqlite3.Connection | None = None


def connect(path: str) -> sqlite3.Connection:
    """A connection with the embedded default's SQLite options (WAL, synchronous NORMAL)."""
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(SCHEMA)
    return con


def _db() -> sqlite3.Connection:
    global _connection
    if _connection is None:
        _connection = connect(os.environ["BROKERBENCH_DB"])
    return _connection


@app.task(name="bench.record")
def record(uid: str, sent: float, work_ms: float = 0) -> None:
    if work_ms:
        time.sleep(work_ms / 1000)
    con = _db()
    now = time.time()
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(
            "INSERT OR IGNORE INTO runs (id, n, sent, first_done) VALUES (?, 0, ?, ?)",
            (uid, sent, now),
        )
        con.execute("UPDATE runs SET n = n + 1, last_done = ? WHERE id = ?", (now, uid))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def publish(
    prefix: str, start: int, count: int, rate: float, work_ms: float, deadline: float
) -> dict:
    """Publish the ids in order (at ``rate`` per second when given) until ``deadline`` seconds
    have passed; a publish that raises is retried (counted in ``errors``)."""
    begin = time.monotonic()
    stop_at = begin + deadline
    published = errors = 0
    last_error = ""
    with app.producer_or_acquire() as producer:
        i = 0
        while i < count and time.monotonic() < stop_at:
            if rate:
                due = begin + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            try:
                record.apply_async(
                    (f"{prefix}-{start + i}", time.time(), work_ms), producer=producer
                )
            except Exception as exc:  # noqa: BLE001 counted and retried: the figure is the point
                errors += 1
                last_error = f"{type(exc).__name__}: {exc}"[:200]
                time.sleep(0.2)
                continue
            published += 1
            i += 1
    return {
        "published": published,
        "first": start,
        "seconds": time.monotonic() - begin,
        "errors": errors,
        "last_error": last_error,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broker_app")
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish")
    pub.add_argument("prefix")
    pub.add_argument("start", type=int)
    pub.add_argument("count", type=int)
    pub.add_argument("--rate", type=float, default=0)
    pub.add_argument("--work-ms", type=float, default=0)
    pub.add_argument("--deadline", type=float, default=60)
    sub.add_parser("purge")
    args = parser.parse_args(argv)
    if args.command == "purge":
        print(json.dumps({"purged": app.control.purge()}), flush=True)
        return
    result = publish(args.prefix, args.start, args.count, args.rate, args.work_ms, args.deadline)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
