from django.core.management.base import BaseCommand, CommandError

from config.errors import DomainError
from integrations.models import ExternalSystem
from integrations.services import systems


class Command(BaseCommand):
    help = (
        "Configure external systems: add, rotate-secret, retire-secret, list (docs/contract.md §4)."
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
        rotate = sub.add_parser("rotate-secret", help="add a new secret; the old ones stay valid")
        rotate.add_argument("slug")
        retire = sub.add_parser("retire-secret", help="stop accepting secret number N")
        retire.add_argument("slug")
        retire.add_argument("number", type=int)
        sub.add_parser("list", help="list systems and their active secrets")

    def handle(self, *args, action: str, **options):
        try:
            if action == "add":
                system, secret = systems.add_system(
                    slug=options["slug"],
                    kind=options["kind"],
                    connector=options["connector"],
                    name=options["name"],
                )
                self.stdout.write(
                    f"added {system.slug} ({system.kind}, {system.connector}); webhook secret #1:"
                )
                self.stdout.write(secret)
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
            else:
                self._list()
        except ExternalSystem.DoesNotExist as exc:
            raise CommandError(f"no system {options.get('slug')!r}") from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _list(self) -> None:
        rows = ExternalSystem.objects.prefetch_related("secrets").order_by("slug")
        self.stdout.write(f"{'slug':<12} {'kind':<5} {'connector':<11} {'active':<6} secrets")
        for system in rows:
            active = [f"#{s.number} {s.masked}" for s in system.secrets.all() if s.is_active]
            self.stdout.write(
                f"{system.slug:<12} {system.kind:<5} {system.connector:<11} "
                f"{'yes' if system.is_active else 'no':<6} " + ", ".join(active)
            )
