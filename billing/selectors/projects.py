"""Reads of projects and contracts for the PMO pages and the ``projects/`` API."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import TruncMonth
from simple_history.models import ModelChange

from billing.models import (
    Contract,
    Invoice,
    InvoiceLine,
    Milestone,
    OpportunityDeal,
    Phase,
    Project,
    ProjectTemplate,
    RateCard,
    TimeEntry,
)
from config.money import Money
from config.money_db import exact_sum, from_exact_sum
from exceptions_queue.models import ExceptionItem
from exceptions_queue.selectors import list_exception_items
from integrations.models import ExternalRef, TraceStep

AMENDED = "amended"


def list_projects() -> QuerySet[Project]:
    """Projects with their contract, customer, template, rate card, phases and milestones, in a
    fixed number of queries."""
    return (
        Project.objects.select_related(
            "contract",
            "contract__legal_entity",
            "contract__rate_card",
            "customer",
            "template",
        )
        .prefetch_related(
            Prefetch("phases", Phase.objects.order_by("position", "code")),
            Prefetch("contract__milestones", Milestone.objects.order_by("due_date", "name")),
        )
        .order_by("-created_at", "-pk")
    )


def get_project(*, project_id: int) -> Project:
    return list_projects().get(pk=project_id)


def list_amendments(contract: Contract) -> list[dict]:
    """The contract's amendments, newest first: when, the changed fields (old → new)."""
    rows = list(
        contract.history.filter(history_change_reason__startswith=AMENDED)
        .select_related("history_user")
        .order_by("-history_date")
    )
    amendments = []
    for row in rows:
        previous = row.prev_record
        changes = []
        if previous is not None:
            delta = row.diff_against(previous, excluded_fields=["amendment_count", "last_event_at"])
            changes = [
                {
                    "field": change.field,
                    "old": _shown(change, change.old),
                    "new": _shown(change, change.new),
                }
                for change in delta.changes
            ]
        amendments.append(
            {"at": row.history_date, "reason": row.history_change_reason, "changes": changes}
        )
    return amendments


def _shown(change: ModelChange, value: Any) -> Any:  # a field value of any model field
    """A rate card's code instead of its id in the amendment list."""
    if change.field == "rate_card" and value is not None:
        return RateCard.objects.filter(pk=value).values_list("code", flat=True).first() or value
    return value


def list_external_refs(project: Project) -> list[ExternalRef]:
    """Cross-references of the project and its customer (PSA project, CRM account, ERP customer)."""
    project_type = ContentType.objects.get_for_model(Project)
    customer_type = ContentType.objects.get_for_model(project.customer)
    return list(
        ExternalRef.objects.filter(
            Q(content_type=project_type, object_id=str(project.pk))
            | Q(content_type=customer_type, object_id=str(project.customer_id))
        )
        .select_related("system")
        .order_by("system__slug", "object_type", "external_id")
    )


def list_project_traces(project: Project) -> list[str]:
    """Every trace that wrote the project, its contract or its deal, oldest first."""
    subjects = Q()
    for model, pk in (
        (Project, project.pk),
        (Contract, project.contract_id),
        (OpportunityDeal, getattr(getattr(project.contract, "deal", None), "pk", None)),
    ):
        if pk is not None:
            subjects |= Q(content_type=ContentType.objects.get_for_model(model), object_id=str(pk))
    seen: list[str] = []
    steps = (
        TraceStep.objects.filter(subjects).order_by("at", "pk").values_list("trace_id", flat=True)
    )
    for trace_id in steps:
        if trace_id not in seen:
            seen.append(trace_id)
    for trace_id in (project.contract.trace_id, project.trace_id):
        if trace_id and trace_id not in seen:
            seen.insert(0, trace_id)
    return seen


def project_financials(project: Project) -> dict:
    """What a PMO lead and finance read on a project's page, in the contract's currency:
    billed (active lines on invoices that are not void), rated and not yet billed, their sum
    against the contract amount and the not-to-exceed cap (burn, %), hours by phase, the
    invoices carrying the project, and its latest time. Five queries, whatever the size."""
    contract = project.contract
    billed = from_exact_sum(
        InvoiceLine.objects.filter(contract=contract)
        .exclude(invoice__status=Invoice.Status.VOID)
        .aggregate(total=exact_sum("amount"))["total"]
    )
    unbilled = from_exact_sum(
        TimeEntry.objects.filter(project=project, status=TimeEntry.Status.RATED).aggregate(
            total=exact_sum("amount")
        )["total"]
    )
    committed = billed + unbilled
    return {
        "currency": contract.currency,
        "billed": billed,
        "unbilled": unbilled,
        "committed": committed,
        "burn": [
            _burn(label, cap, committed)
            for label, cap in (
                ("contract amount", contract.amount),
                ("cap", contract.not_to_exceed),
            )
            if cap
        ],
        "phases": _hours_by_phase(project),
        "invoices": _invoices_of(contract),
        "months": _billed_and_cost_by_month(project),
        "recent_time": list(
            TimeEntry.objects.filter(project=project).order_by("-work_date", "-pk")[:10]
        ),
    }


def _burn(label: str, cap: Decimal, used: Decimal) -> dict:
    percent = int((used * 100 / cap).to_integral_value(ROUND_HALF_UP)) if cap else 0
    return {
        "label": label,
        "cap": cap,
        "used": used,
        "left": cap - used,
        "over_by": used - cap,
        "percent": percent,
        "bar": min(percent, 100),
        "over": used > cap,
    }


def _hours_by_phase(project: Project) -> list[dict]:
    """Each phase of the project in its order (with zeros when it has no time yet), then any
    phase code the PSA sent that the project does not have."""
    sums: dict[str, dict[str, Any]] = {
        row["phase_code"]: dict(row)
        for row in TimeEntry.objects.filter(project=project)
        .exclude(status=TimeEntry.Status.RETRACTED)
        .values("phase_code")
        .annotate(
            total_hours=exact_sum("hours", 2),
            billable_hours=exact_sum("hours", 2, filter=Q(is_billable=True)),
            rated=exact_sum("amount"),
        )
        .order_by("phase_code")
    }
    phases = list(project.phases.all())
    codes = [phase.code for phase in phases] + sorted(set(sums) - {p.code for p in phases})
    by_code = {phase.code: phase for phase in phases}
    empty: dict[str, Any] = {}
    return [
        {
            "code": code,
            "phase": by_code.get(code),
            "hours": from_exact_sum(sums.get(code, empty).get("total_hours"), 2),
            "billable": from_exact_sum(sums.get(code, empty).get("billable_hours"), 2),
            "amount": from_exact_sum(sums.get(code, empty).get("rated")),
        }
        for code in codes
    ]


def _invoices_of(contract: Contract) -> list[dict]:
    rows = (
        InvoiceLine.objects.filter(contract=contract)
        .values("invoice_id")
        .annotate(amount=exact_sum("amount"))
        .order_by("-invoice_id")
    )
    amounts = {row["invoice_id"]: from_exact_sum(row["amount"]) for row in rows}
    invoices = Invoice.objects.filter(pk__in=amounts).order_by("-period", "-pk")
    return [{"invoice": invoice, "amount": amounts[invoice.pk]} for invoice in invoices]


def open_phases_of_item(item: Any) -> list[Phase]:
    """The open phases of the project a held-time item is about (its subject key names the
    project: ``phase:<project>:<code>``, ``dates:<project>``, ``project:<project>``)."""
    kind, _, rest = str(getattr(item, "subject_key", "")).partition(":")
    project_id = rest.split(":", 1)[0]
    if kind not in ("phase", "dates", "project") or not project_id.isdigit():
        return []
    return list(
        Phase.objects.filter(project_id=int(project_id), status=Phase.Status.OPEN).order_by(
            "position", "code"
        )
    )


def _billed_and_cost_by_month(project: Project) -> list[dict]:
    """Billed (its lines on invoices that are not void, by service period) against the cost
    of its time (by work month), month by month, newest first. Cost in another currency than
    the contract's is listed apart, never added (no FX here: the margin panel converts)."""
    contract = project.contract
    billed = {
        row["invoice__period"]: from_exact_sum(row["total"])
        for row in InvoiceLine.objects.filter(contract=contract)
        .exclude(invoice__status=Invoice.Status.VOID)
        .values("invoice__period")
        .annotate(total=exact_sum("amount"))
        .order_by()
    }
    costs: dict[Any, dict[str, Decimal]] = {}
    for row in (
        TimeEntry.objects.filter(project=project, cost_amount__isnull=False)
        .exclude(status=TimeEntry.Status.RETRACTED)
        .annotate(month=TruncMonth("work_date"))
        .values("month", "cost_currency")
        .annotate(total=exact_sum("cost_amount"))
        .order_by()
    ):
        month = row["month"].date() if hasattr(row["month"], "date") else row["month"]
        costs.setdefault(month, {})[row["cost_currency"]] = from_exact_sum(row["total"])
    rows = []
    for month in sorted(set(billed) | set(costs), reverse=True):
        cost = costs.get(month, {})
        same = cost.get(contract.currency, Decimal(0))
        other = {c: v for c, v in cost.items() if c != contract.currency and v}
        amount = billed.get(month, Decimal(0))
        rows.append(
            {
                "month": month,
                "billed": amount,
                "cost": same,
                "other_costs": [Money(v, c) for c, v in sorted(other.items())],
                "margin": None if other else amount - same,
            }
        )
    return rows


def project_open_items(project: Project, user: Any) -> list:
    """The open exception items about the project (its held time, its rates, its deal) the
    viewer's queues hold, most urgent first."""
    keys = Q(subject_key__startswith=f"phase:{project.pk}:") | Q(
        subject_key__in=[f"dates:{project.pk}", f"project:{project.pk}"]
    )
    keys |= Q(subject_key__startswith=f"contract:{project.contract_id}:")
    return list(
        list_exception_items(user=user)
        .filter(keys, status__in=ExceptionItem.OPEN_STATUSES)
        .order_by("due_at")[:20]
    )


DEAL_FIELDS = (
    "legal_entity", "currency", "billing_model", "tax_jurisdiction", "project_template",
    "rate_card", "start_date", "end_date", "not_to_exceed",
)  # fmt: skip


def deal_values(item: Any) -> dict:
    """A contract-invalid item's deal as it stands (the CRM's data with finance's fixes)."""
    kind, _, opportunity_id = str(getattr(item, "subject_key", "")).partition(":")
    deal = OpportunityDeal.objects.filter(crm_opportunity_id=opportunity_id).first()
    if kind != "opportunity" or deal is None:
        return {}
    merged = {**(deal.data or {}), **(deal.overrides or {})}
    return {name: merged.get(name) for name in DEAL_FIELDS}


def deal_choices() -> dict[str, list[tuple[str, str]]]:
    """The values a deal may name, from the reference data: entities, their tax
    jurisdictions, project templates, rate cards ("-": the standard card)."""
    from mdm.models import LegalEntity

    entities = list(LegalEntity.objects.filter(is_active=True).order_by("code"))
    jurisdictions = sorted({j for e in entities for j in (e.tax_jurisdictions or [])})
    return {
        "legal_entity": [(e.code, f"{e.code} {e.name}") for e in entities],
        "tax_jurisdiction": [(j, j) for j in jurisdictions],
        "project_template": [
            (t.code, f"{t.code} {t.name}") for t in ProjectTemplate.objects.order_by("code")
        ],
        "rate_card": [("-", "the standard card")]
        + [(c.code, c.code) for c in RateCard.objects.order_by("code")],
    }
