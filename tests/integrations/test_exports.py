"""The operations page's outbox and events tabs as files: the rows each tab shows under the
same filters; refused to whom the page refuses."""

import pytest

from tests.conftest import make_user
from tests.exports import csv_table, html_tables, xlsx_table
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic(client, systems):
    """Two approved entries from the PSA; the ERP refuses the recording: two dead letters."""
    from integrations.services.systems import set_sandbox_faults

    set_sandbox_faults(system=systems["erp"][0], permanent_operations=["erp.time_entry.record"])
    for _ in range(2):
        body = envelope("psa.time_entry.approved", time_entry_data())
        assert post_event(client, "psa", systems["psa"][1], body).status_code == 202
    drain()


def _compare(client, query: dict, labels: tuple[str, ...]):
    table = html_tables(client.get("/operations/", query).content)[1]  # after the systems
    rows = csv_table(client.get("/operations/", {**query, "format": "csv"}))
    sheet = xlsx_table(client.get("/operations/", {**query, "format": "xlsx"}))
    assert len(table.rows) == len(rows.rows) == len(sheet.rows)
    for shown, row in zip(table.records(), rows.records(), strict=True):
        for label in labels:
            assert shown[label] == row[label], label
        assert row["Trace"].startswith(shown["Trace"].rstrip("…"))
    return rows


def test_outbox_and_events_exports_are_the_filtered_tabs(client, traffic):
    client.force_login(make_user("olga", "operations"))
    dead = _compare(client, {"tab": "outbox", "status": "dead"}, ("System", "Kind", "Status"))
    assert dead.rows and set(dead.column("Status")) == {"Dead (needs a person)"}  # the label
    assert dead.column("Created")[0][:4].isdigit()
    events = _compare(client, {"tab": "events", "system": "psa"}, ("System", "Type", "Status"))
    assert events.column("Type") == ["psa.time_entry.approved"] * 2
    assert _compare(client, {"tab": "outbox", "status": "sent"}, ()).rows == []


def test_operations_exports_are_refused_to_pmo(client, traffic):
    client.force_login(make_user("piet", "pmo"))
    assert client.get("/operations/", {"tab": "events", "format": "csv"}).status_code == 403
    assert client.get("/operations/", {"format": "xlsx"}).status_code == 403
