"""Faults for the tests against the live Tryton, injected where a real one would strike.

- ``lost_answers``: the HTTP call reaches Tryton, Tryton commits and answers, and the answer
  is lost on the way back (``requests.ConnectionError``), for the first call(s) of a method.
  The connector's own session is wrapped (its transport adapters), so everything else about
  it (URL checks, timeouts) stays as in production.
- ``acquired_tryton``: a second live Tryton (its own database and port), the acquired
  subsidiary's ERP.
- ``open_fiscal_year`` and ``post_refusal``: what an accountant does in Tryton (open a year)
  and what Tryton says when an invoice cannot be posted.
"""

import json
import threading
from datetime import date

import pytest
import requests
from django.conf import settings
from requests.adapters import BaseAdapter

from integrations.connectors import http
from integrations.connectors.tryton import setup
from integrations.connectors.tryton.client import TrytonClient, get_id
from integrations.connectors.tryton.errors import TrytonUserError, TrytonUserWarning


class AnswerDropper:
    """Loses Tryton's answer to the first ``times`` successful calls of ``method`` (after
    Tryton committed them) and remembers what Tryton had answered."""

    def __init__(self, method: str, times: int = 1) -> None:
        self.method = method
        self.remaining = times
        self.lost: list = []  # the results Throughline never heard
        self._lock = threading.Lock()

    def session(self, *, timeout: float = 30.0) -> requests.Session:
        """The connector's session (``peer_session``) with its adapters wrapped."""
        session = http.peer_session(timeout=timeout)
        for prefix, adapter in list(session.adapters.items()):
            session.mount(prefix, _DroppingAdapter(adapter, self))
        return session

    def drops(self, request: requests.PreparedRequest, response: requests.Response) -> bool:
        try:
            method = json.loads(request.body or b"{}").get("method")
        except (TypeError, ValueError):
            return False
        if method != self.method or response.status_code != 200:
            return False
        answer = response.json()
        if answer.get("error") is not None:
            return False  # Tryton refused: nothing was committed, nothing to lose
        with self._lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            self.lost.append(answer.get("result"))
        return True


class _DroppingAdapter(BaseAdapter):
    def __init__(self, inner: BaseAdapter, dropper: AnswerDropper) -> None:
        super().__init__()
        self.inner = inner
        self.dropper = dropper

    def send(self, request, **kwargs):
        response = self.inner.send(request, **kwargs)
        if self.dropper.drops(request, response):
            response.close()
            raise requests.ConnectionError(
                "connection reset before the answer arrived (test fault)", request=request
            )
        return response

    def close(self) -> None:
        self.inner.close()


def _forget_clients() -> None:
    setup.forget_lookups()
    setup._clients.__dict__.clear()  # this thread's cached clients (and their sessions)


@pytest.fixture
def lost_answers(monkeypatch):
    """``lost_answers("model.party.party.create")`` → an AnswerDropper installed on every
    Tryton client the connector makes from now on (in this process)."""

    def install(method: str, times: int = 1) -> AnswerDropper:
        dropper = AnswerDropper(method, times)
        monkeypatch.setattr(setup, "peer_session", dropper.session)
        _forget_clients()
        return dropper

    yield install
    _forget_clients()


@pytest.fixture(scope="module")
def acquired_tryton(live_tryton):
    """A second live Tryton: database ``acquired`` (built and cached the first time, about a
    minute), its own port; discarded at the end of the module."""
    from integrations.connectors.tryton.server import TrytonServer

    server = TrytonServer(settings.VAR_DIR, database="acquired")
    server.ensure_database()
    server.start()
    yield server
    server.discard()


def open_fiscal_year(client: TrytonClient, company: int, year: int) -> int:
    """The accountant opens ``year``: a fiscal year with monthly periods, its move sequence
    and one invoice and one credit-note sequence for the year."""
    move_type = get_id(client, "account", "sequence_type_account_move")
    invoice_type = get_id(client, "account_invoice", "sequence_type_account_invoice")
    move, invoice, credit = client.model("ir.sequence.strict").create([
        {"name": f"Moves {year}", "sequence_type": move_type, "company": company,
         "prefix": f"M{year}-"},
        {"name": f"INV {year}", "sequence_type": invoice_type, "company": company,
         "prefix": f"INV{year}-", "padding": 4},
        {"name": f"CN {year}", "sequence_type": invoice_type, "company": company,
         "prefix": f"CN{year}-", "padding": 4},
    ])  # fmt: skip
    sequences = {"company": company, "out_invoice_sequence": invoice}
    sequences.update(in_invoice_sequence=invoice, out_credit_note_sequence=credit)
    sequences.update(in_credit_note_sequence=credit)
    years = client.model("account.fiscalyear")
    (fiscal_year,) = years.create([{
        "name": str(year), "company": company, "start_date": date(year, 1, 1),
        "end_date": date(year, 12, 31), "move_sequence": move,
        "invoice_sequences": [["create", [sequences]]],
    }])  # fmt: skip
    years.button("create_period", [fiscal_year])
    return fiscal_year


def year_without_books(client: TrytonClient, after: int) -> int:
    """The first year after ``after`` that has no fiscal year in Tryton."""
    year = after + 1
    while client.model("account.fiscalyear").search(
        [("start_date", "<=", date(year, 12, 31)), ("end_date", ">=", date(year, 1, 1))]
    ):
        year += 1
    return year


def post_refusal(client: TrytonClient, invoice_id: int) -> str:
    """Tryton's own words when ``invoice_id`` is posted (warnings acknowledged on the way);
    ``""`` if it posts."""
    for _ in range(5):
        try:
            client.model("account.invoice").button("post", [invoice_id])
        except TrytonUserWarning as warning:
            client.model("res.user.warning").create(
                [{"user": client.user_id, "name": warning.key, "always": False}]
            )
        except TrytonUserError as refusal:
            return refusal.tryton_message
        else:
            return ""
    raise AssertionError(f"Tryton kept warning about invoice {invoice_id}")
