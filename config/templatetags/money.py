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
