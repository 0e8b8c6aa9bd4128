"""config/money.py: the one Money (minor units, rounding, refusing mixed currencies, the exact
sum, the API shape, the page form) and its database column and serializer field."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template

from config.money import (
    CurrencyMismatch,
    Money,
    TooManyDecimals,
    check_places,
    format_money,
    minor_units,
    money_json,
    money_list,
    rate_json,
    round_money,
    sum_by_currency,
    sum_money,
)
from config.money_db import MoneyField, from_exact_sum
from config.serializers import MoneyField as MoneySerializerField


@pytest.mark.parametrize(
    ("currency", "units"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("OMR", 3), ("kwd", 3)],
)
def test_minor_units_come_from_iso_4217(currency, units):
    assert minor_units(currency) == units


@pytest.mark.parametrize("currency", ["", "ZZZ", "XAU"])
def test_unknown_codes_and_codes_without_minor_units_use_two(currency):
    assert minor_units(currency) == 2


def test_rounding_is_half_up_to_the_currency_minor_unit():
    assert round_money(D("7.5") * D("12.345"), "KWD") == D("92.588")  # 92.5875
    assert round_money(D("10.005"), "USD") == D("10.01")
    assert round_money(D("10.004"), "USD") == D("10.00")
    assert round_money(D("1500.5"), "JPY") == D("1501")
    assert Money(D("92.5875"), "KWD").rounded() == Money(D("92.588"), "KWD")


def test_arithmetic_refuses_two_currencies():
    usd, eur = Money(D("10.00"), "USD"), Money(D("5.00"), "EUR")
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        usd + eur
    with pytest.raises(CurrencyMismatch):
        usd - eur
    with pytest.raises(CurrencyMismatch):
        usd < eur  # noqa: B015
    assert usd + Money(D("0.50"), "usd") == Money(D("10.50"), "USD")
    assert usd * 3 == Money(D("30.00"), "USD")
    assert -usd == Money(D("-10.00"), "USD")


def test_money_never_takes_a_float():
    with pytest.raises(TypeError):
        Money(0.1, "USD")
    with pytest.raises(TypeError):
        Money(D("1"), "USD") * 0.5
    assert Money("0.10", "USD").amount == D("0.10")


def test_money_is_a_frozen_value():
    money = Money(D("1.00"), "USD")
    with pytest.raises(AttributeError):
        money.amount = D("2")  # type: ignore[misc]
    assert {money, Money(D("1.00"), "USD")} == {money}


def test_sum_money_is_exact_and_of_one_currency():
    tenths = [Money(D("0.10"), "USD")] * 10
    assert sum_money(tenths, "USD") == Money(D("1.00"), "USD")
    assert Money.sum([], "KWD") == Money(D("0"), "KWD")
    with pytest.raises(CurrencyMismatch):
        sum_money([Money(D("1"), "USD"), Money(D("1"), "EUR")], "USD")
    with pytest.raises(CurrencyMismatch):
        sum_money([Money(D("1"), "EUR")], "USD")


def test_sum_by_currency_never_adds_across():
    totals = sum_by_currency(
        [Money(D("1.00"), "USD"), Money(D("2.500"), "KWD"), Money(D("3.00"), "USD")]
    )
    assert totals == {"USD": Money(D("4.00"), "USD"), "KWD": Money(D("2.500"), "KWD")}


def test_api_shape_has_the_currency_decimals():
    assert Money(D("1234.5"), "USD").as_json() == {"amount": "1234.50", "currency": "USD"}
    assert money_json(D("1234.500"), "USD") == {"amount": "1234.50", "currency": "USD"}
    assert money_json(D("92.588"), "KWD") == {"amount": "92.588", "currency": "KWD"}
    assert money_json(D("15001.000"), "JPY") == {"amount": "15001", "currency": "JPY"}
    assert money_json(None, "USD") is None
    assert money_list({"USD": D("10"), "EUR": D("0"), "KWD": D("1.5")}) == [
        {"amount": "1.500", "currency": "KWD"},
        {"amount": "10.00", "currency": "USD"},
    ]
    assert rate_json(D("150.0000"), "USD") == {"amount": "150.0000", "currency": "USD"}


def test_page_form_has_thousands_separators_and_the_code():
    assert format_money(Money(D("12345.5"), "USD")) == "12,345.50 USD"
    assert format_money(D("1234567.5"), "KWD") == "1,234,567.500 KWD"
    assert format_money({"amount": "15001", "currency": "JPY"}) == "15,001 JPY"
    assert format_money(D("-5"), "EUR") == "-5.00 EUR"
    assert format_money(None) == ""


def test_template_filter_is_a_builtin():
    html = Template("{{ a|money:'USD' }} / {{ b|money }}").render(
        Context({"a": D("12345.500"), "b": {"amount": "92.588", "currency": "KWD"}})
    )
    assert html == "12,345.50 USD / 92.588 KWD"


def test_more_decimals_than_the_currency_allows_are_refused():
    check_places(D("92.588"), "KWD")
    check_places(D("10.500"), "USD")  # trailing zeros are not decimals
    with pytest.raises(TooManyDecimals, match=r"10\.005 USD has more decimals than USD allows"):
        check_places(D("10.005"), "USD")
    with pytest.raises(TooManyDecimals):
        Money(D("1500.5"), "JPY").check()


class _Row:
    """Stands in for a model instance: the column's currency is a sibling attribute."""

    _meta = None

    def __init__(self, amount, currency):
        self.amount, self.currency = amount, currency


def test_money_column_stores_three_decimals_and_validates_per_currency():
    field = MoneyField(null=True)
    field.set_attributes_from_name("amount")
    assert (field.max_digits, field.decimal_places) == (20, 3)
    field.validate(D("92.588"), _Row(D("92.588"), "KWD"))
    with pytest.raises(ValidationError, match="has more decimals than USD allows"):
        field.validate(D("10.005"), _Row(D("10.005"), "USD"))
    with pytest.raises(ValidationError):
        field.pre_save(_Row(D("10.005"), "USD"), add=True)


def test_exact_sum_results_come_back_as_decimals():
    assert from_exact_sum(92588) == D("92.588")
    assert from_exact_sum(None) == D("0")
    assert from_exact_sum(750, 2) == D("7.50")


def test_serializer_field_renders_the_api_shape():
    class Line:
        amount, invoice = D("92.588"), type("Invoice", (), {"currency": "KWD"})()

    field = MoneySerializerField(currency="invoice.currency")
    field.bind("amount", None)
    value = field.get_attribute(Line())
    assert field.to_representation(value) == {"amount": "92.588", "currency": "KWD"}
