"""The admin: every registered model's pages answer, ledgers are read-only, replay works.

The world is made by the real flows (signed webhooks drained in-process, a billing run, an
approval posted to the sandbox ERP), plus a row of each model no flow of this size fills.
Every model in ``admin.site._registry`` must have a row here: a model added to the admin
without one fails the first test, naming it.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from billing.models import Invoice, Project
from billing.services.invoice_posting import approve_invoice
from exceptions_queue.models import QueueSubscription
from integrations.models import InboundEvent, OutboxMessage, SyncRun
from integrations.registry import inbox_handlers
from integrations.services.inbox import process_inbound_event
from mdm.models import Customer, DuplicateDecision
from tests.factories.billing import closed_won_data, load_reference
from tests.factories.mdm import crm_account, crm_contact, erp_customer
from tests.helpers import drain, envelope, post_event, time_entry_data

pytestmark = pytest.mark.django_db

# Ledgers (config/admin.py LedgerAdminMixin): shown, never added, edited or deleted.
LEDGERS = [
    "billing.Invoice",
    "billing.TimeEntry",
    "billing.BillingRun",
    "integrations.InboundEvent",
    "integrations.OutboxMessage",
    "integrations.RejectedDelivery",
    "integrations.SyncRun",
    "integrations.TraceStep",
    "integrations.SandboxRecord",
    "integrations.SandboxCall",
]


def _send(client, systems, slug, event_type, data):
    response = post_event(client, slug, systems[slug][1], envelope(event_type, data))
    assert response.status_code == 202, response.content
    drain()


def _flows(client, systems, user):
    """Reference data, two deals, a customer from CRM and ERP, time billed and posted."""
    load_reference(subscribe=("crm",))
    for model in ("time_and_materials", "fixed_fee"):
        _send(client, systems, "crm", "crm.opportunity.closed_won", closed_won_data(model))
    account = crm_account(account_id="001ADMIN")
    _send(client, systems, "crm", "crm.account.upserted", account)
    _send(client, systems, "crm", "crm.contact.upserted", crm_contact(account_id="001ADMIN"))
    _send(client, systems, "erp", "erp.customer.upserted", erp_customer(crm_account_id="001ADMIN"))
    project_id = Project.objects.get(contract__billing_model="time_and_materials").psa_project_id
    data = time_entry_data(time_entry_id="TE-ADMIN", project_id=project_id, work_date="2026-11-02")
    _send(client, systems, "psa", "psa.time_entry.approved", data)
    # Time on a project nobody knows: an exception item with its held member.
    _send(client, systems, "psa", "psa.time_entry.approved", time_entry_data(project_id="PRJ-X"))
    call_command("billing_run", "--period", "2026-11")
    approve_invoice(invoice_id=Invoice.objects.get().pk, approved_by=user)
    drain()
    # A delivery signed with the wrong secret: a rejected-delivery record.
    post_event(client, "psa", systems["crm"][1], envelope("psa.time_entry.approved", data))


def _rows_no_flow_makes(systems, user):
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from integrations.models import ApiUsage
    from integrations.services.systems import add_system
    from integrations.services.tokens import issue_token

    crm = systems["crm"][0]
    SyncRun.objects.create(system=crm, kind="reference", trace_id="t" * 32)
    salesforce = add_system(slug="sf", kind="crm", connector="salesforce", is_active=False)[0]
    ApiUsage.objects.create(system=salesforce, used=18, allowed=5000, observed_at=timezone.now())
    _closed_month_with_a_move(user)
    QueueSubscription.objects.create(queue="operations", system=crm)
    low, high = Customer.objects.order_by("pk")[:2]
    DuplicateDecision.objects.create(low=low, high=high, decided_by=user, note="not the same")
    every = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="admin-pages", task="x", interval=every)
    CrontabSchedule.objects.create(minute="0", hour="7")
    SolarSchedule.objects.create(event="sunrise", latitude=52.0, longitude=4.0)
    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(days=1))
    issue_token(client="admin-pages", role="operations")
    attempt = {"username": "x", "ip_address": "10.0.0.1", "user_agent": "t", "path_info": "/"}
    AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**attempt)
    AccessFailureLog.objects.create(**attempt)


def _closed_month_with_a_move(user) -> None:
    from datetime import date

    from billing.models import AccountingPeriod, PeriodMove
    from mdm.models import LegalEntity

    entity = LegalEntity.objects.order_by("pk").first()
    AccountingPeriod.objects.create(legal_entity=entity, period=date(2026, 9, 1), status="closed")
    PeriodMove.objects.create(legal_entity=entity, from_period=date(2026, 9, 1),
                              to_period=date(2026, 10, 1), entries=1, hours=1, approved_by=user)  # fmt: skip
    from billing.models import ApprovalRequest, ApprovalRule

    ApprovalRule.objects.create(action="write_down", threshold=100, currency="USD")
    ApprovalRequest.objects.create(action="write_down", subject_key="line:1", subject_label="a line",
                                   amount=225, currency="USD", requested_by=user)  # fmt: skip


@pytest.fixture
def world(client, systems, django_user_model):
    from config.roles import ensure_role_groups

    ensure_role_groups()
    user = django_user_model.objects.create_superuser("root", "root@acme.example", "pw")
    _flows(client, systems, user)
    _rows_no_flow_makes(systems, user)
    client.force_login(user)
    return client


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_registered_model_has_working_admin_pages(world):
    missing = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        for query in ("", "?q=a"):
            response = world.get(_url(model, "changelist") + query)
            assert response.status_code == 200, (label, query, response.content[:300])
        obj = model._default_manager.order_by("pk").last()
        if obj is None:
            missing.append(label)
            continue
        response = world.get(_url(model, "change", obj.pk))
        assert response.status_code == 200, (label, response.content[:300])
        if isinstance(model_admin, SimpleHistoryAdmin):
            assert world.get(_url(model, "history", obj.pk)).status_code == 200, label
            version = obj.history.order_by("history_id").last()
            if version is not None:
                page = world.get(_url(model, "simple_history", obj.pk, version.history_id))
                assert page.status_code == 200, label
        if model_admin.has_add_permission(_request(world)):
            assert world.get(_url(model, "add")).status_code == 200, label
    assert not missing, f"no row to open in the admin for {missing}: add one to the world"


def _request(client):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(username="root")
    return request


def test_ledgers_offer_no_add_change_or_delete_and_their_history_no_revert(world):
    registry = {model._meta.label: (model, a) for model, a in admin.site._registry.items()}
    request = _request(world)
    for label in LEDGERS:
        model, model_admin = registry[label]
        obj = model._default_manager.order_by("pk").last()
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request, obj), label
        assert not model_admin.has_delete_permission(request, obj), label
        assert world.get(_url(model, "add")).status_code == 403, label
        assert world.post(_url(model, "delete", obj.pk)).status_code == 403, label
        actions = model_admin.get_actions(request)
        assert "delete_selected" not in actions, label
        if isinstance(model_admin, SimpleHistoryAdmin):
            version = obj.history.order_by("history_id").first()
            revert = world.post(_url(model, "simple_history", obj.pk, version.history_id), {})
            assert revert.status_code == 403, label


def test_the_stored_payload_of_an_event_or_message_cannot_be_changed(world):
    event = InboundEvent.objects.exclude(payload=None).order_by("pk").first()
    message = OutboxMessage.objects.order_by("created_at").first()
    for obj in (event, message):
        before = obj.payload
        response = world.post(_url(type(obj), "change", obj.pk), {"payload": '{"forged": 1}'})
        assert response.status_code == 403
        obj.refresh_from_db()
        assert obj.payload == before
    page = world.get(_url(InboundEvent, "change", event.pk)).content.decode()
    assert 'name="payload"' not in page  # shown, not an input


def _run_action(client, model, action, obj):
    return client.post(
        _url(model, "changelist"),
        {"action": action, admin.helpers.ACTION_CHECKBOX_NAME: [str(obj.pk)]},
    )


def test_replay_from_the_admin_sends_a_dead_message_again(world, systems):
    erp = systems["erp"][0]
    erp.settings = {"sandbox": {"permanent_operations": ["erp.time_entry.record"]}}
    erp.save()
    data = time_entry_data(time_entry_id="TE-DEAD", project_id="PRJ-X")
    _send(world, systems, "psa", "psa.time_entry.approved", data)
    message = OutboxMessage.objects.get(object_key__contains="TE-DEAD")
    assert message.status == OutboxMessage.Status.DEAD
    erp.settings = {}
    erp.save()
    response = _run_action(world, OutboxMessage, "replay", message)
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.replay_count) == (OutboxMessage.Status.PENDING, 1)
    drain()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT


def test_replay_from_the_admin_applies_a_dead_event_again(world, systems, settings):
    settings.INBOX_MAX_ATTEMPTS = 1
    original = inbox_handlers._items["psa.time_entry.approved"]

    def explode(event):
        raise RuntimeError("mapping table empty")

    inbox_handlers._items["psa.time_entry.approved"] = explode
    try:
        body = envelope("psa.time_entry.approved", time_entry_data(time_entry_id="TE-LATE"))
        webhook_id = post_event(world, "psa", systems["psa"][1], body).json()["id"]
        event = process_inbound_event(event_id=InboundEvent.objects.get(webhook_id=webhook_id).pk)
        assert event.status == InboundEvent.Status.DEAD
    finally:
        inbox_handlers._items["psa.time_entry.approved"] = original
    assert _run_action(world, InboundEvent, "replay", event).status_code == 302
    event.refresh_from_db()
    assert (event.status, event.replay_count) == (InboundEvent.Status.RECEIVED, 1)
    drain()
    event.refresh_from_db()
    assert event.status == InboundEvent.Status.PROCESSED
