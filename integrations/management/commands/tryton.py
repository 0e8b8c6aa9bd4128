"""``manage.py tryton [--port 8010] [--fresh]``: a live Tryton on this machine, for people.

Prepares the database under ``VAR_DIR/tryton`` (the first time, or after a trytond upgrade,
about a minute: see integrations/connectors/tryton/server.py), serves it in the foreground
until Ctrl-C, and prints what Throughline needs to use it as its ERP and PSA: the address,
database, user and password, and the ``systems add`` command lines with those settings.
What was written to it survives a restart; ``--fresh`` starts again from the set-up; ``--use``
makes it the firm's ERP and PSA at once (the systems configured, every entity routed to it).
"""

import json
import shlex

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.connectors.tryton.fixture import PAYMENT_TERMS, tax_name
from integrations.connectors.tryton.server import TrytonServer, TrytonUnavailable
from integrations.services.credentials import set_credentials
from integrations.services.systems import switch_firm_to


class Command(BaseCommand):
    help = "Run a live Tryton (ERP and PSA) in the foreground and print how to configure it."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8010, help="loopback port (8010)")
        parser.add_argument(
            "--fresh", action="store_true", help="start again from the set-up's database"
        )
        parser.add_argument(
            "--use",
            action="store_true",
            help="make it this firm's ERP and PSA (tryton-erp, tryton-psa; the others of "
            "those kinds are deactivated, every legal entity routed to it)",
        )

    def handle(self, *args, port: int, fresh: bool, use: bool, **options):
        server = TrytonServer(settings.VAR_DIR, port=port)
        self.stdout.write(f"Preparing the Tryton database in {server.home} …")
        try:
            data = server.ensure_database(reset=fresh)
            server.start()
        except TrytonUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except RuntimeError as exc:
            server.stop()
            raise CommandError(f"Tryton did not start: {exc}") from exc
        except KeyboardInterrupt:
            server.stop()
            raise CommandError(
                "interrupted before Tryton was up (nothing is left running)"
            ) from None
        self._describe(server, data)
        if use:
            self._use(server, data)
        try:
            server.process.wait()
            self.stderr.write("Tryton exited: see " + str(server.data_dir / "trytond.log"))
        except KeyboardInterrupt:
            self.stdout.write("\nStopping Tryton …")
        finally:
            server.stop()

    def _describe(self, server: TrytonServer, data: dict) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"Tryton is serving {server.url} (Ctrl-C stops it)")
            + "\n"
            + f"  base_url  {server.url}\n"
            + f"  database  {server.database}\n"
            + f"  username  {server.username}\n"
            + f"  password  {server.password}\n"
            + "Configure it as Throughline's ERP and PSA:"
        )
        for kind in ("erp", "psa"):
            self.stdout.write("  " + shlex.join(_systems_add(server, data, kind)))

    def _use(self, server: TrytonServer, data: dict) -> None:
        for kind in ("erp", "psa"):
            system, notes = switch_firm_to(
                slug=f"tryton-{kind}",
                kind=kind,
                connector="tryton",
                name=f"Tryton {kind.upper()}",
                base_url=server.url,
                settings={"tryton": _tryton_settings(server, data)},
            )
            set_credentials(system, {"password": server.password})
            self.stdout.write(
                self.style.SUCCESS(f"{system.slug} is now the firm's {kind.upper()}")
                + "".join(f"; {note}" for note in notes)
            )


def _tryton_settings(server: TrytonServer, data: dict) -> dict:
    return {
        "database": server.database,
        "username": server.username,
        "service_product": "SERVICE",
        "taxes": {code: tax_name(code) for code in data["taxes"]},
        "payment_terms": {f"NET{days}": name for name, days in PAYMENT_TERMS.items()},
        "employee_roles": {},
    }


def _systems_add(server: TrytonServer, data: dict, kind: str) -> list[str]:
    """``manage.py systems add`` for this server as a system of ``kind`` (the connector reads
    its settings from ``settings["tryton"]``, the password from the credentials)."""
    tryton_settings = _tryton_settings(server, data)
    command = ["python", "manage.py", "systems", "add", f"tryton-{kind}", "--kind", kind]
    command += ["--connector", "tryton", "--name", f"Tryton {kind.upper()}"]
    command += ["--base-url", server.url]
    command += ["--setting", "tryton=" + json.dumps(tryton_settings, separators=(",", ":"))]
    return [*command, "--credential", f"password={server.password}"]
