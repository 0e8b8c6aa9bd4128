"""The columns of billing's list exports (config/exports.py): invoices, time, projects and
billing runs, in the words their pages use."""

from config.exports import DATE, DATETIME, MONEY, MONTH, NUMBER, Column
from exceptions_queue.registry import exception_types


def _scope(invoice) -> str:
    return f"{invoice.legal_entity.code} · {invoice.tax_jurisdiction}"


INVOICE_COLUMNS = [
    Column("Invoice", "title"),
    Column("Invoice id", "pk", NUMBER),
    Column("Sequence", "sequence", NUMBER),
    Column("Customer", "customer.name"),
    Column("Customer id", "customer.throughline_id"),
    Column("Entity", _scope),
    Column("Period", "period", MONTH),
    Column("Status", "get_status_display"),
    Column("Lines", "line_count", NUMBER),
    Column("Currency", "currency"),
    Column("Net", "net_total", MONEY, currency="currency"),
    Column("Tax", "tax_total", MONEY, currency="currency"),
    Column("Gross", "gross_total", MONEY, currency="currency"),
    Column("ERP invoice", "erp_invoice_id"),
    Column("Approved by", "approved_by.get_username"),
    Column("Approved at", "approved_at", DATETIME),
]


def _hold_reason(entry) -> str:
    if not entry.hold_reason:
        return ""
    found = exception_types.get(entry.hold_reason)
    return found.title if found is not None else entry.hold_reason


def _card_version(entry) -> str:
    version = entry.rate_card_version
    return f"{version.card.code} from {version.valid_from:%Y-%m-%d}" if version else ""


def _entry_invoices(entry) -> str:
    return ", ".join(link.line.invoice.title for link in entry.active_billings)


TIME_ENTRY_COLUMNS = [
    Column("Entry", "psa_time_entry_id"),
    Column("Date", "work_date", DATE),
    Column("Project", "project.name"),
    Column("PSA project", "psa_project_id"),
    Column("Phase", "phase_code"),
    Column("Person", "person_email"),
    Column("Role", "role"),
    Column("Hours", "hours", NUMBER),
    Column("Billed hours", "billed_hours", NUMBER),
    Column("Currency", "currency"),
    Column("Rate", "rate", MONEY, currency="currency"),
    Column("Amount", "amount", MONEY, currency="currency"),
    Column("Card version", _card_version),
    Column("Status", "status_label"),
    Column("Held because", _hold_reason),
    Column("Written off because", "write_off_reason"),
    Column("Invoice", _entry_invoices),
]


def _phases(project) -> str:
    return " ".join(phase.code for phase in project.phases.all())


PROJECT_COLUMNS = [
    Column("Project", "name"),
    Column("Project id", "pk", NUMBER),
    Column("Customer", "customer.name"),
    Column("Customer id", "customer.throughline_id"),
    Column("Status", "get_status_display"),
    Column("Billing", "contract.get_billing_model_display"),
    Column("Entity", "contract.legal_entity.code"),
    Column("Currency", "contract.currency"),
    Column("Amount", "contract.amount", MONEY, currency="contract.currency"),
    Column("Start", "contract.start_date", DATE),
    Column("End", "contract.end_date", DATE),
    Column("Phases", _phases),
    Column("CRM opportunity", "contract.crm_opportunity_id"),
    Column("PSA project", "psa_project_id"),
    Column("Amendments", "contract.amendment_count", NUMBER),
]


def _run_scope(run) -> str:
    return run.legal_entity.code if run.legal_entity else "all entities"


def _run_counts(run) -> str:
    return " · ".join(f"{key} {value}" for key, value in (run.counts or {}).items())


BILLING_RUN_COLUMNS = [
    Column("Run", "pk", NUMBER),
    Column("Month", "period", MONTH),
    Column("Scope", _run_scope),
    Column("Customer", "customer.name"),
    Column("Status", "get_status_display"),
    Column("Step", "step"),
    Column("Progress %", "progress", NUMBER),
    Column("Counts", _run_counts),
    Column("Started", "started_at", DATETIME),
    Column("Finished", "finished_at", DATETIME),
]
