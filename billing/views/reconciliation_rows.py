"""What the reconciliation page and its export show of a row (a ControlResult of the
reconciliation): each side's figures in words, the mismatches with their items' links."""

from django.urls import reverse

from config.exports import DATETIME, NUMBER, Column, money_list_text
from exceptions_queue.models import ControlResult, ControlRun

# What a run's counts mean, for the person reading the page.
RUN_COUNT_LABELS = {
    "rows": "months × entities checked",
    "mismatches": "mismatches found",
    "raised": "items raised",
    "refreshed": "items still open, refreshed",
    "resolved": "items resolved (both sides agree now)",
    "dismissed": "mismatches dismissed before, unchanged",
    "not_checked": "peers that could not be read",
}


def run_counts(run: ControlRun) -> list[tuple[str, int]]:
    return [
        (RUN_COUNT_LABELS.get(k, k.replace("_", " ")), v) for k, v in (run.counts or {}).items()
    ]


def _time(figures: dict) -> dict:
    time = figures.get("time") or {}
    held = time.get("held_hours", "0.00")
    return {
        "hours": f"{time.get('approved_hours', '0.00')} h approved",
        "held": f"{held} h held" if held not in ("0.00", "0", "") else "",
        "rated": money_list_text(time.get("rated")) or "nothing rated",
        "unbilled": _unbilled_words(time),
    }


def _unbilled_words(time: dict) -> str:
    amounts = money_list_text(time.get("unbilled"))
    if not amounts:
        return ""
    if time.get("closed"):
        return f"{amounts} late time awaiting a move (the month is closed)"
    if not time.get("billed"):
        return ""  # not billed yet: rated time is expected to be on no invoice
    return f"{amounts} on no invoice"


def _erp(figures: dict) -> dict:
    erp = figures.get("erp") or {}
    posted, checked = erp.get("posted", 0), erp.get("checked", 0)
    systems = ", ".join(erp.get("systems") or []) or "the ERP"
    read = f"{checked} of {posted} posted read back from {systems}"
    return {
        "words": read if posted else "no posted invoice",
        "ours": money_list_text(erp.get("ours")),
        "theirs": money_list_text(erp.get("theirs")),
        "errors": list(erp.get("errors") or []),
    }


def _crm(figures: dict) -> dict:
    crm = figures.get("crm") or {}
    invoices, checked = crm.get("invoices", 0), crm.get("checked", 0)
    agree = checked - crm.get("stale", 0)
    words = f"{agree} of {checked} agree" if checked else "nothing to compare"
    if crm.get("in_flight"):
        words += f"; {crm['in_flight']} on the way to the CRM"
    return {
        "words": words if invoices else "no posted invoice",
        "system": crm.get("system", ""),
        "error": crm.get("error", ""),
    }


def _mismatches(figures: dict) -> list[dict]:
    return [
        {
            **problem,
            "at_risk": money_list_text(problem.get("amounts")),
            "item_url": reverse("exceptions_queue:item_detail", args=[problem["item_id"]])
            if problem.get("item_id")
            else "",
        }
        for problem in figures.get("mismatches") or []
    ]


def present_row(result: ControlResult) -> dict:
    figures = result.figures or {}
    invoiced = figures.get("invoiced") or {}
    count = invoiced.get("invoices", 0)
    return {
        "period": result.period,
        "entity": result.group,
        "checked_at": result.created_at,
        "run_id": result.run_id,
        "time": _time(figures),
        "invoiced": money_list_text(invoiced.get("net")) or "nothing invoiced",
        "invoice_count": f"{count} invoice{'' if count == 1 else 's'}",
        "erp": _erp(figures),
        "crm": _crm(figures),
        "mismatches": _mismatches(figures),
    }


def _money(path: str):
    def value(result: ControlResult) -> str:
        node: object = result.figures or {}
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return money_list_text(node if isinstance(node, list) else [])

    return value


def _mismatch_text(result: ControlResult) -> str:
    return " | ".join(
        f"{m.get('label')}: {m.get('summary')} ({m.get('ours')}; {m.get('theirs')})"
        for m in (result.figures or {}).get("mismatches") or []
    )


COLUMNS = [
    Column("Month", "period"),
    Column("Entity", "group"),
    Column("Approved hours", "figures.time.approved_hours"),
    Column("Held hours", "figures.time.held_hours"),
    Column("Rated", _money("time.rated")),
    Column("Rated, on no invoice", _money("time.unbilled")),
    Column("Invoiced (net)", _money("invoiced.net")),
    Column("Invoices", "figures.invoiced.invoices", NUMBER),
    Column("Posted", "figures.erp.posted", NUMBER),
    Column("Read back from the ERP", "figures.erp.checked", NUMBER),
    Column("Our gross (read back)", _money("erp.ours")),
    Column("ERP gross", _money("erp.theirs")),
    Column("Missing in the ERP", "figures.erp.missing", NUMBER),
    Column("Differing in the ERP", "figures.erp.differing", NUMBER),
    Column("CRM checked", "figures.crm.checked", NUMBER),
    Column("CRM stale", "figures.crm.stale", NUMBER),
    Column("Mismatches", "mismatch_count", NUMBER),
    Column("Mismatches in words", _mismatch_text),
    Column("Checked at", "created_at", DATETIME),
]
