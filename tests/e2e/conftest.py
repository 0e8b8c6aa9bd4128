"""Fixtures of the end-to-end tests: a real worker process on the test database.

On CI: PostgreSQL and Redis (required). Locally without them: the worker runs on the same
SQLite test file and the embedded Valkey broker (config/broker.py), as `make run` does.
"""

import contextlib

import pytest
from django.conf import settings

from tests.e2e.worker import WorkerProcess
from tests.helpers import IN_CI, port_open, require


@pytest.fixture
def real_services():
    """Require PostgreSQL and Redis under CI; locally, report what the run is on."""
    from django.db import connection

    if IN_CI:
        require(
            connection.vendor == "postgresql", "the end-to-end tests need PostgreSQL (DATABASE_URL)"
        )
        require(
            bool(settings.REDIS_URL) and port_open("127.0.0.1", 6379),
            "the end-to-end tests need Redis (REDIS_URL)",
        )
    return {
        "database": connection.vendor,
        "broker": "redis" if settings.REDIS_URL else "embedded valkey",
    }


def _purge_broker() -> None:
    from config.celery import app

    # Stale tasks from an earlier run point at rows that no longer exist.
    with contextlib.suppress(Exception):  # a transport without purge support: harmless
        app.control.purge()


@pytest.fixture
def celery_worker_process(real_services, transactional_db, tmp_path):
    _purge_broker()
    worker = WorkerProcess(tmp_path / "worker.log")
    worker.start()
    print(
        f"[e2e] worker pid {worker.process.pid} on {real_services['database']} + {real_services['broker']}"
    )
    yield worker
    worker.stop()


@pytest.fixture
def start_worker(real_services, transactional_db, tmp_path):
    """start_worker(concurrency=2, args=(), **env) → a started WorkerProcess with extra
    environment (``OUTBOX_LEASE_SECONDS``, ``OUTBOX_BACKOFF_BASE_SECONDS`` … are read by the
    worker's settings) and extra ``celery worker`` arguments. Every worker started is stopped
    at the end of the test."""
    _purge_broker()
    started: list[WorkerProcess] = []

    def start(*, concurrency: int = 2, args: tuple[str, ...] = (), **env: str) -> WorkerProcess:
        worker = WorkerProcess(tmp_path / f"worker-{len(started)}.log", env=env, args=args)
        started.append(worker)
        worker.start(concurrency=concurrency)
        print(f"[e2e] worker pid {worker.process.pid} env {env}")
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def beat_sweeper():
    """Beat's job, which the e2e fixtures do not start: the sweeper every second, queueing
    messages that waited for an earlier one of their object (and due retries)."""
    import threading

    from django.db import connection

    from integrations.services.sweeper import sweep_due_work

    stop = threading.Event()

    def sweep() -> None:
        try:
            while not stop.wait(1.0):
                sweep_due_work()
        finally:
            connection.close()

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
