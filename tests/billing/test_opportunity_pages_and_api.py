"""``projects/`` API (docs/contract.md §2) and the PMO pages: filters, shape, roles, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Project
from tests.conftest import make_user
from tests.factories.billing import closed_won_data, load_reference
from tests.helpers import drain, envelope, post_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference(systems):
    load_reference()
    return systems


def win(client, systems, count=1, billing_model="time_and_materials", **overrides):
    for _ in range(count):
        data = closed_won_data(billing_model, **overrides)
        post_event(client, "crm", systems["crm"][1], envelope("crm.opportunity.closed_won", data))
    drain()


def test_projects_api_shape_and_money(client, reference, api_client_for):
    win(client, reference, billing_model="fixed_fee")
    project = Project.objects.get()
    response = api_client_for("pmo").get("/api/v1/projects/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and set(body) == {"count", "next", "previous", "results"}
    [row] = body["results"]
    assert row["crm_opportunity_id"] == project.contract.crm_opportunity_id
    assert row["psa_project_id"] == project.psa_project_id and row["status"] == "active"
    assert [p["code"] for p in row["phases"]] == ["PLAN", "DELIVER"]
    assert row["milestones"][0]["amount"] == {"amount": "30000.00", "currency": "USD"}
    assert row["contract"]["amount"] == {"amount": "90000.00", "currency": "USD"}
    assert (
        row["contract"]["billing_model"] == "fixed_fee" and row["contract"]["not_to_exceed"] is None
    )
    assert row["customer"]["crm_account_id"] == "001ACME"
    assert row["rate_card"] is None


def test_projects_api_filters(client, reference, api_client_for):
    win(client, reference, billing_model="retainer")
    win(client, reference, rate_card="US-STD", account_id="001OTHER", account_name="Globex Inc")
    api = api_client_for("finance")
    tm = Project.objects.get(contract__billing_model="time_and_materials")

    def ids(query):
        response = api.get(f"/api/v1/projects/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("billing_model=time_and_materials") == [tm.pk]
    assert ids(f"crm_opportunity_id={tm.contract.crm_opportunity_id}") == [tm.pk]
    assert ids(f"psa_project_id={tm.psa_project_id}") == [tm.pk]
    assert ids("customer=001OTHER") == [tm.pk]
    assert ids(f"customer={tm.customer.throughline_id}") == [tm.pk]
    assert len(ids("status=active")) == 2 and ids("status=closed") == []
    assert api.get(f"/api/v1/projects/{tm.pk}/").json()["rate_card"]["code"] == "US-STD"


def test_projects_api_roles(reference, api_client_for):
    for role in ("operations", "integration"):
        assert api_client_for(role).get("/api/v1/projects/").status_code == 403
    for role in ("pmo", "finance", "admin"):
        assert (
            api_client_for(role, username=f"u-{role}").get("/api/v1/projects/").status_code == 200
        )


def test_projects_api_query_count_does_not_grow_with_rows(client, reference, api_client_for):
    api = api_client_for("pmo")
    win(client, reference)
    with CaptureQueriesContext(connection) as one:
        api.get("/api/v1/projects/")
    win(client, reference, count=19, billing_model="fixed_fee")
    with CaptureQueriesContext(connection) as twenty:
        assert api.get("/api/v1/projects/").json()["count"] == 20
    assert len(twenty) == len(one)


def test_project_pages_for_the_pmo(client, reference):
    win(client, reference, billing_model="fixed_fee")
    project = Project.objects.get()
    client.force_login(make_user("pam", "pmo"))

    listing = client.get("/projects/?billing_model=fixed_fee&q=Initech")
    assert listing.status_code == 200
    assert project.name.encode() in listing.content and b"Projects" in listing.content
    assert b"No project matches" in client.get("/projects/?status=closed").content

    detail = client.get(project.get_absolute_url())
    assert detail.status_code == 200
    for text in (
        "PLAN",
        "Blueprint signed off",
        project.psa_project_id,
        project.contract.crm_opportunity_id,
        "US01",
        "/traces/",
    ):
        assert text.encode() in detail.content


def test_project_list_query_count_does_not_grow_with_rows(client, reference):
    client.force_login(make_user("pam", "pmo"))
    win(client, reference)
    with CaptureQueriesContext(connection) as one:
        client.get("/projects/")
    win(client, reference, count=19)
    with CaptureQueriesContext(connection) as twenty:
        client.get("/projects/")
    assert len(twenty) == len(one)


def test_project_pages_are_not_for_operations(client, reference):
    client.force_login(make_user("oscar", "operations"))
    assert client.get("/projects/").status_code == 403
    home = client.get("/")
    assert b'href="/projects/"' not in home.content
    client.force_login(make_user("pam", "pmo"))
    assert b'href="/projects/"' in client.get("/").content
