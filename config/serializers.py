"""Shapes every app's API shares (config is the bottom layer, so each app may import it)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_attribute

from config.money import Money, money_json

__all__ = ["MONEY_SCHEMA", "MONTH_SCHEMA", "MoneyField", "MonthField", "money_json"]

MONEY_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {
        "amount": {"type": "string", "example": "1234.50"},
        "currency": {"type": "string", "example": "USD"},
    },
}


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    """Read-only money, docs/contract.md §2: ``{"amount": "1234.50", "currency": "USD"}`` with the
    currency's own decimals (JPY none, KWD three); ``null`` when the amount is unknown.

    ``MoneyField(currency="invoice.currency")``: the amount is the field's source, its currency
    the dotted path on the same instance (default ``currency``)."""

    def __init__(self, *, currency: str = "currency", **kwargs: Any) -> None:
        self.currency_path = currency.split(".")
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Money | None:
        amount = super().get_attribute(instance)
        if amount is None:
            return None
        return Money(amount, get_attribute(instance, self.currency_path) or "")

    def to_representation(self, value: Money) -> dict[str, str]:
        return value.as_json()


MONTH_SCHEMA = {"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"}


@extend_schema_field(MONTH_SCHEMA)
class MonthField(serializers.Field):
    """A month as ``YYYY-MM`` (a date, its first day, inside; read only)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return f"{value:%Y-%m}"
