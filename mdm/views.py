"""Customer pages for finance: search and the golden record with where each value comes from."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

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


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    require(request, "customers")
    filters = {
        name: request.GET.get(name, "").strip()
        for name in ("q", "status", "country", "crm_account_id", "erp_customer_id")
    }
    customers = selectors.filter_customers(selectors.list_customers(), **filters)
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
