"""Operations pages and the metrics JSON, as a signed-in person sees them."""

import pytest

from tests.conftest import make_user
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_letter(client, systems):
    from integrations.services.systems import set_sandbox_faults

    set_sandbox_faults(system=systems["erp"][0], permanent_operations=["erp.time_entry.record"])
    response = post_event(
        client, "psa", systems["psa"][1], envelope("psa.time_entry.approved", time_entry_data())
    )
    drain()
    return response.json()["trace_id"]


def test_operations_page_shows_dead_letters_and_breakers(client, dead_letter):
    client.force_login(make_user("olga", "operations"))
    page = client.get("/operations/?status=dead").content.decode()
    assert "erp.time_entry.record" in page and "422" in page
    assert "dead letters" in page


def test_operations_page_is_refused_to_pmo(client, dead_letter):
    client.force_login(make_user("pete", "pmo"))
    assert client.get("/operations/").status_code == 403


def test_trace_page_shows_the_story(client, dead_letter):
    client.force_login(make_user("olga", "operations"))
    page = client.get(f"/traces/{dead_letter}/").content.decode()
    for words in ("received", "created", "queued", "dead"):
        assert words in page


def test_metrics_json_has_the_integration_figures(api_client_for, dead_letter):
    body = api_client_for("operations").get("/api/v1/metrics/").json()
    erp = next(row for row in body["integration_health"]["systems"] if row["system"] == "erp")
    assert erp["dead_letters"] == 1 and erp["breaker"] == "closed"


def test_home_page_shows_the_health_panel_to_operations(client, dead_letter):
    client.force_login(make_user("olga", "operations"))
    assert "Integration health" in client.get("/").content.decode()
