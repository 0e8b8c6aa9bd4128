"""The one page form of money, ``12,345.50 USD``: the amount with thousands separators and its
currency's own decimals (JPY none, KWD three), then the ISO code. A builtin (settings
TEMPLATES), so every template has it without ``{% load %}``.

``{{ invoice.net_total|money:invoice.currency }}``, or ``{{ figure|money }}`` for a Money or
an API dict ``{"amount": "1234.50", "currency": "USD"}``; nothing for None.
"""

from typing import Any

from django import template

from config.money import format_money

register = template.Library()


@register.filter(name="money")
def money(value: Any, currency: str = "") -> str:
    return format_money(value, currency)


@register.filter(name="rate_percent")
def rate_percent(value: Any) -> str:
    """A rate as a person reads it: ``0.08875`` → ``8.875 %`` (no trailing zeros past two
    places: ``0.08`` → ``8.00 %``); nothing for None."""
    from decimal import Decimal

    if value is None or value == "":
        return ""
    percent = Decimal(str(value)) * 100
    text = f"{percent:.3f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{percent:.2f}"
    return f"{text} %"
