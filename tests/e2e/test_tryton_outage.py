"""End to end with the live Tryton as the ERP: a real Celery worker posts approved invoices
while Tryton is really stopped for a minute. The ERP's breaker opens after its threshold of
refused connections and the worker stops calling (deferred attempts only); once Tryton is back
(same port, same data) every invoice is delivered exactly once and posted.

On CI: PostgreSQL + Redis. Locally: SQLite + the embedded broker.
"""

import time

import pytest
from django.core.management import call_command

from billing.models import Invoice
from integrations.models import CircuitBreaker, DeliveryAttempt, OutboxMessage
from integrations.services.sweeper import sweep_due_work
from tests.e2e.support import outbox_statuses, sweep_until
from tests.e2e.worker import wait_for
from tests.helpers import drain
from tests.tryton.conftest import live_tryton
from tests.tryton.firm import NOV, book_time, firm, poll, rpc, win_deal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(480)]
__all__ = ["firm", "live_tryton", "rpc"]  # fixtures, imported for pytest

DEALS = 4  # one customer each, so one invoice each
OUTAGE_SECONDS = 60
THRESHOLD, RECOVERY_WHILE_DOWN, RECOVERY_AFTER = 3, 30, 2
OBSERVE_SECONDS = 20  # shorter than RECOVERY_WHILE_DOWN: no probe is due meanwhile


def _drafts(client, firm, rpc) -> list[Invoice]:
    """DEALS customers' projects with time in Tryton, billed (done in this process, before the
    worker starts: parties and projects are made while Tryton is up)."""
    for n in range(DEALS):
        project = win_deal(client, firm, account_id=f"001OUT{n}", account_name=f"Outage Client {n}")
        book_time(rpc, project, "DISC", NOV)
    poll(firm["psa"], "time")
    drain()
    call_command("billing_run", "--period", "2026-11")
    drafts = list(Invoice.objects.filter(status=Invoice.Status.DRAFT).order_by("pk"))
    assert len(drafts) == DEALS, drafts
    assert not OutboxMessage.objects.exclude(status=OutboxMessage.Status.SENT).exists()
    return drafts


def _called(erp) -> int:
    """Attempts that really called the ERP (a deferred one did not)."""
    return (
        DeliveryAttempt.objects.filter(message__system=erp)
        .exclude(outcome=DeliveryAttempt.Outcome.DEFERRED)
        .count()
    )


def _while_open(erp, seconds: float) -> None:
    """Run the sweeper (beat's job) for ``seconds``; the breaker must stay open meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sweep_due_work()
        state = CircuitBreaker.objects.get(system=erp).state
        assert state == CircuitBreaker.State.OPEN, state
        time.sleep(0.5)


def _outage(live_tryton, erp, drafts, finance, worker) -> None:
    """Stop Tryton, approve every draft, watch the breaker open and the calls stop."""
    made_before = _called(erp)  # the customers, while Tryton was up
    live_tryton.stop()
    down_since = time.monotonic()
    for invoice in drafts:
        response = finance.post(f"/api/v1/invoices/{invoice.pk}/approve/")
        assert response.status_code == 200, response.content
    wait_for(
        lambda: CircuitBreaker.objects.filter(system=erp, state="open").exists(),
        timeout=30,
        message="the ERP breaker to open\n" + worker.log_tail(),
    )
    time.sleep(2)  # a call in flight when it opened is refused at once (connection refused)
    called = _called(erp)
    assert THRESHOLD <= called - made_before <= THRESHOLD + 2 * DEALS, called - made_before
    _while_open(erp, OBSERVE_SECONDS)
    assert _called(erp) == called  # the calls stopped
    deferred = DeliveryAttempt.objects.filter(message__system=erp, outcome="deferred")
    assert deferred.exists()
    invoices = OutboxMessage.objects.filter(kind="erp.invoice.create")
    assert invoices.count() == DEALS
    assert set(invoices.values_list("status", flat=True)) <= {"pending", "failed", "sending"}
    refused = DeliveryAttempt.objects.filter(message__in=invoices, outcome="retryable")
    assert refused.filter(error__contains="cannot reach Tryton").count() == called - made_before
    print(
        f"[e2e] Tryton down: {called - made_before} refused calls opened the breaker, "
        f"0 calls in {OBSERVE_SECONDS} s while open, {deferred.count()} deferred attempts"
    )
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))


def test_tryton_stopped_for_a_minute_opens_the_breaker_and_every_invoice_arrives_once(
    client, firm, rpc, live_tryton, api_client_for, start_worker
):
    drafts = _drafts(client, firm, rpc)
    erp = firm["erp"]
    CircuitBreaker.objects.filter(system=erp).update(
        failure_threshold=THRESHOLD, recovery_seconds=RECOVERY_WHILE_DOWN
    )
    worker = start_worker(
        THROUGHLINE_ALLOW_PRIVATE_PEERS="127.0.0.1", OUTBOX_BACKOFF_BASE_SECONDS="0.5"
    )
    try:
        _outage(live_tryton, erp, drafts, api_client_for("finance"), worker)
    finally:
        CircuitBreaker.objects.filter(system=erp).update(recovery_seconds=RECOVERY_AFTER)
        live_tryton.start()  # same port, same data (also when the outage part failed)

    sweep_until(
        lambda: not OutboxMessage.objects.exclude(status=OutboxMessage.Status.SENT).exists(),
        timeout=120,
        message=f"every message sent after Tryton is back ({outbox_statuses()})\n"
        + worker.log_tail(),
    )
    assert CircuitBreaker.objects.get(system=erp).state == CircuitBreaker.State.CLOSED
    for invoice in Invoice.objects.filter(pk__in=[d.pk for d in drafts]):
        reference = f"{firm['instance']}TL-INV-{invoice.pk}"
        booked = rpc.model("account.invoice").search_read(
            [("reference", "=", reference)], ["id", "state", "number"]
        )
        assert [(row["id"], row["state"]) for row in booked] == [
            (int(invoice.erp_invoice_id), "posted")
        ], (reference, booked)
        assert (invoice.status, invoice.number) == (Invoice.Status.POSTED, booked[0]["number"])
    successes = DeliveryAttempt.objects.filter(
        message__kind="erp.invoice.create", outcome=DeliveryAttempt.Outcome.SUCCESS
    )
    assert successes.count() == DEALS  # once each
