"""Reads of projects and contracts for the PMO pages and the ``projects/`` API."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Prefetch, Q, QuerySet
from simple_history.models import ModelChange

from billing.models import Contract, Milestone, OpportunityDeal, Phase, Project, RateCard
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
