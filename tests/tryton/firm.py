"""A firm that runs on real software: Tryton as its PSA and its ERP (the live server of
``live_tryton``), the sandbox as its CRM, the reference data of docs/examples.

Each test's records in Tryton are its own (unique opportunity ids, codes and references), so
tests share one Tryton without cleaning it.
"""

import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Invoice, Project
from integrations.connectors.tryton import setup
from integrations.models import ExternalSystem, OutboxMessage
from integrations.services.credentials import set_credentials
from integrations.services.polling import poll_system
from integrations.services.systems import add_system
from tests.factories import billing_invoices as invoice_factories
from tests.factories.billing import closed_won_data, load_reference
from tests.helpers import drain, envelope, post_event

EMPLOYEE_EMAIL = "timesheets@example.com"  # the live Tryton's employee (fixture.py)


def tryton_settings(server, instance: str) -> dict:
    return {
        "tryton": {
            "instance": instance,
            "database": server.database,
            "username": server.username,
            "service_product": "SERVICE",
            "taxes": {"US-NY": "Sales tax US-NY", "US-CA": "Sales tax US-CA"},
            "payment_terms": {"NET30": "Net 30", "NET15": "Net 15"},
            "employee_roles": {EMPLOYEE_EMAIL: "consultant"},
            "currencies": ["USD"],
            # This month's credit note is dated at the month's end: the firm lets it through.
            "acknowledge_warnings": ["invoice_taxes", "invoice_date_future"],
        }
    }


def add_tryton(server, *, slug: str, kind: str, instance: str, entities=()) -> ExternalSystem:
    system, _secret, _notes = add_system(
        slug=slug,
        kind=kind,
        connector="tryton",
        base_url=server.url,
        settings=tryton_settings(server, instance),
        entities=entities,
    )
    set_credentials(system, {"password": server.password})
    return ExternalSystem.objects.get(pk=system.pk)


@pytest.fixture
def firm(live_tryton, settings, db):
    """CRM sandbox, PSA and ERP on the live Tryton, reference data loaded."""
    settings.THROUGHLINE_ALLOW_PRIVATE_PEERS = ["127.0.0.1"]
    setup.forget_lookups()
    crm, crm_secret, _ = add_system(slug="crm", kind="crm", connector="sandbox")
    instance = f"T{uuid.uuid4().hex[:6].upper()}:"  # this test's records in the shared Tryton
    psa = add_tryton(live_tryton, slug="tryton-psa", kind="psa", instance=instance)
    erp = add_tryton(live_tryton, slug="tryton-erp", kind="erp", instance=instance)
    load_reference()
    invoice_factories.tax_rate("US-NY", "0.08875")  # as the live Tryton's "Sales tax US-NY"
    return {
        "crm": crm,
        "crm_secret": crm_secret,
        "psa": psa,
        "erp": erp,
        "server": live_tryton,
        "instance": instance,
    }


@pytest.fixture
def rpc(live_tryton):
    """A Tryton client logged in as the administrator, to read what Throughline wrote."""
    return live_tryton.client()


def win_deal(client, firm, **overrides) -> Project:
    data = closed_won_data("time_and_materials", **overrides)
    body = envelope("crm.opportunity.closed_won", data)
    response = post_event(client, "crm", firm["crm_secret"], body)
    assert response.status_code == 202, response.content
    drain()
    return Project.objects.select_related("contract", "customer").get(
        contract__crm_opportunity_id=data["opportunity_id"]
    )


def book_time(tryton, project: Project, phase_code: str, entries) -> list[int]:
    """Timesheet lines in Tryton on the phase's timesheet work: ``entries`` of (date, hours);
    one ``create`` for all of them."""
    works = tryton.model("project.work")
    phase = works.search_read(
        [("parent", "=", int(project.psa_project_id)), ("comment", "=", f"TL-PHASE-{phase_code}")],
        ["timesheet_works"],
        limit=1,
    )[0]
    employee = tryton.context["employee"]
    return tryton.model("timesheet.line").create(
        [
            {
                "company": tryton.context["company"],
                "employee": employee,
                "work": phase["timesheet_works"][0],
                "date": day,
                "duration": timedelta(hours=float(hours)),
                "description": f"work on {phase_code}",
            }
            for day, hours in entries
        ]
    )


def poll(system: ExternalSystem, stream: str):
    run = poll_system(system_id=system.pk, stream=stream)
    drain()
    return run


def bill_and_approve(finance, period: str = "2026-11") -> list[Invoice]:
    """The month's billing run, then finance approves every draft (``finance``: an API
    client of a finance user)."""
    drain()
    call_command("billing_run", "--period", period)
    drafts = list(Invoice.objects.filter(status=Invoice.Status.DRAFT).order_by("pk"))
    for invoice in drafts:
        response = finance.post(f"/api/v1/invoices/{invoice.pk}/approve/")
        assert response.status_code == 200, response.content
    drain()
    assert_nothing_dead()
    return [Invoice.objects.get(pk=invoice.pk) for invoice in drafts]


def assert_nothing_dead() -> None:
    dead = OutboxMessage.objects.filter(status=OutboxMessage.Status.DEAD)
    assert not dead.exists(), [(m.kind, m.last_error) for m in dead]


def wait_until(check, *, seconds: float, every: float = 0.5):
    deadline = time.monotonic() + seconds
    while True:
        drain()
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def tryton_invoice(tryton, invoice: Invoice, instance: str) -> dict:
    code = instance + invoice.customer.throughline_id
    rows = tryton.model("account.invoice").search_read(
        [("reference", "like", f"%TL-INV-{invoice.pk}"), ("party.code", "=", code)],
        ["id", "number", "state", "untaxed_amount", "tax_amount", "total_amount",
         "amount_to_pay", "lines", "currency.code"],
    )  # fmt: skip
    assert len(rows) == 1, rows
    return rows[0]


NOV = [(date(2026, 11, 16), Decimal("2.00")), (date(2026, 11, 17), Decimal("1.50"))]
