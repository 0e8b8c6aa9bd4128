"""The scope of a billing run (its month and optional entity or customer) and its progress."""

from datetime import date
from typing import TypeAlias

from django.db.models import QuerySet

from billing.models import BillingRun, Contract, TimeEntry
from billing.services.invoices import month_end, month_start

TM = Contract.BillingModel.TIME_AND_MATERIALS
# The parameters of the run's raw SQL: ids, statuses and codes, dates.
SqlParams: TypeAlias = list[int | str | date]


class Scope:
    """The month and optional entity/customer of a run, as SQL and as ORM filters."""

    def __init__(self, run: BillingRun) -> None:
        self.first, self.last = month_start(run.period), month_end(run.period)
        self.legal_entity_id, self.customer_id = run.legal_entity_id, run.customer_id
        # What the history rows of the run's set-based changes say (config/history_rows.py).
        self.reason = f"billing run {run.period:%Y-%m} #{run.pk}"
        self.user_id: int | None = run.requested_by_id

    def contracts(self) -> QuerySet[Contract]:
        contracts = Contract.objects.all()
        if self.legal_entity_id:
            contracts = contracts.filter(legal_entity_id=self.legal_entity_id)
        if self.customer_id:
            contracts = contracts.filter(customer_id=self.customer_id)
        return contracts

    def sql(self) -> tuple[str, SqlParams]:
        where = ""
        params: SqlParams = []
        if self.legal_entity_id:
            where, params = where + " AND c.legal_entity_id = %s", [*params, self.legal_entity_id]
        if self.customer_id:
            where, params = where + " AND c.customer_id = %s", [*params, self.customer_id]
        return where, params

    def candidates_sql(self) -> tuple[str, SqlParams]:
        """FROM … WHERE of the rated T&M entries of the month in scope (aliases te, c, br)."""
        scope, params = self.sql()
        tables = (
            f"{TimeEntry._meta.db_table} te "
            f"JOIN billing_project p ON p.id = te.project_id "
            f"JOIN {Contract._meta.db_table} c ON c.id = p.contract_id "
            f"LEFT JOIN billing_billingrule br ON br.client_account_id = c.crm_account_id"
        )
        where = "te.status = %s AND te.work_date BETWEEN %s AND %s AND c.billing_model = %s" + scope
        return f"{tables} WHERE {where}", [
            TimeEntry.Status.RATED,
            self.first,
            self.last,
            TM,
            *params,
        ]


def record_progress(run: BillingRun, step: str, percent: int, **counts: int) -> None:
    run.step, run.progress = step, percent
    run.counts = {**run.counts, **counts}
    BillingRun.objects.filter(pk=run.pk).update(
        step=run.step, progress=run.progress, counts=run.counts
    )
