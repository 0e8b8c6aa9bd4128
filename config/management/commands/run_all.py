import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config import broker
from config.supervisor import Child, Supervisor, celery_argv, reap_orphans

ADMIN_PASSWORD_FILE = "admin-password"  # under var/, written by bootstrap when it generates one


class Command(BaseCommand):
    help = (
        "Run Throughline on one machine: the embedded broker (unless REDIS_URL is set), the web "
        "server (gunicorn), a Celery worker and Celery beat, each restarted with a backoff if it "
        "exits; with --prepare, first migrate, bootstrap and load the reference data, and load "
        "the demo firm once the web answers (THROUGHLINE_DEMO=0 skips it). Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=settings.THROUGHLINE_BIND)
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--worker-arg",
            action="append",
            default=[],
            dest="worker_args",
            metavar="ARG",
            help="one more argument for `celery worker` (repeatable), e.g. "
            "--worker-arg=--max-tasks-per-child=1000",
        )
        parser.add_argument(
            "--prepare",
            action="store_true",
            help="migrate, bootstrap, load docs/examples/reference.json and collect static files "
            "first, then load the demo firm (what `make run` does)",
        )

    def handle(
        self, *args, bind: str, concurrency: int, worker_args: list[str], prepare: bool, **options
    ):
        var_dir = Path(settings.VAR_DIR)
        state_path = var_dir / "run_all.json"
        try:
            reap_orphans(state_path, self._log)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        supervisor = Supervisor(state_path=state_path, log=self._log)
        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if not settings.REDIS_URL:
                supervisor.add(Child("broker", broker.server_command(var_dir)))
                if not broker.wait_until_up(var_dir):
                    raise CommandError(
                        f"the embedded broker did not start on {broker.socket_path(var_dir)}"
                    )
            first_run = False
            if prepare:
                first_run = self._prepare()
            for child in self._children(bind, concurrency, worker_args, var_dir):
                supervisor.add(child)
            url = "http://" + bind.replace("0.0.0.0", "127.0.0.1")
            self._wait_for_web(url, supervisor, lambda: stopping)
            if prepare and os.environ.get("THROUGHLINE_DEMO", "1") != "0":
                supervisor.add(
                    Child(
                        "demo",
                        [sys.executable, "manage.py", "demo", "load", "--url", url],
                        one_shot=True,
                    )
                )
            self.stdout.write(self.style.SUCCESS(self._banner(url, first_run)))
            while not stopping:
                supervisor.poll()
                time.sleep(0.2)
        finally:
            supervisor.stop(["demo", "web", "beat", "worker", "broker"])

    def _log(self, line: str) -> None:
        self.stderr.write(f"run_all: {line}")

    def _prepare(self) -> bool:
        """Migrations, first-run set-up and reference data, in this process (the broker is up,
        so anything they publish is queued). True when this run created the admin user."""
        password_file = Path(settings.VAR_DIR) / ADMIN_PASSWORD_FILE
        existed = password_file.exists()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap")
        call_command("load_reference", str(settings.BASE_DIR / "docs/examples/reference.json"))
        call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()  # the children open their own
        return password_file.exists() and not existed

    def _children(
        self, bind: str, concurrency: int, worker_args: list[str], var_dir: Path
    ) -> list[Child]:
        bin_dir = os.path.dirname(sys.executable)
        pidfile = var_dir / "celerybeat.pid"

        def remove_stale_pidfile() -> None:
            # run_all owns beat: a pidfile left by a killed beat would stop the new one.
            pidfile.unlink(missing_ok=True)

        web = [
            *(os.path.join(bin_dir, "gunicorn"), "config.wsgi:application", "--bind", bind),
            *("--worker-class", "gthread", "--workers", "2", "--threads", "4"),
            *("--access-logfile", "-"),
        ]
        worker = celery_argv(
            "worker", "--hostname", "worker@%h", *worker_args, concurrency=concurrency
        )
        beat = celery_argv("beat", "--pidfile", str(pidfile))
        return [
            Child("web", web),
            Child("worker", worker),
            Child("beat", beat, before_start=remove_stale_pidfile),
        ]

    def _wait_for_web(self, url: str, supervisor: Supervisor, stopping, timeout=60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping():
            supervisor.poll()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 our own URL
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        if not stopping():
            self._log(f"the web server did not answer {url}/healthz within {timeout:.0f} s")

    def _banner(self, url: str, first_run: bool) -> str:
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker_name = (
            "Redis"
            if settings.REDIS_URL
            else f"embedded Valkey on {broker.socket_path(settings.VAR_DIR)}"
        )
        password_file = Path(settings.VAR_DIR) / ADMIN_PASSWORD_FILE
        user = os.environ.get("THROUGHLINE_ADMIN_USER", "admin")
        if "THROUGHLINE_ADMIN_PASSWORD" in os.environ:
            admin = f"{user} / the password in THROUGHLINE_ADMIN_PASSWORD"
        elif first_run and password_file.exists():
            admin = f"{user} / {password_file.read_text().strip()}  (kept in {password_file})"
        elif password_file.exists():
            admin = f"{user} / the password in {password_file}"
        else:
            admin = f"{user} / the password printed when it was created"
        demo = os.environ.get("THROUGHLINE_DEMO", "1") != "0"
        return (
            f"\nThroughline is running (database: {engine}, broker: {broker_name})\n"
            f"  pages      {url}/   (sign in: {admin})\n"
            f"  admin      {url}/admin/\n"
            f"  API        {url}/api/v1/   (OpenAPI: {url}/api/v1/docs/)\n"
            f"  webhooks   {url}/api/v1/hooks/<crm|psa|erp>/  (secrets: var/demo-secrets.json)\n"
            f"  health     {url}/healthz  {url}/readyz\n"
            + (
                "  demo       the demo firm loads in the background (progress below);\n"
                "             live traffic: .venv/bin/python manage.py demo traffic start\n"
                if demo
                else ""
            )
            + "  try:       .venv/bin/python manage.py send_event --system psa\n"
            "A child that exits is restarted; Ctrl-C stops them all.\n"
        )
