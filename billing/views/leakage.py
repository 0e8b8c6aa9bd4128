"""Finance's revenue-leakage ledger page (``/leakage/``; docs/finance-controls/leakage.md): the
totals by reason, client and month (per currency, a bar chart of the reasons per currency), the
rows 25 to a page, and the same rows as CSV or XLSX."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from billing.selectors.leakage import (
    LeakageFilters,
    LeakageRow,
    Ledger,
    get_leakage_ledger,
    leakage_filter_choices,
)
from config.charts import Row, Segment, bar_chart
from config.exports import (
    DATE,
    DATETIME,
    MONEY,
    MONTH,
    NUMBER,
    Column,
    export_query,
    export_response,
    requested_format,
)
from config.policy import require
from exceptions_queue.selectors import list_visible_queues

PAGE_SIZE = 25  # rows per page: one screen of the ledger
# The colour of each reason's bar (app.css): amber waits on someone, red is gone, blues billed.
REASON_CSS = {
    "held": "seg-age-2",
    "written_off": "seg-age-3",
    "written_down": "seg-age-1",
    "late": "seg-age-0",
    "never_billed": "seg-muted",
}

LEAKAGE_COLUMNS = [
    Column("Reason", "reason_label"),
    Column("Why", "detail"),
    Column("Entry", "psa_time_entry_id"),
    Column("Invoice", "invoice_title"),
    Column("Line", "line_id", NUMBER),
    Column("Client", "customer_name"),
    Column("Entity", "legal_entity"),
    Column("Project", "project_name"),
    Column("PSA project", "psa_project_id"),
    Column("Month", "month", MONTH),
    Column("Work date", "work_date", DATE),
    Column("Age (days)", "age_days", NUMBER),
    Column("Months late", "months_late", NUMBER),
    Column("Hours", "hours", NUMBER),
    Column("Currency", "currency"),
    Column("Amount", "amount_value", MONEY, currency="currency"),
    Column("Owner", "owner"),
    Column("When", "happened_at", DATETIME),
]


@login_required
def leakage_ledger(request: HttpRequest) -> HttpResponse:
    require(request, "leakage")
    try:
        filters = LeakageFilters.parse(request.GET)
    except ValueError as exc:
        messages.error(request, f"Filter not applied: {exc}")
        filters = LeakageFilters()
    ledger = get_leakage_ledger(filters=filters)
    if fmt := requested_format(request):
        return export_response(fmt, name="leakage", columns=LEAKAGE_COLUMNS, rows=ledger.rows)
    page = Paginator(ledger.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = filters.as_query()
    context = {
        "ledger": ledger,
        "page": page,
        "rows": present_rows(page.object_list, queues=set(list_visible_queues(user=request.user))),
        "charts": reason_charts(ledger, query),
        "query": query,
        "page_query": export_query(request.GET),
        "choices": leakage_filter_choices(),
        "by_reason": [(g, _link(query, reason=g.key)) for g in ledger.by_reason],
        "by_customer": [(g, _link(query, customer=g.key)) for g in ledger.by_customer],
        "by_month": [(g, _link(query, **{"from": g.key, "to": g.key})) for g in ledger.by_month],
    }
    return render(request, "billing/leakage.html", context)


def _link(query: dict[str, str], **changes: str) -> str:
    merged = {**query, **changes}
    return f"{reverse('billing:leakage')}?{urlencode({k: v for k, v in merged.items() if v})}"


def reason_charts(ledger: Ledger, query: dict[str, str]) -> list[dict]:
    """One bar chart per currency: the amount of each reason in it (never across currencies)."""
    currencies = sorted(ledger.total.amounts)
    charts = []
    for currency in currencies:
        rows = []
        for group in ledger.by_reason:
            amount = group.tally.amounts.get(currency)
            if amount is None:
                continue
            rows.append(
                Row(
                    label=group.label,
                    segments=[Segment(amount.amount, REASON_CSS[group.key], amount.format())],
                    value_label=amount.format(),
                    href=_link(query, reason=group.key),
                )
            )
        if rows:
            charts.append({"currency": currency, "chart": bar_chart(rows, width=420)})
    return charts


def present_rows(rows: list[LeakageRow], *, queues: set[str]) -> list[dict]:
    """Each row with its links: the entry in the time list, its project, invoice (and line's
    lineage) and the exception item holding it, when the viewer may open its queue."""
    shown = []
    for row in rows:
        links = []
        if row.invoice_id:
            links.append(
                (row.invoice_title, reverse("billing:invoice_detail", args=[row.invoice_id]))
            )
        if row.invoice_id and row.line_id:
            lineage = reverse("billing:line_lineage", args=[row.invoice_id, row.line_id])
            links.append(("Lineage", lineage))
        if row.item_id and row.item_queue in queues:
            item = reverse("exceptions_queue:item_detail", args=[row.item_id])
            links.append((f"Exception #{row.item_id}", item))
        shown.append(
            {
                "row": row,
                "entry_url": f"{reverse('billing:time_entry_list')}?psa_time_entry_id="
                f"{row.psa_time_entry_id}"
                if row.psa_time_entry_id
                else "",
                "project_url": reverse("billing:project_detail", args=[row.project_id])
                if row.project_id
                else "",
                "links": links,
                "key": f"{row.reason}:{row.psa_time_entry_id or row.line_id}",
            }
        )
    return shown
