"""A real Celery worker process for the end-to-end tests (never eager)."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from config.supervisor import celery_argv


def database_url() -> str:
    """The URL of the test database this process uses, for the worker to share it."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "postgresql":
        user = params.get("USER") or "postgres"
        password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
        host, port = params.get("HOST") or "127.0.0.1", params.get("PORT") or 5432
        return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"
    return f"sqlite:///{params['NAME']}"


def wait_for(
    predicate, *, timeout: float = 45.0, interval: float = 0.2, message: str = "condition"
):
    """Poll until ``predicate()`` is truthy; fails the test with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")


class WorkerProcess:
    """``celery -A config worker`` as a child process on the test database."""

    def __init__(
        self, log_path: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.log_path = log_path
        self.extra_args = args  # e.g. ("--include", "tests.e2e.poison")
        self.extra_env = dict(env or {})  # e.g. OUTBOX_LEASE_SECONDS, read by the worker's settings
        self.process: subprocess.Popen | None = None
        self._log = None
        self._ready_before = 0

    def start(self, *, concurrency: int = 2, wait_ready: bool = True) -> None:
        """Start the worker; by default wait until it is consuming (``wait_ready=False``: a
        worker started while its broker is down, which keeps retrying; see wait_ready())."""
        env = dict(os.environ, DATABASE_URL=database_url(), PYTHONUNBUFFERED="1", **self.extra_env)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 closed in stop()
        self._ready_before = self.log_path.read_bytes().count(b"ready.")
        self.process = subprocess.Popen(  # noqa: S603 fixed argv
            celery_argv(
                "worker",
                *("--pool", "prefork", "--without-mingle", "--without-gossip"),
                *("--hostname", f"e2e-{os.getpid()}-{time.monotonic_ns()}@%h"),
                *self.extra_args,
                concurrency=concurrency,
            ),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the worker started last logs that it is consuming."""
        wait_for(
            # The log is appended to across restarts: wait for one more "ready." line.
            lambda: self.log_path.read_bytes().count(b"ready.") > self._ready_before,
            timeout=timeout,
            message="the Celery worker to start",
        )

    def children(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],  # noqa: S603 S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the main process and its pool children (no warm shutdown, no acks)."""
        if self.process and self.process.poll() is None:
            for pid in self.children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
