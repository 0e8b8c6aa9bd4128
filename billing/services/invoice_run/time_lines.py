"""Step ``time`` of the billing run: rated time-and-materials entries of the month onto time
lines of their drafts, set-based in batches of id ranges (see the package's docstring)."""

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from billing.models import BillingRun, Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry
from billing.services.invoice_run.scope import Scope, record_progress
from config.history_rows import history_insert_sql, history_params

BATCH_ENTRIES = 100_000  # entries per batch (a range of ids): a commit and a progress tick each

_GROUP_KEY = (
    "CASE COALESCE(br.invoice_grouping, 'per_role') "
    "WHEN 'per_entry' THEN 'e:' || CAST(te.id AS TEXT) "
    "WHEN 'per_person' THEN 'p:' || CAST(c.id AS TEXT) || ':' || te.person_email || ':' "
    "|| te.role || ':' || CAST(te.rate AS TEXT) "
    "ELSE 'r:' || CAST(c.id AS TEXT) || ':' || te.role || ':' || CAST(te.rate AS TEXT) END"
)
_DESCRIPTION = (
    "CASE COALESCE(br.invoice_grouping, 'per_role') "
    "WHEN 'per_entry' THEN c.name || ' · ' || CAST(te.work_date AS TEXT) || ' · ' "
    "|| te.person_email || ' · ' || te.role "
    "WHEN 'per_person' THEN c.name || ' · ' || te.person_email || ' · ' || te.role "
    "ELSE c.name || ' · ' || te.role END"
)
_PERSON = (
    "CASE WHEN COALESCE(br.invoice_grouping, 'per_role') = 'per_role' "
    "THEN '' ELSE te.person_email END"
)


def _time_batch(scope: Scope, low: int, high: int | None) -> int:
    """One batch: the candidates with ``low < id <= high`` (no upper bound for the last
    batch, so entries rated meanwhile are not left behind): new lines for new group keys, the
    links, the entries' status. Returns the links added.

    Batches are ranges of entry ids, in id order: a batch reads its slice of the table once
    and the status UPDATE finds the same pages still in memory, so the work grows linearly
    with the month (batches of projects made every batch visit nearly every page).
    On PostgreSQL the links and the status go in one statement (data-modifying CTE); the
    status column is in no index, so that UPDATE is HOT and writes no index entry.
    """
    statements = _BatchStatements(scope, low, high)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statements.new_lines, [InvoiceLine.Kind.TIME, *statements.joined_params])
        if connection.vendor == "postgresql":
            return _link_in_one_statement(cursor, statements)
        # Elsewhere (SQLite): the same in two statements.
        return _link_in_two_statements(cursor, statements, scope)


class _BatchStatements:
    """The SQL of one batch: its new lines, and the candidates joined to their lines."""

    def __init__(self, scope: Scope, low: int, high: int | None) -> None:
        source, params = scope.candidates_sql()
        self.high = high
        source += self.in_range("te.")
        self.bounds = [low] if high is None else [low, high]
        params = [*params, *self.bounds]
        draft = (
            "JOIN billing_invoice i ON i.customer_id = c.customer_id "
            "AND i.legal_entity_id = c.legal_entity_id AND i.currency = c.currency "
            "AND i.tax_jurisdiction = c.tax_jurisdiction AND i.period = %s AND i.status = %s"
        )
        # The draft join goes before WHERE: splice it in after the FROM list.
        tables, where = source.split(" WHERE ", 1)
        joined = f"{tables} {draft} WHERE {where}"
        self.joined_params = [scope.first, Invoice.Status.DRAFT, *params]
        self.line, self.link = InvoiceLine._meta.db_table, InvoiceLineEntry._meta.db_table
        self.entries = TimeEntry._meta.db_table
        line = self.line
        self.new_lines = (
            f"INSERT INTO {line} (invoice_id, kind, description, contract_id, role, person_email, "
            f"hours, rate, amount, group_key) "
            f"SELECT DISTINCT i.id, %s, {_DESCRIPTION}, c.id, te.role, {_PERSON}, 0, te.rate, 0, "
            f"{_GROUP_KEY} FROM {joined} AND NOT EXISTS (SELECT 1 FROM {line} l "
            f"WHERE l.invoice_id = i.id AND l.group_key = {_GROUP_KEY})"
        )
        self.with_line = joined.replace(
            " WHERE ",
            f" JOIN {line} l ON l.invoice_id = i.id AND l.group_key = {_GROUP_KEY} WHERE ",
            1,
        )
        self.now = timezone.now()
        # The entries' history rows (one per entry invoiced), written in the batch's statement.
        self.history = history_params(f"{scope.reason}: invoiced", scope.user_id)

    def in_range(self, alias: str) -> str:
        return f" AND {alias}id > %s" + ("" if self.high is None else f" AND {alias}id <= %s")


def _link_in_one_statement(cursor: CursorWrapper, st: _BatchStatements) -> int:
    """PostgreSQL: the links and the status in one data-modifying CTE."""
    # The lines just made, counted: planned as 0 rows, the line lookup below
    # becomes a scan of every line per entry.
    cursor.execute(f"ANALYZE {st.line}")
    # Every candidate ends on an active link: a new one, or (should a rated entry
    # already have one) the one the partial unique index keeps; so all are invoiced. Each
    # entry marked gets its history row from what the UPDATE returns (its new state).
    history = history_insert_sql(TimeEntry, source="marked m", alias="m")
    cursor.execute(
        f"WITH batch AS MATERIALIZED (SELECT l.id AS line_id, te.id AS entry_id, "
        f"te.billed_hours, te.amount FROM {st.with_line}), "
        f"linked AS (INSERT INTO {st.link} (line_id, time_entry_id, hours, amount, "
        f"is_active) SELECT line_id, entry_id, billed_hours, amount, %s FROM batch "
        f"ON CONFLICT DO NOTHING RETURNING 1), "
        f"marked AS (UPDATE {st.entries} t SET status = %s, updated_at = %s FROM batch "
        f"WHERE t.id = batch.entry_id AND t.status = %s{st.in_range('t.')} "
        f"RETURNING t.*), history AS ({history} RETURNING 1) "
        "SELECT (SELECT COUNT(*) FROM linked), (SELECT COUNT(*) FROM marked)",
        [
            *st.joined_params,
            True,
            TimeEntry.Status.INVOICED,
            st.now,
            TimeEntry.Status.RATED,
            *st.bounds,
            *st.history,
        ],
    )
    return cursor.fetchone()[0]


def _link_in_two_statements(cursor: CursorWrapper, st: _BatchStatements, scope: Scope) -> int:
    cursor.execute(
        f"INSERT INTO {st.link} (line_id, time_entry_id, hours, amount, is_active) "
        f"SELECT l.id, te.id, te.billed_hours, te.amount, %s FROM {st.with_line} "
        # A rated entry has no active link; should one have, the partial unique index
        # skips it.
        "ON CONFLICT DO NOTHING",
        [True, *st.joined_params],
    )
    added = cursor.rowcount
    entries, link = st.entries, st.link
    window, window_params = scope.window("")
    cursor.execute(
        f"UPDATE {entries} SET status = %s, updated_at = %s WHERE status = %s "
        f"AND {window}{st.in_range('')} AND EXISTS (SELECT 1 FROM {link} x "
        f"WHERE x.time_entry_id = {entries}.id AND x.is_active = %s)",
        [
            TimeEntry.Status.INVOICED,
            st.now,
            TimeEntry.Status.RATED,
            *window_params,
            *st.bounds,
            True,
        ],
    )
    # The entries just marked (this batch's time stamp), one history row each.
    source = f"{entries} t WHERE t.status = %s AND t.updated_at = %s{st.in_range('t.')}"
    cursor.execute(
        history_insert_sql(TimeEntry, source=source, alias="t"),
        [*st.history, TimeEntry.Status.INVOICED, st.now, *st.bounds],
    )
    return added


def _id_batches(scope: Scope) -> list[tuple[int, int | None]]:
    """The candidates cut into ``(low, high]`` id ranges of about BATCH_ENTRIES entries, in id
    order (the last one open-ended); none when there is nothing to bill."""
    source, params = scope.candidates_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM (SELECT te.id AS id, ROW_NUMBER() OVER (ORDER BY te.id) AS n, "
            f"COUNT(*) OVER () AS total FROM {source}) s "
            f"WHERE n %% {int(BATCH_ENTRIES)} = 0 OR n = total ORDER BY id",
            params,
        )
        cuts = [row[0] for row in cursor.fetchall()]
    return list(zip([0, *cuts[:-1]], [*cuts[:-1], None], strict=True))


def _analyze(*tables: str) -> None:
    """PostgreSQL: fresh statistics for the tables a run has just filled, so the batch
    statements are planned for their real sizes (a stale "1 row" plan loops)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def time_lines(run: BillingRun, scope: Scope, *, report: bool = True) -> int:
    batches = _id_batches(scope)
    if not batches:
        return 0
    _analyze(Invoice._meta.db_table, InvoiceLine._meta.db_table)
    added = 0
    for number, (low, high) in enumerate(batches, start=1):
        added += _time_batch(scope, low, high)
        if report:
            record_progress(run, "time", 10 + number * 70 // len(batches), entries_added=added)
    return added
