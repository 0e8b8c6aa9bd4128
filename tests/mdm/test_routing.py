"""Routing by legal entity: each entity's effects go to the system it names; a second system of
a kind never takes over silently (`systems add`, the admin), and an existing one-system set-up
keeps working unchanged."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import Invoice
from integrations.models import ExternalSystem, OutboxMessage, SandboxRecord
from mdm.models import LegalEntity
from tests.billing.test_invoices import run_billing
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db


def _systems_add(*args: str) -> str:
    out = StringIO()
    call_command("systems", "add", *args, stdout=out)
    return out.getvalue()


def _two_entities_two_erps():
    us = f.legal_entity()
    acq = f.legal_entity("US02", "USD", ("US-NY",))
    f.standard_world()
    f.rate_card("ACQ-STD", entity=acq)
    f.project("PRJ-ACQ", entity=acq, crm_account_id="001B")
    out = _systems_add("acq-erp", "--kind", "erp", "--connector", "sandbox", "--entities", "US02")
    return us, acq, out


def test_two_erps_for_two_entities_each_receive_only_their_own_invoices(
    client, psa_secret, systems, api_client_for
):
    us, acq, out = _two_entities_two_erps()
    assert "US02 now route ERP effects to acq-erp" in out
    assert "US01 keep erp as their ERP (now named)" in out
    approve(client, psa_secret, time_entry_id="TE-US", hours="1.00")
    approve(client, psa_secret, time_entry_id="TE-ACQ", project_id="PRJ-ACQ", hours="2.00")
    run_billing()
    finance = api_client_for("finance")
    for invoice in Invoice.objects.all():
        assert finance.post(f"/api/v1/invoices/{invoice.pk}/approve/").status_code == 200
    drain()
    received = {
        slug: sorted(
            r.data["legal_entity"]
            for r in SandboxRecord.objects.filter(system__slug=slug, operation="erp.invoice.create")
        )
        for slug in ("erp", "acq-erp")
    }
    assert received == {"erp": ["US01"], "acq-erp": ["US02"]}
    assert set(Invoice.objects.values_list("status", flat=True)) == {"posted"}
    # the time records of each entry went to its entity's ERP as well
    time_records = OutboxMessage.objects.filter(kind="erp.time_entry.record")
    assert {(m.payload["time_entry_id"], m.system.slug) for m in time_records} == {
        ("TE-US", "erp"),
        ("TE-ACQ", "acq-erp"),
    }


def test_a_second_erp_without_entities_is_refused_and_nothing_changes(systems):
    f.legal_entity()
    with pytest.raises(CommandError, match="Name the legal entities new-erp serves"):
        _systems_add("new-erp", "--kind", "erp", "--connector", "sandbox")
    assert not ExternalSystem.objects.filter(slug="new-erp").exists()
    assert LegalEntity.objects.get(code="US01").erp_system is None


def test_an_unknown_entity_is_refused(systems):
    with pytest.raises(CommandError, match="no legal entity XX99"):
        _systems_add("new-erp", "--kind", "erp", "--connector", "sandbox", "--entities", "XX99")
    assert not ExternalSystem.objects.filter(slug="new-erp").exists()


def test_one_system_per_kind_needs_no_routing_at_all(client, psa_secret, systems, api_client_for):
    f.standard_world()
    approve(client, psa_secret, time_entry_id="TE-1", hours="1.00")
    run_billing()
    invoice = Invoice.objects.get()
    api_client_for("finance").post(f"/api/v1/invoices/{invoice.pk}/approve/")
    drain()
    assert SandboxRecord.objects.filter(system__slug="erp", operation="erp.invoice.create").count()
    assert LegalEntity.objects.get(code="US01").erp_system is None  # nothing had to be named


def test_an_entity_naming_nothing_with_two_erps_fails_with_a_reason_not_a_guess(
    client, psa_secret, systems, api_client_for
):
    us, acq, _ = _two_entities_two_erps()
    approve(client, psa_secret, time_entry_id="TE-US", hours="1.00")
    run_billing()
    LegalEntity.objects.filter(pk=us.pk).update(erp_system=None)  # someone cleared it
    invoice = Invoice.objects.get()
    response = api_client_for("finance").post(f"/api/v1/invoices/{invoice.pk}/approve/")
    assert response.status_code == 409
    assert "legal entity US01 names none" in response.json()["message"]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.DRAFT
    assert not OutboxMessage.objects.filter(kind="erp.invoice.create").exists()


def test_the_admin_refuses_an_entity_without_its_erp_when_two_are_active(client, systems):
    us, acq, _ = _two_entities_two_erps()
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    page = client.get(f"/admin/mdm/legalentity/{us.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(erp_system="", tax_jurisdictions='["US-NY"]', is_active="on")
    response = client.post(f"/admin/mdm/legalentity/{us.pk}/change/", data)
    assert response.status_code == 200  # the form again, with the error
    assert "ERP systems acq-erp, erp are active: name the one this entity uses" in (
        response.content.decode()
    )
    assert LegalEntity.objects.get(pk=us.pk).erp_system.slug == "erp"


def test_switching_the_firm_to_a_real_erp_deactivates_the_sandbox_and_routes_every_entity(
    systems,
):
    from integrations.services.systems import switch_firm_to

    us, gb = f.legal_entity(), f.legal_entity("GB01", "GBP", ("GB",))
    LegalEntity.objects.filter(pk=us.pk).update(erp_system=systems["erp"][0])
    system, notes = switch_firm_to(
        slug="tryton-erp",
        kind="erp",
        connector="tryton",
        base_url="http://127.0.0.1:8010",
        settings={"tryton": {"database": "throughline"}},
    )
    assert "erp deactivated" in notes
    assert not ExternalSystem.objects.get(slug="erp").is_active
    assert set(LegalEntity.objects.values_list("erp_system__slug", flat=True)) == {"tryton-erp"}
    history = ExternalSystem.objects.get(slug="erp").history.first()
    assert history.history_change_reason == "replaced by tryton-erp"
    again, _ = switch_firm_to(  # a second run changes nothing more
        slug="tryton-erp",
        kind="erp",
        connector="tryton",
        base_url="http://127.0.0.1:8010",
        settings={"tryton": {"database": "throughline"}},
    )
    assert again.pk == system.pk and ExternalSystem.objects.filter(kind="erp").count() == 2
    assert gb.code in {e.code for e in LegalEntity.objects.filter(erp_system=system)}


def test_the_admin_refuses_a_second_active_erp_while_an_entity_names_none(client, systems):
    f.legal_entity()
    admin = make_user("root2")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    response = client.post(
        "/admin/integrations/externalsystem/add/",
        {"slug": "acq-erp", "name": "Acquired ERP", "kind": "erp", "connector": "sandbox",
         "settings": "{}", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "erp is already an active ERP and US01 name no ERP" in response.content.decode()
    assert not ExternalSystem.objects.filter(slug="acq-erp").exists()
