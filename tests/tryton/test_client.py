"""TrytonClient against a live Tryton (the ``tryton`` fixture), and its error mapping against
canned answers (no server needed). Live tests create what they need under unique codes."""

import base64
import importlib.util
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from integrations.connectors.base import AuthError, PermanentError, RateLimited, RetryableError
from integrations.connectors.tryton.client import TrytonClient
from integrations.connectors.tryton.errors import (
    TrytonConcurrencyError,
    TrytonServerError,
    TrytonUserError,
    TrytonUserWarning,
)
from integrations.connectors.tryton.fixture import acknowledge_warning, pay_invoice, today
from integrations.connectors.tryton.server import TrytonServer, TrytonUnavailable, free_port


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client_of(server, **overrides) -> TrytonClient:
    """A new client of ``server`` that has not logged in yet."""
    options = {
        "base_url": server.url,
        "database": server.database,
        "username": server.username,
        "password": server.password,
    }
    return TrytonClient(**{**options, **overrides})


def new_party(client: TrytonClient, code: str | None = None) -> int:
    address = {"street": "1 Main St", "city": "New York", "postal_code": "10001"}
    (party,) = client.model("party.party").create([
        {"name": f"Customer {code}", "code": code or unique("TL"), "addresses": [["create", [address]]]}
    ])  # fmt: skip
    return party


def draft_invoice(client, data, *, lines, invoice_date, taxes=()) -> int:
    """An out invoice with every value Tryton needs over RPC (no on_change runs there: the
    address, receivable account, journal, line unit and line account are all explicit)."""
    party = new_party(client)
    (address,) = client.model("party.party").read([party], ["addresses"])[0]["addresses"]
    line_values = [
        {"product": data["service_product"], "unit": data["uom_hour"],
         "account": data["accounts"]["revenue"], "quantity": quantity, "unit_price": price,
         "description": "Consulting", "taxes": [["add", list(taxes)]]}
        for quantity, price in lines
    ]  # fmt: skip
    (invoice,) = client.model("account.invoice").create([{
        "type": "out", "party": party, "invoice_address": address,
        "account": data["accounts"]["receivable"], "journal": data["journals"]["revenue"],
        "currency": data["currencies"]["USD"], "payment_term": data["payment_terms"]["Net 30"],
        "invoice_date": invoice_date, "reference": unique("TL-INV"),
        "lines": [["create", line_values]],
    }])  # fmt: skip
    return invoice


def post(client: TrytonClient, invoice: int) -> None:
    """Post, acknowledging the warning Tryton raises when line taxes differ from the
    product's default taxes (the service product has none: taxes go by jurisdiction)."""
    invoices = client.model("account.invoice")
    try:
        invoices.button("post", [invoice])
    except TrytonUserWarning as warning:
        if not warning.key.endswith(".invoice_taxes"):
            raise
        acknowledge_warning(client, warning.key)
        invoices.button("post", [invoice])


# Sessions and errors, against the live server


def test_login_and_a_model_call(tryton):
    client = tryton.client()
    assert client.user_id == tryton.fixture_data["user"]
    assert client.context["company"] == tryton.fixture_data["company"]
    assert tryton.fixture_data["company"] in client.model("company.company").search([])


def test_one_login_serves_many_calls(tryton):
    client = client_of(tryton)
    for _ in range(5):
        client.model("party.party").search([], limit=1)
    assert client.login_count == 1


@pytest.mark.parametrize("how", ["logout", "corrupt token"])
def test_a_revoked_session_logs_in_again_once(tryton, how):
    client = tryton.client()
    if how == "logout":
        client.call("common.db.logout")
    else:
        bogus = f"{client.username}:{client.user_id}:{'0' * 64}".encode()
        client._authorization = "Session " + base64.b64encode(bogus).decode()
    assert client.model("company.company").search([]) != []
    assert client.login_count == 2


def test_a_wrong_password_is_an_auth_error(tryton):
    client = client_of(tryton, password="not-the-password")
    with pytest.raises(AuthError) as caught:
        client.model("party.party").search([])
    assert "not-the-password" not in caught.value.message
    assert tryton.client().login_count == 1  # a good login right after still works


def test_a_duplicate_party_code_is_a_user_error_with_trytons_message(tryton):
    client = tryton.client()
    code = unique("DUP")
    new_party(client, code)
    with pytest.raises(TrytonUserError) as caught:
        new_party(client, code)
    assert caught.value.tryton_message == "The code on party must be unique."
    assert caught.value.message == "Tryton refused: The code on party must be unique."
    assert isinstance(caught.value, PermanentError)


def test_a_stale_timestamp_is_a_retryable_concurrency_error(tryton):
    client = tryton.client()
    party = new_party(client)
    stale = {"_timestamp": {f"party.party,{party}": "1970-01-01 00:00:00.000000"}}
    with pytest.raises(TrytonConcurrencyError) as caught:
        client.call("model.party.party.write", [party], {"name": "changed"}, context=stale)
    assert isinstance(caught.value, RetryableError)


def test_a_closed_port_is_retryable():
    client = TrytonClient(
        base_url=f"http://127.0.0.1:{free_port()}", database="throughline",
        username="admin", password="x", timeout=5,
    )  # fmt: skip
    with pytest.raises(RetryableError, match="cannot reach Tryton"):
        client.model("party.party").search([])


def test_a_stopped_server_starts_again_on_its_port_with_its_data(tryton):
    client = tryton.client()
    code = unique("KEEP")
    new_party(client, code)
    port = tryton.port
    tryton.stop()
    with pytest.raises(RetryableError):
        client.model("party.party").search([("code", "=", code)])
    tryton.start()
    assert tryton.port == port
    assert len(client.model("party.party").search([("code", "=", code)])) == 1
    assert client.login_count == 1  # sessions live in the database: it survives a restart


# Typed values and batches, against the live server


def test_decimal_date_datetime_and_timedelta_round_trip(tryton):
    client, data = tryton.client(), tryton.fixture_data
    day = today().replace(day=1)
    invoice = draft_invoice(
        client, data, lines=[(2.0, Decimal("99.9950"))], invoice_date=day,
        taxes=[data["taxes"]["US-NY"]],
    )  # fmt: skip
    (row,) = client.model("account.invoice").read(
        [invoice],
        ["invoice_date", "untaxed_amount", "tax_amount", "lines.unit_price", "create_date"],
    )
    assert row["invoice_date"] == day
    assert row["lines."][0]["unit_price"] == Decimal("99.9950")
    assert row["untaxed_amount"] == Decimal("199.99")  # 2 x 99.9950 = 199.99, rounded to cents
    assert row["tax_amount"] == Decimal("17.75")  # 199.99 x 8.875% = 17.749..., half-even
    assert abs(row["create_date"] - datetime.now(tz=UTC)) < timedelta(minutes=5)
    work = _timesheet_work(client, data)
    (line,) = client.model("timesheet.line").create([{
        "company": data["company"], "employee": data["employee"], "work": work, "date": day,
        "duration": timedelta(hours=1, minutes=30),
    }])  # fmt: skip
    (read,) = client.model("timesheet.line").read([line], ["duration", "date"])
    assert (read["duration"], read["date"]) == (timedelta(minutes=90), day)


def _timesheet_work(client: TrytonClient, data: dict) -> int:
    """A project open to timesheets; its timesheet work (created with it) is returned."""
    (project,) = client.model("project.work").create([{
        "name": unique("Project"), "type": "project", "company": data["company"],
        "party": new_party(client), "timesheet_available": True,
    }])  # fmt: skip
    return client.model("project.work").read([project], ["timesheet_works"])[0]["timesheet_works"][
        0
    ]


def test_one_create_of_many_records_returns_every_id_in_order(tryton):
    client, data = tryton.client(), tryton.fixture_data
    work = _timesheet_work(client, data)
    marks = [unique("line") for _ in range(1000)]
    started = time.monotonic()
    ids = client.model("timesheet.line").create([
        {"company": data["company"], "employee": data["employee"], "work": work,
         "date": today(), "duration": timedelta(minutes=15), "description": mark}
        for mark in marks
    ])  # fmt: skip
    assert time.monotonic() - started < 60
    assert len(ids) == len(set(ids)) == 1000
    rows = client.model("timesheet.line").read(ids, ["description"])
    assert [row["description"] for row in rows] == marks


# An invoice from draft to paid, against the live server


def test_an_invoice_is_taxed_per_document_posted_numbered_and_paid(tryton):
    client, data = tryton.client(), tryton.fixture_data
    lines = [(7.5, Decimal("150.00")), (1.0, Decimal("33.33"))]
    invoice = draft_invoice(
        client, data, lines=lines, invoice_date=today(), taxes=[data["taxes"]["US-NY"]]
    )
    invoices = client.model("account.invoice")
    with pytest.raises(TrytonUserWarning) as caught:  # the line taxes are not the product's
        invoices.button("post", [invoice])
    assert caught.value.key.endswith(".invoice_taxes")
    acknowledge_warning(client, caught.value.key)
    invoices.button("post", [invoice])
    fields = ["state", "number", "untaxed_amount", "tax_amount", "total_amount", "amount_to_pay"]
    (row,) = invoices.read([invoice], fields)
    assert row["state"] == "posted"
    assert row["number"].startswith(f"INV{today():%Y%m}-")
    # 1125.00 + 33.33; tax 8.875% of the sum (document rounding): 102.8017875 -> 102.80
    assert (row["untaxed_amount"], row["tax_amount"]) == (Decimal("1158.33"), Decimal("102.80"))
    assert row["total_amount"] == row["amount_to_pay"] == Decimal("1261.13")
    invoices.write([invoice], {"reference": unique("TL-INV")})  # still writable once posted
    pay_invoice(client, invoice, payment_method=data["payment_method"])
    (paid,) = invoices.read([invoice], ["state", "amount_to_pay"])
    assert (paid["state"], paid["amount_to_pay"]) == ("paid", Decimal(0))


def test_an_invoice_dated_last_month_posts_after_one_of_today(tryton):
    client, data = tryton.client(), tryton.fixture_data
    post(client, draft_invoice(client, data, lines=[(1.0, Decimal(100))], invoice_date=today()))
    last_month = today().replace(day=1) - timedelta(days=1)
    earlier = draft_invoice(client, data, lines=[(1.0, Decimal(100))], invoice_date=last_month)
    post(client, earlier)
    (row,) = client.model("account.invoice").read([earlier], ["state", "number"])
    assert row["state"] == "posted" and row["number"].startswith(f"INV{last_month:%Y%m}-")


# Canned answers (no server needed) for every kind of failure, and the typed JSON


class Canned(requests.Session):
    """A session answering each POST with the next canned (status, body, headers)."""

    def __init__(self, *answers) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[dict] = []

    def post(self, url, **kwargs):  # type: ignore[override]
        self.sent.append(json.loads(kwargs["data"]))
        assert kwargs["timeout"] == 7.0
        status, body, headers = self.answers.pop(0)
        response = requests.Response()
        response.status_code, response.url = status, url
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers.update(headers)
        return response


LOGIN = (200, {"id": 1, "result": [7, "token", None]}, {})
PREFERENCES = (200, {"id": 2, "result": {"company": 3, "language": "en"}}, {})


def canned_client(*answers) -> tuple[TrytonClient, Canned]:
    session = Canned(LOGIN, PREFERENCES, *answers)
    client = TrytonClient(
        base_url="http://tryton.test/", database="db", username="admin", password="pw",
        timeout=7.0, session=session,
    )  # fmt: skip
    return client, session


@pytest.mark.parametrize(
    ("status", "headers", "error", "words"),
    [
        (429, {"Retry-After": "12"}, RateLimited, "429"),
        (429, {}, RateLimited, "429"),
        (503, {}, RetryableError, "database locked"),
        (504, {}, RetryableError, "timed out"),
        (502, {}, RetryableError, "502"),
        (404, {}, PermanentError, "404"),
        (403, {}, PermanentError, "403"),
    ],
)
def test_http_statuses_become_typed_errors(status, headers, error, words):
    client, _ = canned_client((status, b"", headers))
    with pytest.raises(error, match=words) as caught:
        client.model("party.party").search([])
    assert type(caught.value) is error
    if error is RateLimited:
        assert caught.value.retry_after == float(headers.get("Retry-After", 5))


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"id": 3, "error": ["UserError", ["Bad", "Fix it", None]]}, TrytonUserError),
        ({"id": 3, "error": ["UserWarning", ["k.w", "Sure?", ""]]}, TrytonUserWarning),
        ({"id": 3, "error": ["ConcurrencyException", "changed"]}, TrytonConcurrencyError),
        ({"id": 3, "error": ["'NoneType' object has no attribute 'id'", "tb"]}, TrytonServerError),
        ({"id": 3, "error": ["LoginException", ["password", "Password", "password"]]}, AuthError),
        ({"id": 3}, RetryableError),
        (b"<html>proxy error</html>", RetryableError),
    ],
)
def test_error_answers_become_typed_errors(answer, error):
    client, _ = canned_client((200, answer, {}))
    with pytest.raises(error) as caught:
        client.model("party.party").search([])
    assert type(caught.value) is error
    if error is TrytonUserError:
        assert caught.value.message == "Tryton refused: Bad Fix it"
    if error is TrytonUserWarning:
        assert caught.value.key == "k.w"


def test_a_second_401_after_a_fresh_login_is_an_auth_error():
    client, session = canned_client((401, b"", {}), LOGIN, (401, b"", {}))
    with pytest.raises(AuthError):
        client.call("model.party.party.search", [], 0, None, None)
    assert client.login_count == 2
    assert [m["method"] for m in session.sent].count("common.db.login") == 2


def test_the_context_is_appended_to_model_calls_and_values_travel_typed():
    at = datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=UTC)
    answer = {"id": 3, "result": [{"d": {"__class__": "Decimal", "decimal": "1.10"},
              "t": {"__class__": "timedelta", "seconds": 90.0},
              "at": {"__class__": "datetime", "year": 2026, "month": 3, "day": 4, "hour": 5,
                     "minute": 6, "second": 7, "microsecond": 8}}]}  # fmt: skip
    client, session = canned_client((200, answer, {}), (200, {"id": 4, "result": "8.2"}, {}))
    values = {"price": Decimal("150.00"), "on": at.date(), "at": at, "spent": timedelta(hours=1)}
    (row,) = client.call("model.x.y.method", values, context={"extra": 1})
    assert row == {"d": Decimal("1.10"), "t": timedelta(seconds=90), "at": at}
    sent_values, sent_context = session.sent[2]["params"]
    assert sent_context == {"company": 3, "language": "en", "extra": 1}
    assert sent_values == {
        "price": {"__class__": "Decimal", "decimal": "150.00"},
        "on": {"__class__": "date", "year": 2026, "month": 3, "day": 4},
        "at": {"__class__": "datetime", "year": 2026, "month": 3, "day": 4, "hour": 5,
               "minute": 6, "second": 7, "microsecond": 8},
        "spent": {"__class__": "timedelta", "seconds": 3600.0},
    }  # fmt: skip
    assert client.call("common.server.version") == "8.2"
    assert session.sent[3]["params"] == []  # common.* takes no context
    assert session.sent[2]["id"] != session.sent[3]["id"]


def test_without_trytond_the_harness_says_how_to_install_it(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "trytond" else real(name, *a)
    )
    with pytest.raises(TrytonUnavailable, match=r"trytond: install the tryton group: pip install"):
        TrytonServer(tmp_path).ensure_database()
    assert not (tmp_path / "tryton").exists()  # nothing half-made
