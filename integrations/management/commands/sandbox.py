import json

from django.core.management.base import BaseCommand, CommandError

from integrations.models import ExternalSystem
from integrations.services.systems import set_sandbox_faults

FAULT_KEYS = {
    "latency_ms": int,
    "error_rate": float,
    "timeout_rate": float,
    "rate_limit_rate": float,
    "retry_after": float,
    "answer_lost_rate": float,
    "outage_until": str,
}


class Command(BaseCommand):
    help = (
        "Fault injection for a sandbox peer: `sandbox faults erp --error-rate 0.3 --latency-ms 200`, "
        "`sandbox faults erp --outage-minutes 5`, `sandbox faults erp --clear`, `sandbox show erp`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show")
        show.add_argument("slug")
        faults = sub.add_parser("faults")
        faults.add_argument("slug")
        faults.add_argument("--clear", action="store_true", help="remove every fault")
        faults.add_argument("--latency-ms", type=int)
        faults.add_argument("--error-rate", type=float)
        faults.add_argument("--timeout-rate", type=float)
        faults.add_argument("--rate-limit-rate", type=float)
        faults.add_argument("--retry-after", type=float)
        faults.add_argument("--answer-lost-rate", type=float)
        faults.add_argument("--outage-minutes", type=float, help="every call fails for this long")
        faults.add_argument(
            "--permanent", action="append", default=[], help="an operation answered 422"
        )
        faults.add_argument("--auth-failure", action="store_true")

    def handle(self, *args, action: str, slug: str, **options):
        try:
            system = ExternalSystem.objects.get(slug=slug)
        except ExternalSystem.DoesNotExist as exc:
            raise CommandError(f"no system {slug!r}") from exc
        if system.connector != ExternalSystem.Connector.SANDBOX:
            raise CommandError(f"{slug} is on the {system.connector} connector, not the sandbox")
        if action == "faults":
            changes = {key: options[key] for key in FAULT_KEYS if options.get(key) is not None}
            changes["outage_minutes"] = options["outage_minutes"]
            changes["permanent_operations"] = options["permanent"] or None
            changes["auth_failure"] = options["auth_failure"] or None
            system = set_sandbox_faults(system=system, clear=options["clear"], **changes)
        self.stdout.write(json.dumps(system.settings.get("sandbox", {}), indent=2, sort_keys=True))
