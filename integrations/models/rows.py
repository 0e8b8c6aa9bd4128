"""Row helpers of the runtime (`make bench`): inserting a row unless it exists, in one round trip
(the inbox, the outbox, the sandbox), and saving a batch's fields with few UPDATEs."""

from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, connections, models, transaction
from django.db.backends.utils import CursorDebugWrapper
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

# (model, alias, vendor) → the INSERT's SQL, compiled once: its placeholders do not depend on
# the values unless a field builds its own or a value is an expression (see insert_if_new).
_INSERT_SQL: dict[tuple[type, str, str], str] = {}


def insert_if_new(obj: models.Model) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING pk``: True when ``obj`` was stored (its pk
    set, as ``save()`` would), False when a row with one of its unique values exists (nothing
    written, no error, the caller's transaction intact).

    Cheaper than a SELECT then an INSERT, and safe under concurrency: a conflicting row being
    inserted by another transaction is waited for, then skipped, where SELECT-then-INSERT would
    fail with an IntegrityError and break the caller's transaction. (``bulk_create(
    ignore_conflicts=True)`` cannot tell whether the row was written.) Django's own insert
    compiler writes the SQL, so defaults, ``auto_now_add`` and JSON adaptation are those of
    ``save()``; it runs once per model and connection, after which each value goes through the
    same ``pre_save`` and ``get_db_prep_save`` the compiler would call, without its per-call
    cost (about an eighth of a webhook delivery). Signals are not sent, as with bulk_create.
    """
    model = type(obj)
    meta = model._meta
    connection = connections[model._default_manager.db]
    if not connection.features.can_return_columns_from_insert:  # neither PostgreSQL nor SQLite
        try:
            with transaction.atomic(using=connection.alias):
                obj.save(force_insert=True)
        except IntegrityError:
            return False
        return True
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    key = (model, connection.alias, connection.vendor)
    sql = _INSERT_SQL.get(key)
    values = [getattr(obj, f.attname) for f in fields]
    expressions = any(hasattr(value, "resolve_expression") for value in values)
    if sql is None or expressions:
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, [obj])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [meta.pk]
        [(sql, params)] = compiler.as_sql()
        if not expressions and not any(hasattr(f, "get_placeholder") for f in fields):
            _INSERT_SQL[key] = sql
    else:
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = meta.pk.to_python(row[0])
    obj._state.adding, obj._state.db = False, connection.alias
    return True


def update_grouped(objects: Sequence[models.Model], fields: list[str]) -> None:
    """Save ``fields`` of ``objects`` with one UPDATE per distinct combination of their values
    (a batch mostly shares them: one statement), cheaper than ``bulk_update``'s CASE per row."""
    groups: dict[tuple, list] = {}
    for obj in objects:
        values = tuple(getattr(obj, field) for field in fields)
        groups.setdefault(values, []).append(obj.pk)
    for values, pks in groups.items():
        type(objects[0])._default_manager.filter(pk__in=pks).update(
            **dict(zip(fields, values, strict=True))
        )


def _cursor(connection):
    """A cursor for the INSERT: on PostgreSQL (unless DATABASE_PREPARED_INSERTS is off) one that
    binds on the server, so psycopg prepares the statement on its first run on a connection and
    then only sends the values (no parse and plan per delivery, no client-side quoting: `make
    bench`). Every other query keeps Django's client-side binding, which never prepares, so
    raising the connection's prepare threshold from Django's None changes only these INSERTs.
    Wrapped by Django as any cursor (error translation, query logging and counting)."""
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_INSERTS:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = 0
    connection.validate_thread_sharing()
    # django-stubs declares ServerBindingCursor without its psycopg.Cursor base (psycopg is
    # optional there), so the stub takes no arguments; at run time it is psycopg's Cursor(conn).
    cursor = ServerBindingCursor(raw)  # type: ignore[call-arg]
    if connection.queries_logged:
        return _LoggedAsWritten(cursor, connection)
    return connection.make_cursor(cursor)


class _LoggedAsWritten(CursorDebugWrapper):
    """psycopg keeps no text of a prepared run: the query log shows the statement as written."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params):
            return super(CursorDebugWrapper, self).execute(sql, params)
