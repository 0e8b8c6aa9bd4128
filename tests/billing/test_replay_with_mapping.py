"""An outbox message replayed with its payload built again from the records as they are now,
after a preview of what differs: an invoice posting the ERP refused goes again with the ERP
customer id learnt since (and, as sent, without it)."""

import pytest
from django.core.management import call_command

from billing.models import Invoice
from billing.services.invoice_posting import approve_invoice
from integrations.models import OutboxMessage, SandboxRecord
from integrations.services.systems import set_sandbox_faults
from mdm.models import BillingProfile
from tests.billing.test_rating import approve
from tests.conftest import make_user
from tests.factories import billing_invoices as f
from tests.helpers import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_posting(client, psa_secret, systems):
    f.standard_world()
    f.tax_rate("US-NY", "0.0800")
    approve(client, psa_secret, time_entry_id="TE-1", hours="2.00")
    call_command("billing_run", "--period", "2026-11")
    erp = systems["erp"][0]
    set_sandbox_faults(system=erp, permanent_operations=["erp.invoice.create"])
    invoice = Invoice.objects.get()
    approve_invoice(invoice_id=invoice.pk, approved_by=make_user("fin", "finance"))
    drain()
    message = OutboxMessage.objects.get(kind="erp.invoice.create")
    assert message.status == OutboxMessage.Status.DEAD
    set_sandbox_faults(system=erp, clear=True)
    return invoice, message


def test_a_preview_shows_what_differs_and_the_replay_sends_the_payload_built_now(
    dead_posting, api_client_for
):
    invoice, message = dead_posting
    assert message.payload["erp_customer_id"] is None
    BillingProfile.objects.create(
        customer=invoice.customer, legal_entity=invoice.legal_entity, erp_customer_id="C-9"
    )
    ops = api_client_for("operations")
    preview = ops.get(f"/api/v1/outbox/{message.pk}/replay-preview/").json()
    assert preview["differences"] == [{"path": "erp_customer_id", "before": None, "after": "C-9"}]
    assert preview["sent"]["erp_customer_id"] is None  # nothing changed by looking
    answer = ops.post(f"/api/v1/outbox/{message.pk}/replay/?mapping=current")
    assert answer.status_code == 202, answer.content
    drain()
    message.refresh_from_db()
    assert (
        message.status == OutboxMessage.Status.SENT and message.payload["erp_customer_id"] == "C-9"
    )
    record = SandboxRecord.objects.get(operation="erp.invoice.create")
    assert record.data["erp_customer_id"] == "C-9"


def test_a_replay_as_sent_keeps_the_payload_and_a_kind_without_builder_says_so(
    dead_posting, api_client_for, systems
):
    invoice, message = dead_posting
    BillingProfile.objects.create(
        customer=invoice.customer, legal_entity=invoice.legal_entity, erp_customer_id="C-9"
    )
    ops = api_client_for("operations")
    assert ops.post(f"/api/v1/outbox/{message.pk}/replay/").status_code == 202
    drain()
    message.refresh_from_db()
    assert (
        message.payload["erp_customer_id"] is None and message.status == OutboxMessage.Status.SENT
    )
    other = OutboxMessage.objects.filter(kind="erp.time_entry.record").first()
    OutboxMessage.objects.filter(pk=other.pk).update(status=OutboxMessage.Status.DEAD)
    refused = ops.post(f"/api/v1/outbox/{other.pk}/replay/?mapping=current")
    assert refused.status_code == 400 and "no builder" in str(refused.json())


def test_a_bulk_replay_by_customer_and_month_replays_their_dead_messages(
    dead_posting, api_client_for
):
    invoice, message = dead_posting
    ops = api_client_for("operations")
    nothing = ops.post(
        "/api/v1/outbox/replay/",
        {"customer": str(invoice.customer_id), "period": "2026-10"},
        format="json",
    )
    assert nothing.status_code == 202 and nothing.json() == {"replayed": [], "refused": []}
    done = ops.post("/api/v1/outbox/replay/", {"customer": str(invoice.customer_id), "period": "2026-11",
                                               "mapping": "current"}, format="json")  # fmt: skip
    assert done.json()["replayed"] == [str(message.pk)]
    drain()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    unknown = ops.post("/api/v1/outbox/replay/", {"invoice": "999999"}, format="json")
    assert unknown.status_code == 400 and "unknown invoice" in str(unknown.json())
    assert ops.post("/api/v1/outbox/replay/", {}, format="json").status_code == 400


def test_operations_sees_the_difference_on_a_page_and_replays_it_built_again(client, dead_posting):
    invoice, message = dead_posting
    BillingProfile.objects.create(
        customer=invoice.customer, legal_entity=invoice.legal_entity, erp_customer_id="C-9"
    )
    make_user("olga", "operations")
    client.login(username="olga", password="pw-olga")
    listing = client.get("/operations/?tab=outbox").content.decode()
    assert f"/operations/outbox/{message.pk}/replay/" in listing
    page = client.get(f"/operations/outbox/{message.pk}/replay/").content.decode()
    assert "<code>erp_customer_id</code>" in page and "<strong>C-9</strong>" in page
    done = client.post(
        f"/operations/outbox/{message.pk}/replay/", {"mapping": "current"}, follow=True
    )
    assert "queued again" in done.content.decode()
    drain()
    message.refresh_from_db()
    assert (
        message.status == OutboxMessage.Status.SENT and message.payload["erp_customer_id"] == "C-9"
    )


def test_a_replay_that_changes_the_posted_amount_waits_for_a_second_person(
    dead_posting, api_client_for
):
    from decimal import Decimal

    from billing.models import ApprovalRequest, ApprovalRule
    from billing.services.approval_actions import decide

    invoice, message = dead_posting
    ApprovalRule.objects.create(action="replay_posted")  # always
    Invoice.objects.filter(pk=invoice.pk).update(gross_total=Decimal("330.00"))  # was 324.00
    ops = api_client_for("operations")
    held = ops.post(f"/api/v1/outbox/{message.pk}/replay/?mapping=current")
    assert held.status_code == 400 and "waits for a second person" in str(held.json())
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    request = ApprovalRequest.objects.get()
    assert (request.action, request.amount) == ("replay_posted", Decimal("6.000"))
    assert ops.post(f"/api/v1/outbox/{message.pk}/replay/").status_code == 202  # as sent: not held
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxMessage.Status.DEAD)
    decided = decide(request_id=request.pk, user=make_user("bea", "finance"), approve=True)
    assert decided.status == "approved", decided.result
    message.refresh_from_db()
    assert (
        message.payload["gross_total"] == "330.00"
        and message.status == OutboxMessage.Status.PENDING
    )
