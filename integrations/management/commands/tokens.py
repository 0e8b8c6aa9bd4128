from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.errors import DomainError
from config.roles import ROLES
from integrations.services import tokens
from integrations.services.tokens import IssuedToken


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = (
        "API tokens of machine clients: create, list, revoke, rotate (docs/contract.md §4). "
        "A token is printed once, on the last line alone; only its prefix is ever shown again."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a token for a new client (printed once)")
        create.add_argument("client", help="the client's name, e.g. hubspot-sync")
        create.add_argument("--role", required=True, choices=ROLES)
        create.add_argument("--days", type=int, default=None, help="lifetime (default 90)")
        create.add_argument(
            "--systems",
            default="",
            help="integration tokens: the systems (slugs, comma-separated) whose events it reads",
        )
        sub.add_parser("list", help="every token: client, role, prefix, dates, status")
        revoke = sub.add_parser("revoke", help="revoke a client's tokens, or one by prefix")
        revoke.add_argument("ref", metavar="client|prefix")
        rotate = sub.add_parser("rotate", help="a new token for a client (printed once)")
        rotate.add_argument("client")
        rotate.add_argument("--days", type=int, default=None, help="lifetime (default 90)")
        rotate.add_argument(
            "--grace-minutes",
            type=int,
            default=0,
            help="how long the old token keeps working (default 0: it stops now)",
        )

    def handle(self, *args, action: str, **options):
        try:
            if action == "create":
                issued = tokens.issue_token(
                    client=options["client"],
                    role=options["role"],
                    days=options["days"],
                    systems=[s.strip() for s in options["systems"].split(",") if s.strip()],
                )
                self._print_once("created", issued)
            elif action == "rotate":
                issued = tokens.rotate_token(
                    client=options["client"],
                    days=options["days"],
                    grace_minutes=options["grace_minutes"],
                )
                self._print_once("rotated", issued)
            elif action == "revoke":
                for token in tokens.revoke_tokens(ref=options["ref"]):
                    self.stdout.write(f"revoked {token.shown_prefix} of client {token.client}")
            else:
                self._list()
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _print_once(self, verb: str, issued: IssuedToken) -> None:
        token = issued.token
        self.stdout.write(
            f"{verb} token {token.shown_prefix} for client {token.client} (role {token.role}, "
            f"user {token.user.username}, expires {_when(token.expires_at)}); it is shown "
            "once, keep it now:"
        )
        self.stdout.write(issued.secret)

    def _list(self) -> None:
        now = timezone.now()
        rows = [
            ("client", "role", "systems", "prefix", "created", "expires", "last used", "status")
        ]
        for token in tokens.list_tokens().prefetch_related("systems"):
            rows.append(
                (
                    token.client,
                    token.role or "-",
                    ",".join(sorted(system.slug for system in token.systems.all())) or "-",
                    token.shown_prefix + (" (legacy)" if token.legacy else ""),
                    _when(token.created_at),
                    _when(token.expires_at),
                    _when(token.last_used_at),
                    token.status(now).value,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
