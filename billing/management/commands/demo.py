"""``manage.py demo load [--url URL] [--wait-ready SECONDS]``: load the demo firm once, through
signed webhooks to the running server (docs/demo.md); ``manage.py demo traffic
start|stop|status [--interval SECONDS]``: live traffic on top of it (``billing.demo.traffic``)."""

import logging
import os
import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.demo.firm import build_firm
from billing.demo.loader import DemoLoadFailed, load_demo_firm


class Command(BaseCommand):
    help = (
        "Load the demo firm (Kestrel Partners: 3 legal entities, 60 consultants, 30 clients, 40 "
        "projects, six months of billed history) through the running server's webhooks, once; "
        "THROUGHLINE_DEMO=0 skips it. 'demo traffic start|stop|status' runs live traffic."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        load = actions.add_parser("load", help="load the demo firm (a second load does nothing)")
        load.add_argument("--url", default=None, help="the server (default: THROUGHLINE_URL)")
        load.add_argument(
            "--wait-ready",
            type=float,
            default=120.0,
            metavar="SECONDS",
            help="wait this long for GET /readyz to answer 200 first",
        )
        traffic = actions.add_parser("traffic", help="live CRM, PSA and ERP traffic")
        traffic.add_argument("traffic_action", choices=("start", "stop", "status"))
        traffic.add_argument("--interval", type=float, default=10.0, metavar="SECONDS")

    def handle(self, *args, action: str, **options) -> None:
        if action == "load":
            self._load(url=options["url"] or settings.THROUGHLINE_URL, wait=options["wait_ready"])
        else:
            self._traffic(options["traffic_action"], interval=options["interval"])

    def _load(self, *, url: str, wait: float) -> None:
        if os.environ.get("THROUGHLINE_DEMO", "1") == "0":
            self.stdout.write("demo firm skipped (THROUGHLINE_DEMO=0)")
            return
        self._wait_ready(url.rstrip("/"), wait)
        # The services log each record they touch at INFO: thousands of lines that would bury
        # the progress lines of this command (the worker and the web still log everything).
        for name in ("billing", "exceptions_queue", "integrations", "mdm"):
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            report = load_demo_firm(
                firm=build_firm(timezone.localdate()), base_url=url, log=self.stdout.write
            )
        except DemoLoadFailed as exc:
            raise CommandError(f"demo: {exc}") from exc
        if report.already_loaded:
            self.stdout.write("demo firm already loaded (nothing sent)")
            return
        self.stdout.write(
            f"demo firm loaded in {report.seconds:.0f} s: "
            + ", ".join(f"{n} {code}" for code, n in sorted(report.sent.items()))
            + " answers"
        )
        for title, counts in (
            ("time entries", report.entries),
            ("invoices", report.invoices),
            ("open exceptions", report.exceptions),
        ):
            self.stdout.write(f"  {title}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    def _wait_ready(self, url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        answer = "no answer"
        while True:
            try:
                response = requests.get(f"{url}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                answer = f"{response.status_code} {response.text[:200]}"
            except requests.RequestException as exc:
                answer = type(exc).__name__
            if time.monotonic() > deadline:
                raise CommandError(f"demo: {url}/readyz not ready after {seconds:.0f} s ({answer})")
            time.sleep(1)

    def _traffic(self, action: str, *, interval: float) -> None:
        # Imported here: the traffic simulator is its own module, and loading the firm must
        # work without it.
        from billing.demo import traffic

        result = (
            traffic.start(interval=interval) if action == "start" else getattr(traffic, action)()
        )
        for key, value in result.items():
            self.stdout.write(f"{key}: {value}")
