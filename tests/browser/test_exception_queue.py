"""An operations user works a real dead letter in the browser; a PMO user cannot touch it.

The issue's scenario says "a finance user": delivery_failed is an operations type
(docs/contract.md §3), so the person working it here holds the operations role (docs/exceptions.md,
"Who works what").
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from exceptions_queue.models import ExceptionItem
from integrations.models import OutboxMessage, SandboxRecord
from integrations.services.outbox import dispatch_outbox_message, enqueue_outbox_message
from tests.conftest import make_user
from tests.factories.exceptions_queue import raise_item
from tests.helpers import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _dead_letter(erp, entry: str) -> OutboxMessage:
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=erp,
            kind="erp.time_entry.record",
            payload={
                "time_entry_id": entry,
                "project_id": "PRJ-100",
                "phase_code": "DISC",
                "person_email": "ana@acme.example",
                "role": "consultant",
                "work_date": "2026-11-02",
                "hours": "7.50",
                "billable": True,
                "legal_entity": None,
            },
            idempotency_key=f"erp.time_entry.record:{entry}",
            object_key=f"timesheet:{entry}",
        )
    dispatch_outbox_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    return message


def _neighbours(erp) -> None:
    """Other work in the queue, so the page is seen as people see it."""
    _dead_letter(erp, "TE-1041")
    _dead_letter(erp, "TE-1042")
    late = raise_item(
        type_code="event_rejected",
        subject_key="event:9001",
        subject_ref="psa psa.time_entry.approved msg_2f9a1c",
        summary="data does not match the schema of psa.time_entry.approved",
    )
    ExceptionItem.objects.filter(pk=late.pk).update(
        first_seen_at=timezone.now() - timedelta(days=2),
        due_at=timezone.now() - timedelta(hours=20),
    )
    raise_item(
        type_code="event_failed",
        subject_key="event:9002",
        subject_ref="crm crm.account.upserted msg_77b0e2",
        summary="crm.account.upserted could not be applied: IntegrityError",
        amount=Decimal("4200.00"),
        currency="USD",
    )


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=re.compile("Good to see you"))).to_be_visible()


def test_operations_user_replays_a_dead_letter_and_pmo_cannot(
    live_server, systems, new_page, screenshots_dir
):
    erp = systems["erp"][0]
    erp.settings = {"sandbox": {"permanent_operations": ["erp.time_entry.record"]}}
    erp.save()
    make_user("olga", "operations")
    make_user("piet", "pmo")
    _neighbours(erp)
    message = _dead_letter(erp, "TE-2077")
    item = ExceptionItem.objects.get(subject_key=f"outbox:{message.pk}")

    page = new_page()
    _login(page, live_server.url, "olga")
    page.get_by_role("link", name=re.compile("^Operations queue")).first.click()
    expect(page.get_by_role("heading", name="Operations queue")).to_be_visible()
    expect(page.locator("tr.item-row")).to_have_count(5)
    expect(page.locator("tr.item-row.overdue")).to_have_count(1)
    page.screenshot(path=str(screenshots_dir / "exceptions-queue.png"), full_page=True)

    page.get_by_label("Type").select_option("delivery_failed")
    expect(page.locator("tr.item-row")).to_have_count(3)
    page.get_by_label("Search").fill(str(message.pk)[:8])
    expect(page.locator("tr.item-row")).to_have_count(1)
    assert "q=" in page.url  # the filter is in the address, so it can be shared

    page.get_by_role("link", name=re.compile(f"#{item.pk} Delivery failed")).click()
    expect(page.get_by_role("heading", name=re.compile(f"#{item.pk}"))).to_be_visible()
    expect(page.locator("pre.payload")).to_contain_text("TE-2077")
    expect(page.locator("ol.timeline")).to_contain_text("dead")
    page.screenshot(path=str(screenshots_dir / "exceptions-item.png"), full_page=True)

    erp.refresh_from_db()
    erp.settings = {}  # the fix: the ERP accepts time entries again
    erp.save()
    page.get_by_role("button", name="Replay the message").click()
    expect(page.locator(".messages")).to_contain_text("Replay #1 queued")

    drain()  # the worker's part, in this process
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert SandboxRecord.objects.filter(idempotency_key=message.idempotency_key).exists()

    page.reload()
    expect(page.locator("#item-status")).to_have_text("Resolved")
    expect(page.locator(".resolution")).to_contain_text("Delivered to erp")
    item.refresh_from_db()
    assert item.status == "resolved"

    _pmo_is_refused(new_page(), live_server.url, item)


def _pmo_is_refused(page, base_url: str, item: ExceptionItem) -> None:
    from integrations.services.tokens import issue_token

    _login(page, base_url, "piet")
    expect(page.get_by_role("link", name=re.compile("^Operations queue"))).to_have_count(0)
    assert page.goto(f"{base_url}/exceptions/operations/").status == 403
    assert page.goto(f"{base_url}/exceptions/items/{item.pk}/").status == 404

    token = issue_token(client="piet-api", role="pmo").secret  # a PMO machine client
    headers = {"Authorization": f"Token {token}"}
    api = page.request
    assert api.get(f"{base_url}/api/v1/exceptions/", headers=headers).json()["count"] == 0
    assert api.get(f"{base_url}/api/v1/exceptions/{item.pk}/", headers=headers).status == 404
    response = api.post(
        f"{base_url}/api/v1/exceptions/{item.pk}/resolve/",
        data={"action": "replay"},
        headers=headers,
    )
    assert response.status == 404
