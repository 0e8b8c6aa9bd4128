"""A real Tryton for the tests and ``make tryton``: one SQLite database served by gunicorn.

``TrytonServer(var_dir)`` keeps everything under ``var_dir/tryton/``: ``cache/`` holds the
initialised database (``<name>.sqlite``) and ``<name>.json`` (the fingerprint it was built for
and the ids its set-up created, ``fixture_data``); ``data/<port>/`` is the working copy a
server runs on, with its config, pid file and log (one per port, so two test sessions on one
var dir never share a database). Initialising takes about a minute (trytond-admin activates
the modules, then the company set-up of ``fixture.py`` runs through ``TrytonClient`` against
a server started for it), so it happens once per fingerprint: the trytond and module
versions, the module list, the set-up's version, the current year (the fiscal years cover
the year before, this one and the next) and the admin password. Later runs copy the cached
file in well under a second.

The server is gunicorn with ONE sync worker: Tryton's threaded built-in server hands out
duplicate sequence numbers under concurrent writes, and SQLite serialises writers anyway.
The harness installs nothing: without trytond it raises ``TrytonUnavailable``.
"""

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

from integrations.connectors.tryton.client import TrytonClient
from integrations.connectors.tryton.fixture import SETUP_VERSION, set_up_company, today

MODULES = (
    "party", "company", "currency", "country", "account", "account_invoice", "product",
    "account_product", "project", "timesheet", "project_invoice", "sale_opportunity",
)  # fmt: skip
USERNAME = "admin"
DEFAULT_PASSWORD = "throughline-tryton-admin"  # a local test server's, never a real one's
INSTALL_HINT = "install the tryton group: pip install -e '.[tryton]'"


class TrytonUnavailable(RuntimeError):
    """trytond (or one of the modules, or gunicorn) cannot be imported here."""


def check_available() -> None:
    """Raise ``TrytonUnavailable`` naming what is missing and how to install it.

    Nothing of trytond is imported here: importing it sets the process's time zone to UTC
    (and patches requests and lxml), which a Django process must not inherit."""
    trytond = importlib.util.find_spec("trytond")
    missing = [name for name in ("trytond", "gunicorn") if importlib.util.find_spec(name) is None]
    if trytond is not None and trytond.submodule_search_locations:
        modules = Path(next(iter(trytond.submodule_search_locations))) / "modules"
        missing += [name for name in MODULES if not (modules / name / "tryton.cfg").exists()]
    if missing:
        raise TrytonUnavailable(f"cannot import {', '.join(missing)}: {INSTALL_HINT}")


def fingerprint(password: str) -> str:
    """What a cached database was built for; any change re-initialises it."""
    check_available()
    versions = []
    for name in ("trytond", *(f"trytond_{module}" for module in MODULES)):
        try:
            versions.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name}=?")
    secret = hashlib.sha256(password.encode()).hexdigest()[:16]  # the admin password it holds
    return ";".join([*versions, f"setup={SETUP_VERSION}", f"year={today().year}", secret])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ours(pid: int) -> bool:
    """True when ``pid`` is alive and is a gunicorn serving trytond (a pid file may be stale)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"gunicorn" in cmdline and b"trytond.application:app" in cmdline


class TrytonServer:
    """One Tryton database under ``var_dir/tryton`` and the gunicorn serving it."""

    def __init__(
        self,
        var_dir: Path,
        *,
        port: int | None = None,
        database: str = "throughline",
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        self.home = Path(var_dir) / "tryton"
        self.cache_dir = self.home / "cache"
        self.port = port or free_port()
        # One working folder per port: two sessions on one var dir never share a database.
        self.data_dir = self.home / "data" / str(self.port)
        self.database = database
        self.username = USERNAME
        self.password = password
        self.process: subprocess.Popen | None = None
        self._fixture_data: dict | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fixture_data(self) -> dict:
        """The ids the set-up created (company, currencies, accounts, taxes …)."""
        if self._fixture_data is None:
            manifest = self.data_dir / f"{self.database}.json"
            if not manifest.exists():
                raise RuntimeError("no Tryton database yet: call ensure_database() first")
            self._fixture_data = json.loads(manifest.read_text())["fixture_data"]
        return self._fixture_data

    def client(self, *, timeout: float = 30.0) -> TrytonClient:
        """A new client, logged in as the administrator."""
        client = TrytonClient(
            base_url=self.url,
            database=self.database,
            username=self.username,
            password=self.password,
            timeout=timeout,
        )
        client.login()
        return client

    # The database

    def ensure_database(self, *, reset: bool = True) -> dict:
        """Put an initialised database in the working folder (building the cache first if it
        is missing or was built for another fingerprint) and return its ``fixture_data``.
        ``reset=False`` keeps a working copy of the same fingerprint, with what was written
        to it since."""
        check_available()
        if self.process is not None:
            raise RuntimeError("stop the Tryton server before replacing its database")
        wanted = fingerprint(self.password)
        cached_db = self.cache_dir / f"{self.database}.sqlite"
        cached_manifest = self.cache_dir / f"{self.database}.json"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / f"{self.database}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a copy never sees half of one
            if _manifest_fingerprint(cached_manifest) != wanted or not cached_db.exists():
                self._initialise(wanted)
            working_manifest = self.data_dir / f"{self.database}.json"
            if reset or _manifest_fingerprint(working_manifest) != wanted:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                target = self.data_dir / f"{self.database}.sqlite"
                _remove_sqlite(target)
                shutil.copyfile(cached_db, target)
                shutil.copyfile(cached_manifest, working_manifest)
        self._fixture_data = None
        return self.fixture_data

    def discard(self) -> None:
        """Stop the server and remove its working folder (the cache stays)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _initialise(self, wanted: str) -> None:
        """Build the cache: trytond-admin, then the company set-up through the client."""
        build = self.home / "build" / self.database  # under the lock: one builder at a time
        shutil.rmtree(build, ignore_errors=True)  # what an interrupted build left
        build.mkdir(parents=True)
        started = time.monotonic()
        self._activate_modules(build)
        builder = TrytonServer(self.home.parent, database=self.database, password=self.password)
        builder.data_dir = build
        builder.start(timeout=180)
        try:
            fixture_data = set_up_company(builder.client(timeout=300))
        finally:
            builder.stop()
        _checkpoint(build / f"{self.database}.sqlite")
        fixture_data["initialised_in_s"] = round(time.monotonic() - started, 1)
        manifest = build / f"{self.database}.json"
        manifest.write_text(json.dumps({"fingerprint": wanted, "fixture_data": fixture_data}))
        _remove_sqlite(self.cache_dir / f"{self.database}.sqlite", sidecars_only=True)
        os.replace(build / f"{self.database}.sqlite", self.cache_dir / f"{self.database}.sqlite")
        os.replace(manifest, self.cache_dir / f"{self.database}.json")
        shutil.rmtree(build, ignore_errors=True)

    def _activate_modules(self, build: Path) -> None:
        config = self._write_config(build, free_port())
        (build / f"{self.database}.sqlite").touch()  # trytond-admin does not create the file
        password_file = build / "admin-password"
        password_file.write_text(self.password)
        password_file.chmod(0o600)
        log_path = build / "trytond-admin.log"
        command = [
            _executable("trytond-admin"), "-c", str(config), "-d", self.database,
            "--activate-dependencies", "-u", *MODULES, "--email", "admin@example.com",
        ]  # fmt: skip
        env = {**os.environ, "TRYTONPASSFILE": str(password_file)}
        try:
            with open(log_path, "wb") as log:
                done = subprocess.run(  # noqa: S603 fixed argv
                    command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False, timeout=900
                )
        finally:
            password_file.unlink()
        if done.returncode != 0:
            raise RuntimeError(
                f"trytond-admin failed ({done.returncode}): {_tail(log_path)} (log: {log_path})"
            )

    def _write_config(self, data_dir: Path, port: int) -> Path:
        config = data_dir / "trytond.conf"
        config.write_text(
            "[database]\nuri = sqlite://\n"
            f"path = {data_dir}\n"
            f"[web]\nlisten = 127.0.0.1:{port}\n"
            "[session]\ntimeout = 36000\n"
        )
        return config

    # The server

    def start(self, *, timeout: float = 90.0) -> "TrytonServer":
        """Serve the working database on ``port`` (given, or a free loopback port picked when
        this object was made) and wait until a login answers. A server that this working
        folder's pid file names (a run that died) is stopped first."""
        if self.process is not None and self.process.poll() is None:
            return self
        check_available()
        if not (self.data_dir / f"{self.database}.sqlite").exists():
            raise RuntimeError("no Tryton database yet: call ensure_database() first")
        self.stop()  # a stale one from a run that died, found by its pid file
        if not _port_free(self.port):  # else the readiness probe could reach another server
            raise RuntimeError(f"port {self.port} is in use: choose another one")
        config = self._write_config(self.data_dir, self.port)
        env = {**os.environ, "TRYTOND_CONFIG": str(config), "TRYTOND_DATABASE_NAMES": self.database}
        command = [
            sys.executable, "-m", "gunicorn", "-w", "1", "--no-control-socket",
            "--timeout", "300", "--graceful-timeout", "5",
            "-b", f"127.0.0.1:{self.port}", "trytond.application:app",
        ]  # fmt: skip
        with open(self.data_dir / "trytond.log", "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 fixed argv
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._pid_file.write_text(str(self.process.pid))
        try:
            self._wait_until_up(timeout)
        except BaseException:  # Ctrl-C too: never leave a server behind
            self.stop()
            raise
        return self

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "gunicorn.pid"

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe = {"id": 0, "method": "common.server.version", "params": []}
        while True:
            if self.process is None or self.process.poll() is not None:
                log = self.data_dir / "trytond.log"
                raise RuntimeError(f"the Tryton server exited: {_tail(log)} (log: {log})")
            try:
                if requests.post(f"{self.url}/rpc/", json=probe, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Tryton server did not answer on {self.url} in {timeout} s")
            time.sleep(0.2)
        self.client(timeout=max(deadline - time.monotonic(), 30.0))  # the login answers

    def stop(self, *, grace: float = 5.0) -> None:
        """SIGTERM the server (by its pid), SIGKILL its process group after ``grace`` s."""
        if self.process is not None:
            if self.process.poll() is None:  # once reaped, its pid may be someone else's
                _terminate(self.process.pid, self.process, grace)
        elif (pid := _read_pid(self._pid_file)) is not None and _ours(pid):
            _terminate(pid, None, grace)
        self.process = None
        self._pid_file.unlink(missing_ok=True)


def _terminate(pid: int, process: subprocess.Popen | None, grace: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return
        if process is None and not _ours(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)  # the master and its worker (started in a new session)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait(timeout=10)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _manifest_fingerprint(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("fingerprint")
    except (OSError, ValueError):
        return None


def _remove_sqlite(path: Path, *, sidecars_only: bool = False) -> None:
    """Remove a database file with its stale write-ahead log and shared-memory files."""
    for suffix in ("-wal", "-shm", "-journal", *(() if sidecars_only else ("",))):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so that one file is the whole database."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    _remove_sqlite(path, sidecars_only=True)


def _executable(name: str) -> str:
    """A script installed next to this interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise TrytonUnavailable(f"cannot find {name}: {INSTALL_HINT}")
    return found


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"
