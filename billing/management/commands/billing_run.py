"""``manage.py billing_run --period YYYY-MM [--legal-entity CODE] [--customer ID]``: build or
refresh the month's drafts now, in this process, printing progress (docs/contract.md §2)."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import BillingRun
from billing.periods import period_from_text
from billing.services.invoice_run import create_billing_run, execute_billing_run
from config.errors import DomainError


class Command(BaseCommand):
    help = "Build or refresh the invoice drafts of a month (docs/contract.md §5)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--legal-entity", default=None, help="legal entity code")
        parser.add_argument("--customer", default=None, type=int, help="customer id")

    def handle(self, *args, **options) -> None:
        try:
            period = period_from_text(options["period"])
            run = create_billing_run(
                period=period,
                legal_entity_code=options["legal_entity"],
                customer_id=options["customer"],
                requested_by=None,
            )
        except (ValueError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        run = execute_billing_run(run_id=run.pk)
        if run.status != BillingRun.Status.FINISHED:
            raise CommandError(f"billing run {run.pk} {run.status}: {run.error}")
        counts = ", ".join(f"{key} {value}" for key, value in sorted(run.counts.items()))
        self.stdout.write(f"billing run {run.pk} {run.period:%Y-%m} finished: {counts}")
