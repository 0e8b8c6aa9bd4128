"""After activation: PSA project/phase status, milestone completion, amendments (over HTTP)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import Contract, Milestone, Phase, Project
from billing.services.contracts import contract_amended, phase_reopened, project_reopened
from exceptions_queue.models import ExceptionItem
from integrations.models import InboundEvent, SandboxRecord
from tests.factories.billing import closed_won_data, load_reference
from tests.helpers import drain, envelope, post_event

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def reference(systems):
    load_reference()
    return systems


def send(client, systems, slug, event_type, data, at=None):
    response = post_event(
        client,
        slug,
        systems[slug][1],
        envelope(event_type, data, timestamp=at or datetime.now(tz=UTC)),
    )
    assert response.status_code == 202, response.content
    drain()
    return response


def won(client, systems, billing_model="time_and_materials", **overrides):
    data = closed_won_data(billing_model, **overrides)
    send(client, systems, "crm", "crm.opportunity.closed_won", data, at=T0)
    return data, Project.objects.get(contract__crm_opportunity_id=data["opportunity_id"])


@pytest.fixture
def received():
    """Signals sent during the test: [(name, kwargs)]."""
    calls = []

    def receiver_for(name):
        def receiver(sender, **kwargs):
            calls.append((name, kwargs))

        return receiver

    receivers = {
        "contract_amended": receiver_for("contract_amended"),
        "phase_reopened": receiver_for("phase_reopened"),
        "project_reopened": receiver_for("project_reopened"),
    }
    contract_amended.connect(receivers["contract_amended"])
    phase_reopened.connect(receivers["phase_reopened"])
    project_reopened.connect(receivers["project_reopened"])
    yield calls
    contract_amended.disconnect(receivers["contract_amended"])
    phase_reopened.disconnect(receivers["phase_reopened"])
    project_reopened.disconnect(receivers["project_reopened"])


def project_update(project, status="active", phases=None, **extra):
    return {
        "project_id": project.psa_project_id,
        "opportunity_id": project.contract.crm_opportunity_id,
        "status": status,
        "phases": phases or [],
        "updated_at": datetime.now(tz=UTC).isoformat(),
        **extra,
    }


def test_psa_closing_a_phase_adding_one_and_reopening_keeps_status_in_sync(
    client, reference, received
):
    _data, project = won(client, reference)
    send(
        client,
        reference,
        "psa",
        "psa.project.updated",
        project_update(
            project,
            phases=[
                {"code": "DISC", "name": "Discovery", "status": "closed"},
                {"code": "BUILD", "name": "Build", "status": "open"},
                {"code": "RUN", "name": "Hypercare", "status": "open"},
            ],
        ),
        at=T0 + timedelta(minutes=1),
    )
    phases = dict(project.phases.values_list("code", "status"))
    assert phases == {"DISC": "closed", "BUILD": "open", "RUN": "open"}
    assert Phase.objects.get(project=project, code="DISC").history.count() == 2

    send(
        client,
        reference,
        "psa",
        "psa.project.updated",
        project_update(
            project,
            status="on_hold",
            phases=[
                {"code": "DISC", "name": "Discovery", "status": "open"},
                {"code": "BUILD", "name": "Build", "status": "open"},
            ],
        ),
        at=T0 + timedelta(minutes=2),
    )
    project.refresh_from_db()
    assert project.status == Project.Status.ON_HOLD
    phases = dict(project.phases.values_list("code", "status"))
    assert phases == {"DISC": "open", "BUILD": "open", "RUN": "closed"}  # RUN no longer listed
    assert [name for name, _ in received] == ["phase_reopened"]
    assert received[0][1]["phase"].code == "DISC"

    send(
        client,
        reference,
        "psa",
        "psa.project.updated",
        project_update(
            project,
            phases=[{"code": "DISC", "status": "open"}, {"code": "BUILD", "status": "open"}],
        ),
        at=T0 + timedelta(minutes=3),
    )
    project.refresh_from_db()
    assert project.status == Project.Status.ACTIVE
    assert [name for name, _ in received] == ["phase_reopened", "project_reopened"]


def test_an_update_naming_only_the_opportunity_links_the_psa_id(client, reference):
    _data, project = won(client, reference)
    Project.objects.filter(pk=project.pk).update(psa_project_id=None, status="provisioning")
    send(
        client,
        reference,
        "psa",
        "psa.project.updated",
        {
            "project_id": "PSA-777",
            "opportunity_id": project.contract.crm_opportunity_id,
            "status": "active",
            "phases": [{"code": "DISC", "status": "open"}, {"code": "BUILD", "status": "open"}],
            "updated_at": datetime.now(tz=UTC).isoformat(),
        },
    )
    project.refresh_from_db()
    assert project.psa_project_id == "PSA-777" and project.status == Project.Status.ACTIVE


def test_an_update_of_an_unknown_psa_project_changes_nothing(client, reference):
    send(
        client,
        reference,
        "psa",
        "psa.project.updated",
        {
            "project_id": "PSA-INTERNAL",
            "opportunity_id": None,
            "status": "active",
            "phases": [],
            "updated_at": datetime.now(tz=UTC).isoformat(),
        },
    )
    assert InboundEvent.objects.get().status == "processed"
    assert not Project.objects.exists()


def test_a_completed_milestone_is_marked(client, reference):
    _data, project = won(client, reference, "fixed_fee")
    send(
        client,
        reference,
        "psa",
        "psa.milestone.completed",
        {
            "project_id": project.psa_project_id,
            "milestone_name": "Blueprint signed off",
            "completed_on": "2026-12-12",
        },
    )
    milestone = Milestone.objects.get(name="Blueprint signed off")
    assert milestone.completed_on.isoformat() == "2026-12-12"
    assert Milestone.objects.get(name="Go-live").completed_on is None


def test_a_completion_for_an_unknown_milestone_fails_the_event(client, reference):
    _data, project = won(client, reference, "fixed_fee")
    send(
        client,
        reference,
        "psa",
        "psa.milestone.completed",
        {
            "project_id": project.psa_project_id,
            "milestone_name": "Nope",
            "completed_on": "2026-12-12",
        },
    )
    event = InboundEvent.objects.get(event_type="psa.milestone.completed")
    assert event.status == "failed" and "no milestone 'Nope'" in event.error


def test_an_amendment_updates_the_contract_with_history_and_tells_billing(
    client, reference, received
):
    data, project = won(client, reference)
    amended = {
        **data,
        "end_date": "2027-06-30",
        "not_to_exceed": "200000.00",
        "rate_card": "US-STD",
    }
    send(
        client, reference, "crm", "crm.opportunity.closed_won", amended, at=T0 + timedelta(days=30)
    )

    contract = Contract.objects.get()
    assert contract.amendment_count == 1
    assert contract.end_date.isoformat() == "2027-06-30" and contract.not_to_exceed == Decimal(
        "200000.00"
    )
    assert contract.rate_card.code == "US-STD"
    assert contract.history.first().history_change_reason.startswith("amended")
    [(name, kwargs)] = received
    assert name == "contract_amended"
    assert kwargs["changed"]["not_to_exceed"] == (Decimal("150000.00"), Decimal("200000.00"))
    assert set(kwargs["changed"]) == {"end_date", "not_to_exceed", "rate_card"}
    assert Project.objects.count() == 1
    assert SandboxRecord.objects.filter(operation="psa.project.create").count() == 1

    # the amendment is listed on the project page
    from tests.conftest import make_user

    client.force_login(make_user("pmo-user", "pmo"))
    page = client.get(project.get_absolute_url())
    assert page.status_code == 200
    assert b"not_to_exceed" in page.content and b"2027-06-30" in page.content
    assert "— → US-STD" in page.content.decode()

    # an older deal arriving late changes nothing
    send(client, reference, "crm", "crm.opportunity.closed_won", data, at=T0 + timedelta(days=1))
    assert Contract.objects.get().amendment_count == 1


def test_an_amendment_changing_the_entity_is_refused_and_the_contract_kept(client, reference):
    data, _project = won(client, reference)
    send(
        client,
        reference,
        "crm",
        "crm.opportunity.closed_won",
        {**data, "legal_entity": "GB01", "currency": "GBP", "tax_jurisdiction": "GB"},
        at=T0 + timedelta(days=2),
    )
    contract = Contract.objects.get()
    assert contract.legal_entity.code == "US01" and contract.amendment_count == 0
    item = ExceptionItem.objects.get(type_code="contract_invalid")
    assert item.summary.startswith("Amendment refused")
    assert {f["field"] for f in item.details["failures"]} == {"legal_entity", "currency"}
