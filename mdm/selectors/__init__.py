"""Reads of the customer master: the querysets pages, API and other apps use."""

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Cast

from integrations.models import ExternalRef, TraceStep
from mdm.models import BillingProfile, Contact, Customer, FieldOwnership
from mdm.selectors import refs

if TYPE_CHECKING:
    from exceptions_queue.models import ExceptionItem


class FieldChange(TypedDict):
    field: str
    old: Any
    new: Any


class HistoryEntry(TypedDict):
    """One history row of a customer and what it changed (``list_customer_history``)."""

    row: Any  # a simple-history row (simple-history ships no types)
    changes: list[FieldChange]


def _refs_of_customers(kind: str, object_type: str) -> QuerySet[ExternalRef]:
    return ExternalRef.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=Cast(OuterRef("pk"), CharField()),
        system__kind=kind,
        object_type=object_type,
    )


def get_customer_by_crm_account_id(crm_account_id: str) -> Customer | None:
    """The golden record of a CRM account (following merges), or None."""
    return refs.resolve_merged(
        refs.find_local(
            model=Customer, object_type=refs.CRM_ACCOUNT, external_id=crm_account_id, kind="crm"
        )
    )


def list_customers() -> QuerySet[Customer]:
    """Customers with what every list shows, in a fixed number of queries."""
    return (
        Customer.objects.select_related("parent", "merged_into")
        .annotate(
            crm_account_id=Subquery(
                _refs_of_customers("crm", refs.CRM_ACCOUNT).order_by("pk").values("external_id")[:1]
            )
        )
        .prefetch_related(
            Prefetch(
                "billing_profiles",
                BillingProfile.objects.select_related("legal_entity", "billing_contact").order_by(
                    "legal_entity__code"
                ),
            ),
            Prefetch("contacts", Contact.objects.order_by("last_name", "first_name", "pk")),
        )
        .order_by("name", "pk")
    )


def filter_customers(
    queryset: QuerySet[Customer],
    *,
    q: str = "",
    status: str = "",
    crm_account_id: str = "",
    erp_customer_id: str = "",
    country: str = "",
) -> QuerySet[Customer]:
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(legal_name__icontains=q))
    if status:
        queryset = queryset.filter(status=status)
    if country:
        queryset = queryset.filter(country__iexact=country)
    if crm_account_id:
        queryset = queryset.filter(
            Exists(_refs_of_customers("crm", refs.CRM_ACCOUNT).filter(external_id=crm_account_id))
        )
    if erp_customer_id:
        queryset = queryset.filter(
            Exists(_refs_of_customers("erp", refs.ERP_CUSTOMER).filter(external_id=erp_customer_id))
        )
    return queryset


def get_field_owners() -> dict[str, dict[str, str]]:
    """entity -> field -> owning system kind."""
    owners: dict[str, dict[str, str]] = {}
    for entity, field, owner in FieldOwnership.objects.values_list("entity", "field", "owner"):
        owners.setdefault(entity, {})[field] = owner
    return owners


def list_customer_refs(customer: Customer) -> list[ExternalRef]:
    return refs.refs_of(customer)


def list_customer_history(customer: Customer, *, limit: int = 50) -> list[HistoryEntry]:
    """The record's history rows with what changed in each (newest first)."""
    rows = list(
        customer.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    out: list[HistoryEntry] = []
    for newer, older in zip(rows, rows[1:] + [None], strict=False):
        if len(out) == limit:
            break
        changes = newer.diff_against(older).changes if older is not None else []
        out.append(
            {
                "row": newer,
                "changes": [
                    {"field": c.field, "old": c.old, "new": c.new}
                    for c in changes
                    if c.field
                    not in (
                        "match_name",
                        "match_prefix",
                        "match_sorted_prefix",
                        "website_domain",
                        "trace_id",
                    )
                ],
            }
        )
    return out


def list_open_exceptions_for(customer: Customer) -> list["ExceptionItem"]:
    """Open exception items about the customer (as their subject or as one of a pair)."""
    from exceptions_queue.models import ExceptionItem

    open_statuses = [ExceptionItem.Status.OPEN, ExceptionItem.Status.ASSIGNED]
    profile_ids = list(customer.billing_profiles.values_list("pk", flat=True))
    keys = Q(content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk))
    keys |= Q(type_code="duplicate_customer", subject_key__startswith=f"customer:{customer.pk}:")
    keys |= Q(type_code="duplicate_customer", subject_key__endswith=f":{customer.pk}")
    for pk in profile_ids:
        keys |= Q(type_code="ownership_conflict", subject_key__startswith=f"billing_profile:{pk}:")
    return list(
        ExceptionItem.objects.filter(keys, status__in=open_statuses).order_by("-last_seen_at", "pk")
    )


def list_customer_traces(customer: Customer, *, limit: int = 20) -> list[str]:
    """Trace ids that touched the customer, newest first."""
    steps = (
        TraceStep.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk)
        )
        .order_by("-at")
        .values_list("trace_id", flat=True)
    )
    seen: list[str] = []
    for trace_id in steps[:200]:
        if trace_id not in seen:
            seen.append(trace_id)
        if len(seen) == limit:
            break
    return seen


def list_customer_projects(customer: Customer) -> list:
    """The customer's delivery projects, newest first, through the reverse relation that
    billing's Project declares (``related_name="projects"``): mdm reads it without importing
    billing, and shows nothing when billing is not installed."""
    related = getattr(customer, "projects", None)
    if related is None:
        return []
    return list(related.select_related("contract").order_by("-created_at")[:50])
