"""Customer pages for finance: search and the golden record with where each value comes from."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from config.exports import DATETIME, Column, export_response, requested_format
from config.policy import require
from mdm import selectors
from mdm.models import Customer

PAGE_SIZE = 50
CUSTOMER_FIELDS = (
    ("name", "Name"),
    ("legal_name", "Legal name"),
    ("website", "Website"),
    ("industry", "Industry"),
    ("phone", "Phone"),
    ("owner_email", "Account owner"),
    ("country", "Country"),
    ("parent", "Parent"),
)
PROFILE_FIELDS = (
    ("legal_entity", "Legal entity"),
    ("bill_to", "Bill-to"),
    ("payment_terms", "Payment terms"),
    ("currency", "Currency"),
    ("tax_id", "Tax id"),
    ("tax_jurisdiction", "Tax jurisdiction"),
)


def _profiles(customer) -> str:
    return "; ".join(
        f"{profile.legal_entity.code} · {profile.payment_terms or 'no terms'}"
        for profile in customer.billing_profiles.all()
    )


# The customer list's export (config/exports.py): the page's columns, in its words.
CUSTOMER_COLUMNS = [
    Column("Id", "throughline_id"),
    Column("Name", "name"),
    Column("Legal name", "legal_name"),
    Column("Country", "country"),
    Column("CRM account", "crm_account_id"),
    Column("Billing profiles", _profiles),
    Column("Parent", "parent.name"),
    Column("Status", "get_status_display"),
    Column("Updated", "updated_at", DATETIME),
]


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    require(request, "customers")
    filters = {
        name: request.GET.get(name, "").strip()
        for name in ("q", "status", "country", "crm_account_id", "erp_customer_id")
    }
    customers = selectors.filter_customers(selectors.list_customers(), **filters)
    if fmt := requested_format(request):
        return export_response(fmt, name="customers", columns=CUSTOMER_COLUMNS, rows=customers)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "mdm/customer_list.html",
        {
            "page": page,
            "filters": filters,
            "statuses": Customer.Status.choices,
            "query": query.urlencode(),
        },
    )


def _facts(obj, fields, owners: dict[str, str]) -> list[dict]:
    rows = []
    for name, label in fields:
        value = getattr(obj, name)
        if name == "bill_to":
            value = ", ".join(part for part in value.values() if part)
        rows.append({"label": label, "value": value, "owner": owners.get(name, "")})
    return rows


@login_required
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, "customers")
    customer = get_object_or_404(selectors.list_customers(), pk=pk)
    owners = selectors.get_field_owners()
    profiles = [
        {"profile": p, "facts": _facts(p, PROFILE_FIELDS, owners.get("billing_profile", {}))}
        for p in customer.billing_profiles.all()
    ]
    return render(
        request,
        "mdm/customer_detail.html",
        {
            "customer": customer,
            "facts": _facts(customer, CUSTOMER_FIELDS, owners.get("customer", {})),
            "profiles": profiles,
            "contacts": customer.contacts.all(),
            "children": customer.children.order_by("name", "pk"),
            "absorbed": customer.absorbed.order_by("pk"),
            "refs": selectors.list_customer_refs(customer),
            "history": selectors.list_customer_history(customer),
            "exceptions": selectors.list_open_exceptions_for(customer),
            "projects": selectors.list_customer_projects(customer),
            "traces": selectors.list_customer_traces(customer),
            "contact_owner": owners.get("contact", {}).get("last_name", ""),
        },
    )
