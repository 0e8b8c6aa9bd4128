"""The columns of a queue's export (config/exports.py): the rows of the queue page, in its
words (type titles, severity and status labels), money beside its currency."""

from config.exports import DATETIME, MONEY, NUMBER, Column, money_list_text
from exceptions_queue.registry import exception_types


def _type_title(item) -> str:
    found = exception_types.get(item.type_code)
    return found.title if found is not None else item.type_code


def _other_currencies(item) -> str:
    """At risk in several currencies (never added across): ``"92.588 KWD + 10.00 USD"``."""
    if item.amount_at_risk is not None:
        return ""
    return money_list_text(item.amounts_at_risk)


ITEM_COLUMNS = [
    Column("Item", "pk", NUMBER),
    Column("Severity", "get_severity_display"),
    Column("Type", _type_title),
    Column("Subject", "subject_ref"),
    Column("Summary", "summary"),
    Column("Count", "occurrence_count", NUMBER),
    Column("Currency", "currency"),
    Column("At risk", "amount_at_risk", MONEY, currency="currency"),
    Column("At risk, per currency", _other_currencies),
    Column("Hours", "hours", NUMBER),
    Column("First seen", "first_seen_at", DATETIME),
    Column("Due", "due_at", DATETIME),
    Column("Overdue", lambda item: "overdue" if item.is_overdue else ""),
    Column("Status", "get_status_display"),
    Column("Assignee", "assignee.get_username"),
    Column("Trace", "trace_id"),
]
