import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn), a Celery worker and Celery beat together; Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("THROUGHLINE_BIND", "127.0.0.1:8000"))
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, bind: str, concurrency: int, **options):
        python = sys.executable
        bin_dir = os.path.dirname(python)
        commands = {
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "config.wsgi:application",
                "--bind",
                bind,
                "--worker-class",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--hostname",
                "worker@%h",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile",
                str(settings.VAR_DIR / "celerybeat.pid"),
            ],
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603 fixed argv
        host = bind if not bind.startswith("0.0.0.0") else bind.replace("0.0.0.0", "127.0.0.1")
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = "Redis" if settings.REDIS_URL else "the filesystem transport under var/celery"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nThroughline is running (database: {engine}, "
                f"broker: {broker})\n"
                f"  pages      http://{host}/\n"
                f"  admin      http://{host}/admin/\n"
                f"  API        http://{host}/api/v1/   (OpenAPI: http://{host}/api/v1/docs/)\n"
                f"  webhooks   http://{host}/api/v1/hooks/<crm|psa|erp>/\n"
                "             (their secrets: var/demo-secrets.json)\n"
                f"  health     http://{host}/healthz  http://{host}/readyz\n"
                "  try:       .venv/bin/python manage.py send_event --system psa\n"
                "Ctrl-C stops web, worker and beat.\n"
            )
        )
        stopping = False

        def stop(*_args):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(
                            f"{name} exited with {process.returncode}; stopping the others"
                        )
                        stopping = True
                time.sleep(0.5)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
