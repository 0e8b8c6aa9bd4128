"""The scope of a billing run (its month and optional entity or customer) and its progress."""

from datetime import date
from typing import TypeAlias

from django.db.models import QuerySet

from billing.models import AccountingPeriod, BillingRun, Contract, TimeEntry
from billing.services.invoices import month_end, month_start

TM = Contract.BillingModel.TIME_AND_MATERIALS
# The parameters of the run's raw SQL: ids, statuses and codes, dates.
SqlParams: TypeAlias = list[int | str | date]


class Scope:
    """The month and optional entity/customer of a run, as SQL and as ORM filters. Entities
    whose month is closed are left out (``closed``); ``late`` is the scope of the late time
    finance moved into this month (PeriodMove), billed by the same steps."""

    def __init__(self, run: BillingRun, *, late: bool = False) -> None:
        self.first, self.last = month_start(run.period), month_end(run.period)
        self.legal_entity_id, self.customer_id = run.legal_entity_id, run.customer_id
        self.late = late
        self.closed: list[int] = closed_entity_ids(self.first)
        # What the history rows of the run's set-based changes say (config/history_rows.py).
        self.reason = f"billing run {run.period:%Y-%m} #{run.pk}" + (" (late time)" if late else "")
        self.user_id: int | None = run.requested_by_id

    def contracts(self) -> QuerySet[Contract]:
        contracts = Contract.objects.exclude(legal_entity_id__in=self.closed)
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
        if self.closed:
            marks = ", ".join(["%s"] * len(self.closed))
            where, params = (
                where + f" AND c.legal_entity_id NOT IN ({marks})",
                [*params, *self.closed],
            )
        return where, params

    def window(self, alias: str) -> tuple[str, SqlParams]:
        """Which entries belong to the month: worked in it and not moved, or (late) moved to it."""
        if self.late:
            return f"{alias}billing_period = %s", [self.first]
        return (
            f"{alias}work_date BETWEEN %s AND %s AND {alias}billing_period IS NULL",
            [self.first, self.last],
        )

    def candidates_sql(self) -> tuple[str, SqlParams]:
        """FROM … WHERE of the rated T&M entries of the month in scope (aliases te, c, br)."""
        scope, params = self.sql()
        tables = (
            f"{TimeEntry._meta.db_table} te "
            f"JOIN billing_project p ON p.id = te.project_id "
            f"JOIN {Contract._meta.db_table} c ON c.id = p.contract_id "
            f"LEFT JOIN billing_billingrule br ON br.client_account_id = c.crm_account_id"
        )
        window, window_params = self.window("te.")
        where = f"te.status = %s AND {window} AND c.billing_model = %s" + scope
        return f"{tables} WHERE {where}", [TimeEntry.Status.RATED, *window_params, TM, *params]


def closed_entity_ids(month: date) -> list[int]:
    """The legal entities whose ``month`` is closed."""
    return sorted(
        AccountingPeriod.objects.filter(
            period=month_start(month), status=AccountingPeriod.Status.CLOSED
        ).values_list("legal_entity_id", flat=True)
    )


def record_progress(run: BillingRun, step: str, percent: int, **counts: int) -> None:
    run.step, run.progress = step, percent
    run.counts = {**run.counts, **counts}
    BillingRun.objects.filter(pk=run.pk).update(
        step=run.step, progress=run.progress, counts=run.counts
    )
