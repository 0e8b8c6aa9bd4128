"""A small process supervisor for ``run_all``: start children, restart any that exits.

The embedded default runs its broker, web server, worker and beat as children of one
command. A child that exits (a crash, an OOM kill, a ``kill -9``) is started again after a
backoff that doubles from 1 s to 30 s and resets once the child has stayed up for a minute;
the others go on untouched, so the web keeps answering while a worker comes back. A one-shot
child (the demo firm's load) is started again only when it fails, a few times at most.

Every start writes ``var/run_all.json`` (each child's pid, start time and restarts), which is
how an operator, the soak script and the tests find the processes.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BACKOFF_FIRST = 1.0  # seconds before the first restart
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a child up this long starts again from the first backoff
ONE_SHOT_ATTEMPTS = 3
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


@dataclass
class Child:
    name: str
    argv: list[str]
    one_shot: bool = False  # run to completion; restarted only when it fails
    env: dict[str, str] | None = None
    before_start: Callable[[], None] | None = None  # e.g. remove beat's stale pidfile
    process: subprocess.Popen | None = None
    started_at: float = 0.0  # on the supervisor's clock
    started_iso: str = ""
    restarts: int = 0
    failures_in_a_row: int = 0
    restart_at: float | None = None
    done: bool = False


@dataclass
class Supervisor:
    state_path: Path
    log: Callable[[str], None]
    children: dict[str, Child] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def add(self, child: Child, *, start: bool = True) -> Child:
        self.children[child.name] = child
        if start:
            self._start(child)
        return child

    def _start(self, child: Child) -> None:
        if child.before_start:
            child.before_start()
        env = dict(os.environ, **(child.env or {}))
        # Its own process group, so stopping a worker also stops its pool children; and on
        # Linux the child is sent SIGTERM if the supervisor itself dies (kill -9 included).
        child.process = subprocess.Popen(  # noqa: S603 fixed argv
            child.argv, env=env, start_new_session=True, preexec_fn=_die_with_parent
        )
        child.started_at = self.clock()
        child.started_iso = datetime.now(tz=UTC).isoformat(timespec="seconds")
        child.restart_at = None
        self._write_state()

    def poll(self) -> None:
        """Notice children that exited and restart those whose backoff has passed."""
        now = self.clock()
        for child in self.children.values():
            if child.done:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self.log(f"{child.name}: restarting (restart {child.restarts})")
                    self._start(child)
                continue
            code = child.process.poll() if child.process else None
            if code is None:
                continue
            uptime = now - child.started_at
            if child.one_shot and code == 0:
                child.done = True
                self.log(f"{child.name}: finished")
                self._write_state()
                continue
            child.failures_in_a_row = 1 if uptime >= HEALTHY_AFTER else child.failures_in_a_row + 1
            if child.one_shot and child.failures_in_a_row >= ONE_SHOT_ATTEMPTS:
                child.done = True
                self.log(
                    f"{child.name}: exited with {_describe(code)} {ONE_SHOT_ATTEMPTS} times; "
                    "giving up (run it again by hand)"
                )
                self._write_state()
                continue
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (child.failures_in_a_row - 1))
            child.restart_at = now + delay
            self.log(
                f"{child.name}: exited with {_describe(code)} after {uptime:.0f} s; "
                f"restarting in {delay:.0f} s"
            )

    def stop(self, order: list[str], timeout: float = 15.0) -> None:
        """Stop children in ``order`` (the broker last, so workers can still acknowledge)."""
        for name in order:
            child = self.children.get(name)
            if not child or not child.process or child.process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
            try:
                child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "children": {
                child.name: {
                    "pid": child.process.pid if child.process else None,
                    "running": bool(child.process and child.process.poll() is None),
                    "started_at": child.started_iso,
                    "restarts": child.restarts,
                    "done": child.done,
                }
                for child in self.children.values()
            },
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def reap_orphans(state_path: Path, log: Callable[[str], None]) -> None:
    """Before starting: refuse when another supervisor is alive; stop the process groups a
    dead one left behind (a kill -9 of run_all where PDEATHSIG is not available)."""
    state = _read(state_path)
    owner = state.get("pid")
    if owner and owner != os.getpid() and _alive(owner):
        raise RuntimeError(f"run_all is already running (pid {owner}); stop it first")
    for name, entry in state.get("children", {}).items():
        pid = entry.get("pid")
        if pid and _alive(pid):
            log(f"{name}: stopping pid {pid}, left running by an earlier run_all")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive: /proc says so on Linux.
    with contextlib.suppress(OSError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_state(var_dir: Path) -> dict:
    """What ``run_all`` last wrote about its children (empty when it is not running)."""
    return _read(Path(var_dir) / "run_all.json")


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def celery_argv(program: str, *args: str, concurrency: int | None = None) -> list[str]:
    """``python -m celery -A config <program> --loglevel INFO ...``: the one way Throughline
    starts a worker or beat, whether run_all, a test or a benchmark starts it."""
    argv = [sys.executable, "-m", "celery", "-A", "config", program, "--loglevel", "INFO"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return [*argv, *args]
