"""History rows for set-based changes (docs/security.md, "History of set-based changes").

django-simple-history writes a history row from ``save()`` and ``delete()`` only. A queryset
``update()``, a ``bulk_update()`` or a raw ``UPDATE``/``INSERT … SELECT`` leaves none, so the
services that change many financial rows at once call one of these right after, in the same
transaction: one ``INSERT … SELECT`` into the model's history table per call, whatever the
number of rows (no row goes through Python).

A history row holds the row as it is after the change (simple-history's convention), with the
history date, the reason, the type (``+`` created, ``~`` changed) and the user (a user id or
``None`` for the system, e.g. the monthly run started by beat).
"""

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import QuerySet
from django.utils import timezone

CREATED, CHANGED = "+", "~"


def history_model(model: type[models.Model]) -> type[models.Model]:
    """The simple-history model of ``model`` (its ``history`` manager's model)."""
    manager: Any = model._meta.simple_history_manager_attribute  # type: ignore[attr-defined] # set by simple-history
    return getattr(model, manager).model


def tracked_columns(model: type[models.Model]) -> list[str]:
    """The columns the history table copies from the live table (the same names in both)."""
    return [field.column for field in history_model(model).tracked_fields]  # type: ignore[attr-defined] # simple-history's


def history_insert_sql(
    model: type[models.Model], *, source: str, alias: str, history_type: str = "%s"
) -> str:
    """``INSERT INTO <history> (…) SELECT <alias>.<column>…, %s, %s, %s, %s FROM <source>``.

    ``source`` is the rest of a SELECT (``FROM …`` without the keyword, ``WHERE`` included)
    whose rows, as ``alias``, carry every tracked column: the live table, a subquery or a CTE.
    Its four leading parameters are the history date, reason, type and user id; the source's
    parameters follow (``history_params``). ``history_type`` may be an SQL expression instead
    of the type's parameter (then three leading parameters).
    """
    columns = tracked_columns(model)
    history = history_model(model)._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    selected = ", ".join(f"{alias}.{connection.ops.quote_name(c)}" for c in columns)
    return (
        f"INSERT INTO {history} ({quoted}, history_date, history_change_reason, history_type, "
        f"history_user_id) SELECT {selected}, %s, %s, {history_type}, %s FROM {source}"
    )


def history_params(reason: str, user_id: int | None, history_type: str = CHANGED) -> list[Any]:
    """The four leading parameters of ``history_insert_sql``: now, the reason, type, user."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    return [at, reason[:100], history_type, user_id]


def _select_tracked(rows: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The SELECT of ``rows``' tracked columns, and its parameters."""
    tracked = history_model(rows.model).tracked_fields  # type: ignore[attr-defined] # simple-history's
    select = rows.order_by().values(*[f.attname for f in tracked])
    select.query.select_for_update = False  # the rows are locked by the caller's UPDATE already
    return select.query.sql_with_params()


def record_history(
    rows: QuerySet[Any], *, reason: str, user_id: int | None = None, history_type: str = CHANGED
) -> int:
    """One history row for each row of ``rows`` as it is now (after a set-based change), in one
    statement. Returns the rows written."""
    model = rows.model
    try:
        sql, params = _select_tracked(rows)
    except EmptyResultSet:  # rows.filter(pk__in=[]): nothing changed
        return 0
    insert = history_insert_sql(model, source=f"({sql}) s", alias="s")
    with connection.cursor() as cursor:
        cursor.execute(insert, [*history_params(reason, user_id, history_type), *params])
        return cursor.rowcount


def record_changed_history(
    rows: QuerySet[Any], *, compare: list[str], reason: str, user_id: int | None = None
) -> int:
    """A history row for each row of ``rows`` that has none yet (``+``: it was made by raw SQL)
    or differs in one of the ``compare`` columns from its latest history row (``~``), in one
    statement. For rows changed set-based without knowing which changed (sums refreshed)."""
    model = rows.model
    history = history_model(model)._meta.db_table
    pk = connection.ops.quote_name(model._meta.pk.column)
    try:
        sql, params = _select_tracked(rows)
    except EmptyResultSet:
        return 0
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(
        f"s.{connection.ops.quote_name(c)} {differs} h.{connection.ops.quote_name(c)}"
        for c in compare
    )
    source = (
        f"({sql}) s LEFT JOIN {history} h ON h.history_id = "
        f"(SELECT MAX(x.history_id) FROM {history} x WHERE x.{pk} = s.{pk}) "
        f"WHERE h.history_id IS NULL OR {changed}"
    )
    new_or_changed = f"CASE WHEN h.history_id IS NULL THEN '{CREATED}' ELSE '{CHANGED}' END"
    insert = history_insert_sql(model, source=source, alias="s", history_type=new_or_changed)
    date, why, _type, user = history_params(reason, user_id)
    with connection.cursor() as cursor:
        cursor.execute(insert, [date, why, user, *params])
        return cursor.rowcount
