"""``manage.py run_all`` as a person runs it (`make run`), on the embedded broker: a child
killed with SIGKILL comes back while the web keeps answering, and a worker killed in the
middle of its batches loses and doubles nothing.

run_all runs as a real process tree (embedded Valkey, gunicorn, a Celery worker, beat) on the
test database, with its own var/ and port. Its broker is always the embedded one, also on CI
(REDIS_URL is cleared for it): this is the embedded default's own proof. Signed deliveries go
over real HTTP to its gunicorn; the sandbox ERP's records are the checker's ground truth.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from django.conf import settings

from integrations.models import InboundEvent, OutboxMessage
from tests.e2e.support import created_calls_per_key, effects_per_key, post_approvals
from tests.e2e.worker import database_url, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunAll:
    """``manage.py run_all`` in the background, with a way to find and kill its children."""

    def __init__(self, tmp_path) -> None:
        self.var_dir = tmp_path / "var"
        self.var_dir.mkdir()
        # The same secret key as this process: the systems (and their webhook secrets, which
        # are encrypted with a key derived from it when none is configured) are made here.
        (self.var_dir / "secret_key").write_text(settings.SECRET_KEY)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "run_all.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(
            os.environ,
            DATABASE_URL=database_url(),
            THROUGHLINE_VAR_DIR=str(self.var_dir),
            THROUGHLINE_BIND=f"127.0.0.1:{self.port}",
            THROUGHLINE_DEMO="0",
            REDIS_URL="",  # the embedded broker, on CI too
            OUTBOX_LEASE_SECONDS="20",  # rescue a killed worker's claims sooner than in production
            PYTHONUNBUFFERED="1",
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 fixed argv
                [
                    sys.executable,
                    "manage.py",
                    "run_all",
                    "--worker-arg=--include=tests.e2e.plugins",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.ready, timeout=90, message="run_all to be ready\n" + self.log_tail())

    def ready(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
        return False

    def state(self) -> dict:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            return json.loads((self.var_dir / "run_all.json").read_text())
        return {}

    def pid(self, child: str) -> int | None:
        entry = self.state().get("children", {}).get(child, {})
        return entry.get("pid") if entry.get("running") else None

    def kill(self, child: str) -> int:
        """SIGKILL the child's whole process group (a worker with its pool processes)."""
        pid = self.pid(child)
        assert pid, f"{child} is not running: {self.state()}"
        os.killpg(pid, signal.SIGKILL)
        return pid

    def restarted(self, child: str, old_pid: int) -> bool:
        pid = self.pid(child)
        return bool(pid and pid != old_pid and _alive(pid))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class HealthProbe(threading.Thread):
    """GET /healthz every 50 ms until stopped; counts answers that were not 200."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answered = 0
        self.failures: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        while not self._halt.is_set():
            try:
                response = session.get(f"{self.url}/healthz", timeout=5)
                if response.status_code == 200:
                    self.answered += 1
                else:
                    self.failures.append(str(response.status_code))
            except requests.RequestException as exc:
                self.failures.append(type(exc).__name__)
            time.sleep(0.05)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


@pytest.fixture
def run_all(real_services, systems, tmp_path):
    runner = RunAll(tmp_path)
    runner.start()
    yield runner
    runner.stop()


def test_a_worker_killed_mid_batch_comes_back_and_drains_with_nothing_lost_or_doubled(
    run_all, systems
):
    probe = HealthProbe(run_all.url)
    probe.start()
    count = 300
    codes = post_approvals(run_all.url, systems["psa"][1], count, prefix="runall")
    assert sum(n for (_, code), n in codes.items() if code == 202) == count, codes

    # Kill the worker while it is applying batches and sending: some effects are out, most not.
    wait_for(
        lambda: 0 < len(effects_per_key()) < count or len(effects_per_key()) == count,
        timeout=60,
        message="the worker to start draining\n" + run_all.log_tail(),
    )
    killed = []
    for _ in range(2):
        if len(effects_per_key()) == count:
            break
        killed.append(run_all.kill("worker"))
        wait_for(
            lambda pid=killed[-1]: run_all.restarted("worker", pid),
            timeout=30,
            message="run_all to restart the worker\n" + run_all.log_tail(),
        )
        time.sleep(1.5)
    assert killed, "the worker drained 300 events before it could be killed"

    sent = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT)
    wait_for(
        lambda: sent.count() == count
        and not InboundEvent.objects.exclude(status=InboundEvent.Status.PROCESSED).exists(),
        timeout=150,
        message=f"{count} messages sent after the restart ({sent.count()} so far)\n"
        + run_all.log_tail(),
    )
    probe.stop()

    effects = effects_per_key()
    assert len(effects) == count  # lost = 0
    assert set(effects.values()) == {1}  # doubled = 0
    assert set(created_calls_per_key().values()) == {1}
    assert probe.failures == [], f"the web failed {len(probe.failures)} times: {probe.failures}"
    assert probe.answered > 10
    assert "worker: exited with signal SIGKILL" in run_all.log_path.read_text()
    assert run_all.ready()  # /readyz: a worker answers a ping again


def test_beat_killed_comes_back_and_the_retry_clock_goes_on(run_all, systems):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.models import ExternalSystem

    probe = HealthProbe(run_all.url)
    probe.start()
    # A short ERP outage: the first attempts fail and wait for their retry, which only beat's
    # sweeper puts back on the queue (the retry clock lives in the database).
    outage_until = timezone.now() + timedelta(seconds=4)
    ExternalSystem.objects.filter(slug="erp").update(
        settings={"sandbox": {"outage_until": outage_until.isoformat()}}
    )
    old_beat = run_all.kill("beat")
    codes = post_approvals(run_all.url, systems["psa"][1], 20, prefix="beat")
    assert sum(n for (_, code), n in codes.items() if code == 202) == 20
    wait_for(
        lambda: run_all.restarted("beat", old_beat),
        timeout=30,
        message="run_all to restart beat\n" + run_all.log_tail(),
    )
    wait_for(
        lambda: len(effects_per_key()) == 20,
        timeout=120,
        message=f"20 effects after beat came back ({len(effects_per_key())} so far)\n"
        + run_all.log_tail(),
    )
    probe.stop()
    assert set(effects_per_key().values()) == {1}
    assert probe.failures == [], f"the web failed {len(probe.failures)} times: {probe.failures}"
    assert "beat: exited with signal SIGKILL" in run_all.log_path.read_text()
