"""The filters of the finance and PMO dashboards (docs/dashboards.md "Filters"): a legal entity
(its code), a client (the golden customer's id), a project (its PSA id) and a period of months
(``from`` and ``to``, ``YYYY-MM``). Every billing panel of those dashboards takes them as
parameters; a value that does not parse is ignored, as if not given (the figures stay honest:
never a filter silently half-applied). The links of a figure keep the filters the list page
has a parameter for."""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Exists, OuterRef, Q

from billing.periods import period_from_text

PARAMS = ("legal_entity", "customer", "project", "from", "to")
TREND_WEEKS = 12


def _month(text, *, last: bool) -> date | None:
    try:
        first = period_from_text(text)
    except (TypeError, ValueError):
        return None
    if not last:
        return first
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Scope:
    legal_entity: str = ""
    customer: int | None = None
    project: str = ""
    start: date | None = None
    end: date | None = None

    @classmethod
    def parse(cls, params: dict) -> "Scope":
        customer = str(params.get("customer") or "").strip()
        start = _month(params.get("from"), last=False)
        end = _month(params.get("to"), last=True)
        if start and end and start > end:
            start, end = None, None
        return cls(
            legal_entity=str(params.get("legal_entity") or "").strip()[:20],
            customer=int(customer) if customer.isdigit() and len(customer) < 19 else None,
            project=str(params.get("project") or "").strip()[:120],
            start=start,
            end=end,
        )

    @property
    def narrowed(self) -> bool:
        return bool(self.legal_entity or self.customer or self.project or self.start or self.end)

    def projects(self, prefix: str = "") -> Q:
        """The projects in scope (``prefix`` is the path to the project, e.g. ``"project__"``)."""
        q = Q()
        if self.legal_entity:
            q &= Q(**{f"{prefix}contract__legal_entity__code": self.legal_entity})
        if self.customer:
            q &= Q(**{f"{prefix}customer_id": self.customer})
        if self.project:
            q &= Q(**{f"{prefix}psa_project_id": self.project})
        return q

    def dates(self, field: str) -> Q:
        q = Q()
        if self.start:
            q &= Q(**{f"{field}__gte": self.start})
        if self.end:
            q &= Q(**{f"{field}__lte": self.end})
        return q

    def entries(self) -> Q:
        """Time entries in scope: of a project in scope, worked in the period."""
        return self.projects("project__") & self.dates("work_date")

    def invoices(self) -> Q:
        """Invoices of the entity and client; of the project when one of its lines bills it."""
        from billing.models import InvoiceLine

        q = Q()
        if self.legal_entity:
            q &= Q(legal_entity__code=self.legal_entity)
        if self.customer:
            q &= Q(customer_id=self.customer)
        if self.project:
            lines = InvoiceLine.objects.filter(
                invoice=OuterRef("pk"), contract__project__psa_project_id=self.project
            )
            q &= Q(Exists(lines))
        return q

    def weeks(self, today: date, count: int = TREND_WEEKS) -> list[date]:
        """The Mondays of the trend: ``count`` weeks ending with the week of the period's end (or
        of today), starting no earlier than the week of the period's start."""
        last = monday_of(min(self.end or today, today))
        first = last - timedelta(weeks=count - 1)
        if self.start and monday_of(self.start) > first:
            first = min(monday_of(self.start), last)
        return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]

    def as_json(self) -> dict:
        return {
            "legal_entity": self.legal_entity or None,
            "customer": self.customer,
            "project": self.project or None,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }

    def time_query(self) -> dict:
        """What the time entry list (``/time/``) filters by: the project and the work dates.
        (It has no client or legal entity filter: docs/dashboards.md "Drill-down".)"""
        query = {"project": self.project} if self.project else {}
        if self.start:
            query["work_date_after"] = self.start.isoformat()
        if self.end:
            query["work_date_before"] = self.end.isoformat()
        return query

    def invoice_query(self) -> dict:
        """What the invoice list (``/invoices/``) filters by; a period of one month as ``period``."""
        query: dict = {}
        if self.legal_entity:
            query["legal_entity"] = self.legal_entity
        if self.customer:
            query["customer"] = self.customer
        if self.project:
            query["project"] = self.project
        if self.start and self.end and self.start.replace(day=1) == self.end.replace(day=1):
            query["period"] = self.start.strftime("%Y-%m")
        return query


def link(path: str, *queries: dict) -> str:
    from urllib.parse import urlencode

    merged: dict = {}
    for query in queries:
        merged.update({k: v for k, v in query.items() if v not in (None, "")})
    return f"{path}?{urlencode(merged, doseq=True)}" if merged else path  # lists: repeated keys


def filter_fields(query) -> list[dict]:
    """The finance and PMO dashboards' filter form: entities, clients with a project, projects
    with a PSA id (three queries, whatever the page shows)."""
    from billing.models import Project
    from mdm.models import Customer, LegalEntity

    entities = [(e.code, f"{e.code} {e.name}") for e in LegalEntity.objects.order_by("code")]
    clients = [
        (str(pk), name)
        for pk, name in Customer.objects.filter(projects__isnull=False)
        .distinct()
        .order_by("name", "pk")
        .values_list("pk", "name")
    ]
    projects = [
        (psa, f"{name} ({psa})")
        for psa, name in Project.objects.exclude(psa_project_id__isnull=True)
        .order_by("name", "psa_project_id")
        .values_list("psa_project_id", "name")
    ]

    def select(name: str, label: str, options: list) -> dict:
        return {
            "name": name,
            "label": label,
            "kind": "select",
            "value": query.get(name, ""),
            "options": options,
        }

    return [
        select("legal_entity", "Legal entity", entities),
        select("customer", "Client", clients),
        select("project", "Project", projects),
        {"name": "from", "label": "From month", "kind": "month", "value": query.get("from", "")},
        {"name": "to", "label": "To month", "kind": "month", "value": query.get("to", "")},
    ]
