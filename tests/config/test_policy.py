"""The one permission policy (config/policy.py, docs/security.md "Who may do what"): every
resource × role, through the API (a real token of the role) and through the pages (a person
holding the role), against a table written out here by hand, not derived from the code."""

import uuid

import pytest
from django.utils import timezone

from config import policy
from integrations.models import InboundEvent, TraceStep
from integrations.services.tokens import issue_token
from tests.conftest import make_user
from tests.factories.exceptions_queue import ExceptionItemFactory
from tests.factories.mdm import CustomerFactory

pytestmark = pytest.mark.django_db

ROLES = ("admin", "finance", "pmo", "operations", "integration", "none")
A, F, P, O, I = "admin", "finance", "pmo", "operations", "integration"  # noqa: E741
TRACE = "c" * 32
EVENT = "psa psa.time_entry.approved msg_trace"  # the summary of the event's "received" step
MISSING = uuid.UUID(int=0)

# (method, path, body, the roles allowed). Allowed roles get past the check (a 2xx, or the
# 400/404 of an empty body or a missing record); every other role gets 403.
API = [
    ("get", "/api/v1/customers/", None, {A, F, P, O}),
    ("get", "/api/v1/customers/999999/", None, {A, F, P, O}),
    ("get", "/api/v1/projects/", None, {A, P, F}),
    ("get", "/api/v1/projects/999999/", None, {A, P, F}),
    ("get", "/api/v1/projects/999999/rerate/", None, {A, P, F}),
    ("post", "/api/v1/projects/999999/rerate/", None, {A, F}),
    ("get", "/api/v1/time-entries/", None, {A, F, P}),
    ("get", "/api/v1/invoices/", None, {A, F}),
    ("get", "/api/v1/invoices/999999/", None, {A, F}),
    ("post", "/api/v1/invoices/999999/approve/", None, {A, F}),
    ("get", "/api/v1/leakage/", None, {A, F}),
    ("get", "/api/v1/invoices/999999/lines/999999/lineage/", None, {A, F, O}),
    ("get", "/api/v1/events/999999/lineage/", None, {A, F, O}),
    ("get", "/api/v1/billing-runs/", None, {A, F}),
    ("post", "/api/v1/billing-runs/", {}, {A, F}),
    ("post", "/api/v1/billing-runs/preview/", {}, {A, F}),
    ("get", "/api/v1/approvals/", None, {A, F}),
    ("post", "/api/v1/approvals/999999/approve/", {}, {A, F}),
    ("post", "/api/v1/approvals/999999/reject/", {}, {A, F}),
    ("get", "/api/v1/periods/", None, {A, F}),
    ("post", "/api/v1/periods/", {}, {A, F}),
    ("get", "/api/v1/late-time/", None, {A, F}),
    ("post", "/api/v1/late-time/move/", {}, {A, F}),
    ("get", "/api/v1/reconciliation/", None, {A, F}),
    ("post", "/api/v1/reconciliation/run/", {}, {A, F}),
    ("get", "/api/v1/reconciliation/runs/999999/", None, {A, F}),
    ("get", "/api/v1/rate-cards/", None, {A, F, P}),
    ("post", "/api/v1/rate-cards/", {}, {A}),
    ("post", "/api/v1/rate-cards/999999/preview/", {}, {A, F, P}),
    ("get", "/api/v1/events/", None, {A, O, I}),
    ("post", "/api/v1/events/999999/replay/", None, {A, O}),
    ("get", "/api/v1/outbox/", None, {A, O}),
    ("post", f"/api/v1/outbox/{MISSING}/replay/", None, {A, O}),
    ("get", f"/api/v1/outbox/{MISSING}/replay-preview/", None, {A, O}),
    ("post", "/api/v1/outbox/replay/", {}, {A, O}),
    ("get", "/api/v1/events/999999/replay-preview/", None, {A, O, I}),
    ("get", "/api/v1/systems/", None, {A, O}),
    ("post", "/api/v1/systems/nowhere/breaker/", {"state": "open"}, {A, O}),
    ("get", f"/api/v1/traces/{'0' * 32}/", None, {A, F, P, O, I}),
]

# Pages: (method, path, the roles allowed). Others get 403.
PAGES = [
    ("get", "/customers/", {A, F, P, O}),
    ("get", "/projects/", {A, P, F}),
    ("post", "/projects/999999/rerate/preview/", {A, F}),
    ("post", "/projects/999999/rerate/", {A, F}),
    ("get", "/invoices/", {A, F}),
    ("get", "/invoices/999999/", {A, F}),
    ("post", "/invoices/999999/approve/", {A, F}),
    ("post", "/invoices/approve/", {A, F}),
    ("get", "/leakage/", {A, F}),
    ("get", "/invoices/999999/lines/999999/lineage/", {A, F, O}),
    ("get", "/events/999999/lineage/", {A, F, O}),
    ("get", "/time/", {A, F, P}),
    ("get", "/billing-runs/", {A, F}),
    ("post", "/billing-runs/", {A, F}),
    ("post", "/billing-runs/preview/", {A, F}),
    ("get", "/billing-runs/999999/", {A, F}),
    ("get", "/approvals/", {A, F}),
    ("post", "/approvals/999999/", {A, F}),
    ("get", "/rates/", {A, F, P}),
    ("post", "/rates/cards/999999/preview/", {A, F, P}),
    ("post", "/rates/rules/999999/preview/", {A, F, P}),
    ("get", "/periods/", {A, F}),
    ("post", "/periods/status/", {A, F}),
    ("post", "/periods/late-time/move/", {A, F}),
    ("get", "/reconciliation/", {A, F}),
    ("post", "/reconciliation/", {A, F}),
    ("get", "/reconciliation/runs/999999/", {A, F}),
    ("get", "/operations/", {A, O}),
    ("get", f"/operations/outbox/{MISSING}/replay/", {A, O}),
    ("post", f"/operations/outbox/{MISSING}/replay/", {A, O}),
    ("get", "/operations/events/999999/replay/", {A, O, I}),
    ("post", "/operations/events/999999/replay/", {A, O}),
    ("post", "/demo/traffic/", {A, O}),
    ("get", f"/traces/{'0' * 32}/", {A, F, P, O, I}),
]


def _person(role: str):
    from django.contrib.auth import get_user_model

    existing = get_user_model().objects.filter(username=f"person-{role}").first()
    if existing is not None:
        return existing
    user = make_user(f"person-{role}", *([] if role in ("admin", "none") else [role]))
    if role == "admin":
        user.is_superuser = user.is_staff = True
        user.save()
    return user


def _api(client, role: str):
    """A token of the role; a person for admin (tokens hold working roles) and for none."""
    if role in ("admin", "none"):
        client.force_login(_person(role))
        return client
    issued = issue_token(client=f"bot-{role}", role=role)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


@pytest.mark.parametrize("role", ROLES)
def test_every_api_resource_answers_each_role_as_the_table_says(role, systems):
    from rest_framework.test import APIClient

    client = _api(APIClient(), role)
    wrong = []
    for method, path, body, allowed in API:
        response = getattr(client, method)(path, body, format="json")
        refused = response.status_code == 403
        if refused == (role in allowed) or response.status_code in (401, 405, 500):
            wrong.append(f"{method.upper()} {path}: {response.status_code}")
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_table_says(role, client, settings):
    settings.PRODUCTION = False
    client.force_login(_person(role))
    wrong = []
    for method, path, allowed in PAGES:
        response = getattr(client, method)(path)
        refused = response.status_code == 403
        if refused == (role in allowed) or response.status_code >= 500:
            wrong.append(f"{method.upper()} {path}: {response.status_code}")
    assert wrong == []


def test_the_refusal_names_the_roles_and_rate_cards_keep_their_code(api_client_for):
    refused = api_client_for("integration").get("/api/v1/invoices/")
    assert refused.json() == {"detail": "requires one of the roles: finance"}
    written = api_client_for("finance").post("/api/v1/rate-cards/", {}, format="json")
    assert written.status_code == 403 and written.json()["code"] == "rate_card_write_denied"


def test_navigation_and_panels_follow_the_policy(client):
    client.force_login(_person("integration"))
    page = client.get("/").content.decode()
    assert "/operations/" not in page and "Integration health" not in page
    client.force_login(_person("operations"))
    page = client.get("/").content.decode()
    assert "/operations/" in page and "/customers/" in page


def _event(system, webhook_id: str) -> InboundEvent:
    return InboundEvent.objects.create(
        system=system,
        webhook_id=webhook_id,
        event_type="psa.time_entry.approved",
        payload={"type": "psa.time_entry.approved", "data": {}},
        status="processed",
        trace_id=TRACE,
    )


def test_an_integration_client_reads_only_the_events_of_its_systems(systems, client):
    from rest_framework.test import APIClient

    psa_event = _event(systems["psa"][0], "msg_psa")
    crm_event = _event(systems["crm"][0], "msg_crm")
    issued = issue_token(client="psa-bot", role="integration", systems=["psa"])
    bot = APIClient()
    bot.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    listed = bot.get("/api/v1/events/").json()
    assert [row["id"] for row in listed["results"]] == [psa_event.pk]
    assert bot.get(f"/api/v1/events/{crm_event.pk}/").status_code == 404
    assert bot.get(f"/api/v1/events/{psa_event.pk}/").status_code == 200
    assert bot.post(f"/api/v1/events/{psa_event.pk}/replay/").status_code == 403
    # A token naming no system, and a person signed in as integration, read none.
    unscoped = APIClient()
    unscoped.credentials(
        HTTP_AUTHORIZATION=f"Bearer {issue_token(client='crm-bot', role='integration').secret}"
    )
    assert unscoped.get("/api/v1/events/").json()["count"] == 0
    person = APIClient()
    person.force_login(_person("integration"))
    assert person.get("/api/v1/events/").json()["count"] == 0


def _step(subject, summary: str) -> TraceStep:
    from django.contrib.contenttypes.models import ContentType

    return TraceStep.objects.create(
        trace_id=TRACE,
        at=timezone.now(),
        kind="record" if subject is not None else "note",
        action="touched",
        summary=summary,
        content_type=ContentType.objects.get_for_model(subject) if subject else None,
        object_id=str(subject.pk) if subject else "",
    )


@pytest.fixture
def mixed_trace(systems):
    """One trace touching a customer, a finance item, an operations item, the PSA's event and
    a bare note: each role should see its own part of it."""
    _event(systems["psa"][0], "msg_trace")  # its "received" step is derived from the row
    _step(CustomerFactory(), "customer")
    _step(ExceptionItemFactory(queue="finance", type_code="time_entry_held"), "finance item")
    _step(ExceptionItemFactory(queue="operations"), "operations item")
    _step(None, "note")


EXPECTED_STEPS = {
    "finance": ["customer", "finance item"],
    "pmo": ["customer"],
    "operations": [EVENT, "customer", "operations item", "note"],
    "admin": [EVENT, "customer", "finance item", "operations item", "note"],
}


@pytest.mark.parametrize("role", sorted(EXPECTED_STEPS))
def test_a_trace_shows_each_role_only_its_steps(role, mixed_trace, client):
    from rest_framework.test import APIClient

    api = _api(APIClient(), role)
    steps = api.get(f"/api/v1/traces/{TRACE}/").json()["steps"]
    assert [step["summary"] for step in steps] == EXPECTED_STEPS[role]
    client.force_login(_person(role))
    page = client.get(f"/traces/{TRACE}/").content.decode()
    hidden = set(EXPECTED_STEPS["admin"]) - set(EXPECTED_STEPS[role])
    assert all(f">{summary}<" not in page for summary in hidden)


def test_a_trace_with_nothing_to_show_is_not_found(mixed_trace, systems):
    from rest_framework.test import APIClient

    crm_bot = APIClient()
    secret = issue_token(client="crm-bot", role="integration", systems=["crm"]).secret
    crm_bot.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert crm_bot.get(f"/api/v1/traces/{TRACE}/").status_code == 404
    psa_bot = APIClient()
    secret = issue_token(client="psa-bot", role="integration", systems=["psa"]).secret
    psa_bot.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    steps = psa_bot.get(f"/api/v1/traces/{TRACE}/").json()["steps"]
    assert [step["summary"] for step in steps] == [EVENT]


def test_every_resource_in_the_matrix_is_admin_only_or_names_roles_that_exist():
    from config.roles import ROLES as KNOWN

    for resource, actions in policy.MATRIX.items():
        for action, roles in actions.items():
            assert roles <= set(KNOWN) - {"admin"}, (resource, action)
    assert policy.roles_for("rate_cards", "write") == ()
    with pytest.raises(policy.PolicyError):
        policy.roles_for("invoices", "delete")


def test_a_refused_page_is_a_page_that_says_who_it_is_for(client):
    client.force_login(_person("pmo"))
    response = client.get("/invoices/")
    page = response.content.decode()
    assert response.status_code == 403 and 'data-testid="forbidden"' in page
    assert "This is for Finance." in page and "with the role PMO" in page
    assert "<nav" in page  # the site's own layout, with its navigation


def test_the_api_root_lists_every_resource(client):
    body = client.get("/api/v1/").json()
    for key in (
        "customers", "projects", "time_entries", "invoices", "billing_runs", "rate_cards",
        "exceptions", "events", "outbox", "systems", "metrics", "schema", "docs",
    ):  # fmt: skip
        assert body[key].startswith("http://testserver/api/v1/"), key
    assert body["hooks"] == "http://testserver/api/v1/hooks/{system}/"


def test_the_server_error_page_stands_alone_and_the_site_has_an_icon(client):
    from django.template.loader import render_to_string

    page = render_to_string("500.html")  # rendered with no request and no database
    assert "Something went wrong on our side" in page and "app.css" in page
    assert client.get("/favicon.ico").status_code in (301, 302)
    assert "favicon.svg" in client.get("/login/").content.decode()
