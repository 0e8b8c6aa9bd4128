"""`manage.py run_all` as a child of a bench script: the embedded default exactly as `make run`
starts it (SQLite, the embedded Valkey broker, gunicorn, a worker, beat), in its own var/
folder and port, with helpers to read its state, measure its processes and post to it.

Used by bench/embedded.py (events/s end to end) and bench/soak.py (an hour with traffic and a
worker killed every 10 minutes). Never imported by the product.
"""

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunAll:
    def __init__(self, work: Path, *, demo: bool, worker_args: tuple[str, ...] = ()) -> None:
        self.work = work
        self.var_dir = work / "var"
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "run_all.log"
        self.demo = demo
        self.worker_args = worker_args
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_TASK_ALWAYS_EAGER")
        }
        env.update(
            THROUGHLINE_VAR_DIR=str(self.var_dir),
            THROUGHLINE_BIND=f"127.0.0.1:{self.port}",
            THROUGHLINE_DEMO="1" if self.demo else "0",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",  # the bench reads figures from the database, not the log
        )
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run a management command against this instance (its database and var/)."""
        result = subprocess.run(  # noqa: S603 fixed argv
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return result.stdout

    def start(self, timeout: float = 180) -> float:
        """Start run_all --prepare; return the seconds until /readyz answered 200."""
        started = time.monotonic()
        argv = [sys.executable, "manage.py", "run_all", "--prepare"]
        argv += [f"--worker-arg={arg}" for arg in self.worker_args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 fixed argv
                argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"run_all exited early:\n{self.log_tail()}")
            if self.http_status("/readyz") == 200:
                return time.monotonic() - started
            time.sleep(0.5)
        raise RuntimeError(f"run_all not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def http_status(self, path: str, timeout: float = 5) -> int | None:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as response:  # noqa: S310 loopback
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def state(self) -> dict:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            return json.loads((self.var_dir / "run_all.json").read_text())
        return {}

    def child_pid(self, name: str) -> int | None:
        entry = self.state().get("children", {}).get(name, {})
        return entry.get("pid") if entry.get("running") else None

    def kill(self, name: str) -> int:
        pid = self.child_pid(name)
        if not pid:
            raise RuntimeError(f"{name} is not running: {self.state()}")
        os.killpg(pid, signal.SIGKILL)
        return pid

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            pid = self.child_pid(name)
            if pid and pid != old_pid:
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{name} not restarted within {timeout:.0f} s:\n{self.log_tail()}")

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each child's process group (a worker with its pool), in MB."""
        groups: dict[int, float] = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                pgid, rss_pages = int(fields[2]), int(fields[21])
                groups[pgid] = groups.get(pgid, 0) + rss_pages * os.sysconf("SC_PAGE_SIZE")
        return {
            name: round(groups.get(entry["pid"], 0) / 2**20, 1)
            for name, entry in self.state().get("children", {}).items()
            if entry.get("running") and entry.get("pid")
        }

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the instance's SQLite file directly (read-only, outside Django)."""
        path = self.var_dir / "throughline.sqlite3"
        with contextlib.closing(
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        ) as conn:
            return conn.execute(sql, params).fetchall()

    def secret(self, system: str) -> str:
        return json.loads((self.var_dir / "demo-secrets.json").read_text())[system]

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def supervisor_lines(self) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            return [
                line
                for line in self.log_path.read_text(errors="replace").splitlines()
                if line.startswith("run_all: ")
            ]
        return []


def write_doc_section(doc: Path, begin: str, end: str, section: str) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) into ``doc``, in place
    of the one between those markers, or at the end; the rest of the file is kept."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text:
        pattern = re.escape(begin) + ".*?" + re.escape(end)
        text = re.sub(pattern, lambda _m: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)
