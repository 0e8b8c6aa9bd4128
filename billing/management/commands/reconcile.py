"""``manage.py reconcile --period YYYY-MM [--entity CODE]``: reconcile one month now, in this
process (docs/finance-controls/reconciliation.md), printing each entity's row in words."""

from django.core.management.base import BaseCommand, CommandError

from billing.periods import period_from_text
from billing.selectors.reconciliation import list_latest_results
from billing.services.reconciliation import create_reconciliation, execute_reconciliation
from config.errors import DomainError
from exceptions_queue.models import ControlRun


class Command(BaseCommand):
    help = "Compare approved, rated, invoiced, the ERP and the CRM for a month (issue 19)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--entity", default=None, help="legal entity code (default: all)")

    def handle(self, *args, **options) -> None:
        try:
            run = create_reconciliation(
                months=[period_from_text(options["period"])],
                legal_entity_code=options["entity"],
                requested_by=None,
            )
        except (ValueError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        run = execute_reconciliation(run_id=run.pk)
        if run.status != ControlRun.Status.FINISHED:
            raise CommandError(f"reconciliation run {run.pk} {run.status}: {run.error}")
        for result in list_latest_results(period=options["period"], legal_entity=options["entity"]):
            problems = result.figures.get("mismatches") or []
            self.stdout.write(f"{result.period} {result.group}: {len(problems)} mismatch(es)")
            for problem in problems:
                self.stdout.write(f"  - {problem['label']}: {problem['summary']}")
        counts = ", ".join(f"{key} {value}" for key, value in run.counts.items())
        self.stdout.write(f"reconciliation run {run.pk} ({run.scope}) finished: {counts}")
