"""Amounts at risk in several currencies are kept per currency, never added raw
(config/money.py): on the item, its page, the API, and the revenue-at-risk dashboard figure."""

from decimal import Decimal

import pytest

from billing.panels.risk import get_revenue_at_risk
from config.money import CurrencyMismatch
from exceptions_queue.models import ExceptionItem
from tests.conftest import make_user
from tests.dashboards import world as w
from tests.factories.exceptions_queue import ensure_test_type, raise_item

pytestmark = pytest.mark.django_db
D = Decimal


def _mixed_item() -> ExceptionItem:
    ensure_test_type()
    for key, amount, currency in (
        ("TE-1", "100.00", "USD"),
        ("TE-2", "50.50", "USD"),
        ("TE-3", "92.588", "KWD"),
    ):
        item = raise_item(
            type_code="test_finance_case",
            subject_key="card:mixed",
            member_key=key,
            amount=D(amount),
            currency=currency,
        )
    return item


def test_members_in_two_currencies_are_summed_per_currency():
    item = _mixed_item()
    item.refresh_from_db()
    assert item.occurrence_count == 3
    assert item.amounts_at_risk == [
        {"amount": "92.588", "currency": "KWD"},
        {"amount": "150.50", "currency": "USD"},
    ]
    assert (item.amount_at_risk, item.currency) == (None, "")  # no single figure without FX


def test_one_currency_keeps_its_single_amount():
    ensure_test_type()
    for key in ("TE-1", "TE-2"):
        item = raise_item(
            type_code="test_finance_case",
            subject_key="card:usd",
            member_key=key,
            amount=D("10.25"),
            currency="USD",
        )
    item.refresh_from_db()
    assert (item.amount_at_risk, item.currency) == (D("20.50"), "USD")
    assert item.amounts_at_risk == [{"amount": "20.50", "currency": "USD"}]


def test_raising_again_in_another_currency_adds_per_currency_without_members():
    ensure_test_type()
    for amount, currency in (("10.00", "USD"), ("1.500", "KWD"), ("5.00", "USD")):
        item = raise_item(
            type_code="test_finance_case",
            subject_key="invoice:x",
            amount=D(amount),
            currency=currency,
        )
    item.refresh_from_db()
    assert item.amounts_at_risk == [
        {"amount": "1.500", "currency": "KWD"},
        {"amount": "15.00", "currency": "USD"},
    ]


def test_the_item_page_and_api_show_each_currency(client, api_client_for):
    item = _mixed_item()
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    page = client.get(f"/exceptions/items/{item.pk}/").content.decode()
    assert "92.588 KWD" in page and "150.50 USD" in page
    assert "243.088" not in page and "243.09" not in page  # never added raw
    listing = client.get("/exceptions/finance/").content.decode()
    assert "92.588 KWD" in listing and "150.50 USD" in listing
    data = api_client_for("finance").get(f"/api/v1/exceptions/{item.pk}/").json()
    assert data["amount_at_risk"] is None
    assert sorted(m["amount"]["currency"] for m in data["members"]) == ["KWD", "USD", "USD"]


def test_revenue_at_risk_reports_a_mixed_item_per_currency_and_converts_through_fx(client):
    _mixed_item()
    w.fx("KWD", "USD", "3.25", w.days_ago(1))
    data = get_revenue_at_risk()
    assert data["items"] == 1 and data["unpriced_items"] == 0
    assert data["amounts"] == [
        {"amount": "92.588", "currency": "KWD"},
        {"amount": "150.50", "currency": "USD"},
    ]
    assert data["reporting"] == {
        "amount": "451.41",  # 150.50 + 92.588 x 3.25 = 451.411
        "currency": "USD",
        "unconverted": [],
    }
    make_user("fin", "finance")
    client.login(username="fin", password="pw-fin")
    page = client.get("/dashboards/finance/").content.decode()
    assert "Per currency: 92.588 KWD · 150.50 USD" in page


def test_money_of_two_currencies_cannot_be_added():
    from config.money import Money

    with pytest.raises(CurrencyMismatch):
        Money(D("1.00"), "USD") + Money(D("1.000"), "KWD")
