"""The home page's "Today" for finance and the PMO: what needs a person now, each line a link
to the rows behind it. Four aggregate queries, whatever the firm's size."""

from django.db.models import Count
from django.urls import reverse

from billing.models import Invoice, TimeEntry
from config.money import money_list
from config.money_db import exact_sum, from_exact_sum
from config.roles import FINANCE, PMO, has_role
from integrations.models import OutboxMessage


def get_today(*, user=None) -> dict:
    """Drafts to review and failed postings (finance); held time (PMO and finance)."""
    lines: list[dict] = []
    if has_role(user, FINANCE):
        lines += _finance_lines()
    if has_role(user, PMO, FINANCE):
        lines += _held_time_lines()
    return {"lines": [line for line in lines if line["count"]]}


def _finance_lines() -> list[dict]:
    drafts = (
        Invoice.objects.filter(status=Invoice.Status.DRAFT)
        .values("currency")
        .annotate(n=Count("pk"), gross=exact_sum("gross_total"))
        .order_by("currency")
    )
    totals = {row["currency"]: from_exact_sum(row["gross"]) for row in drafts}
    failed = OutboxMessage.objects.filter(
        kind="erp.invoice.create", status=OutboxMessage.Status.DEAD
    ).count()
    invoices = reverse("billing:invoice_list")
    return [
        {
            "count": sum(row["n"] for row in drafts),
            "words": "draft invoices to review and approve",
            "amounts": money_list(totals),
            "url": f"{invoices}?status=draft",
        },
        {
            "count": failed,
            "words": "invoices the ERP refused: posting failed",
            "amounts": [],
            "url": f"{invoices}?status=posting",
        },
    ]


def _held_time_lines() -> list[dict]:
    held = TimeEntry.objects.filter(status=TimeEntry.Status.ON_HOLD).aggregate(
        n=Count("pk"), hours=exact_sum("hours", 2)
    )
    return [
        {
            "count": held["n"],
            "words": f"time entries held ({from_exact_sum(held['hours'], 2)} h) waiting for a fix",
            "amounts": [],
            "url": f"{reverse('billing:time_entry_list')}?status=on_hold",
        }
    ]
