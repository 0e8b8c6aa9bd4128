import json
import os

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.errors import DomainError
from integrations.models import ExternalSystem
from integrations.services import systems


def _pair(item: str, *, parse_json: bool = False) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise CommandError(f"{item!r} is not KEY=VALUE")
    if parse_json:
        try:
            return key, json.loads(value)
        except ValueError:
            return key, value
    return key, value


def _credential(item: str) -> tuple[str, str]:
    key, value = _pair(item)
    value = str(value)
    if value.startswith("@"):
        name = value[1:]
        if name not in os.environ:
            raise CommandError(f"credential {key}: the variable {name} is not set")
        value = os.environ[name]
    return key, value


class Command(BaseCommand):
    help = (
        "Configure external systems: add, rotate-secret, retire-secret, rotate-key, list "
        "(docs/contract.md §4)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a system and print its webhook secret")
        add.add_argument("slug")
        add.add_argument("--kind", required=True, choices=[k.value for k in ExternalSystem.Kind])
        add.add_argument(
            "--connector", required=True, choices=[c.value for c in ExternalSystem.Connector]
        )
        add.add_argument("--name", default="")
        add.add_argument(
            "--entities",
            default="",
            help="legal entity codes (comma-separated) whose effects of this kind go to it",
        )
        add.add_argument("--base-url", default="", help="the peer's API address (http or https)")
        add.add_argument(
            "--setting",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a connector setting (repeatable; VALUE as JSON when it parses, else text)",
        )
        add.add_argument(
            "--credential",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a credential, stored encrypted (repeatable; VALUE @ENV_NAME reads the variable)",
        )
        rotate = sub.add_parser("rotate-secret", help="add a new secret; the old ones stay valid")
        rotate.add_argument("slug")
        retire = sub.add_parser("retire-secret", help="stop accepting secret number N")
        retire.add_argument("slug")
        retire.add_argument("number", type=int)
        sub.add_parser(
            "rotate-key",
            help="re-encrypt every credential and webhook secret with the first key of "
            "THROUGHLINE_CREDENTIALS_KEYS (docs/operations.md)",
        )
        sub.add_parser("list", help="list systems and their active secrets")

    def handle(self, *args, action: str, **options):
        try:
            if action == "add":
                self._add(options)
            elif action == "rotate-secret":
                secret = systems.rotate_secret(slug=options["slug"])
                self.stdout.write(
                    f"{options['slug']}: secret #{secret.number} added; "
                    "earlier ones stay valid until retired:"
                )
                self.stdout.write(secret.secret)
            elif action == "retire-secret":
                secret = systems.retire_secret(slug=options["slug"], number=options["number"])
                self.stdout.write(f"{options['slug']}: secret #{secret.number} retired")
            elif action == "rotate-key":
                from integrations.services.credentials import rotate_keys

                done = rotate_keys()
                self.stdout.write(
                    f"re-encrypted with the first key: credentials of {done.systems} system(s), "
                    f"{done.webhook_secrets} webhook secret(s)"
                )
            else:
                self._list()
        except ExternalSystem.DoesNotExist as exc:
            raise CommandError(f"no system {options.get('slug')!r}") from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    @transaction.atomic
    def _add(self, options: dict) -> None:
        system, secret, notes = systems.add_system(
            slug=options["slug"],
            kind=options["kind"],
            connector=options["connector"],
            name=options["name"],
            entities=[c.strip() for c in options["entities"].split(",") if c.strip()],
            base_url=options["base_url"],
            settings=dict(_pair(item, parse_json=True) for item in options["setting"]),
        )
        if options["credential"]:
            from integrations.services.credentials import set_credentials

            set_credentials(system, dict(_credential(item) for item in options["credential"]))
        self.stdout.write(
            f"added {system.slug} ({system.kind}, {system.connector}); webhook secret #1:"
        )
        self.stdout.write(secret)
        for note in notes:
            self.stdout.write(f"routing: {note}")

    def _list(self) -> None:
        rows = ExternalSystem.objects.prefetch_related("secrets").order_by("slug")
        self.stdout.write(f"{'slug':<12} {'kind':<5} {'connector':<11} {'active':<6} secrets")
        for system in rows:
            active = [f"#{s.number} {s.masked}" for s in system.secrets.all() if s.is_active]
            self.stdout.write(
                f"{system.slug:<12} {system.kind:<5} {system.connector:<11} "
                f"{'yes' if system.is_active else 'no':<6} " + ", ".join(active)
            )
