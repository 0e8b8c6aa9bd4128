"""Money in the database: the money column and exact SQL sums.

- ``MoneyField(currency_field="invoice.currency")``: a DecimalField with 3 decimals (every
  currency fits: KWD, BHD, OMR need 3), validated per currency: model validation
  (``full_clean``, admin and forms) and every save refuse an amount with more decimals than its
  currency allows (10.005 USD), naming the amount and the currency.
- ``exact_sum("amount")`` / ``from_exact_sum(value)``: SUM of a decimal column as an integer
  count of thousandths (hundredths with ``places=2``). SQLite sums decimals as floats;
  integers are exact on every database.
"""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import BigIntegerField, F, Sum
from django.db.models.functions import Cast, Round

from config.money import STORED_PLACES, TooManyDecimals, check_places

MAX_DIGITS = 20


def exact_sum(field: str, places: int = STORED_PLACES, **kwargs: Any) -> Sum:
    """SUM of a decimal column with ``places`` decimals as an integer of 10^-places units."""
    return Sum(Cast(Round(F(field) * 10**places), BigIntegerField()), **kwargs)


def from_exact_sum(value: Any, places: int = STORED_PLACES) -> Decimal:
    """An ``exact_sum`` result back as a Decimal with ``places`` decimals (None → 0)."""
    return Decimal(int(value or 0)).scaleb(-places)


def sql_exact_sum(column: str, places: int = STORED_PLACES) -> str:
    """The same SUM as raw SQL text, for UPDATE statements: ``(… / 1000.0)`` ready to assign."""
    scale = 10**places
    return f"COALESCE(SUM(CAST(ROUND({column} * {scale}) AS BIGINT)), 0) / {scale}.0"


class MoneyField(models.DecimalField):
    """A money column: 20 digits, 3 decimals; the amount's currency is the instance's
    ``currency_field`` (a dotted path, e.g. ``"currency"`` or ``"line.invoice.currency"``)."""

    def __init__(self, *args: Any, currency_field: str = "currency", **kwargs: Any) -> None:
        self.currency_field = currency_field
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", STORED_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.currency_field != "currency":
            kwargs["currency_field"] = self.currency_field
        return name, path, args, kwargs

    def currency_of(self, instance: models.Model, *, fetch: bool = True) -> str | None:
        """The currency of this column on ``instance``; None when it would need a query and
        ``fetch`` is False, or a relation on the path is unset."""
        target: Any = instance
        *relations, attribute = self.currency_field.split(".")
        for name in relations:
            field = target._meta.get_field(name)
            if not fetch and not field.is_cached(target):
                return None
            target = getattr(target, name, None)
            if target is None:
                return None
        return getattr(target, attribute, None)

    def _refuse(self, value: Any, currency: str | None) -> None:
        if value is None or currency is None:
            return
        try:
            check_places(Decimal(value), currency)
        except TooManyDecimals as error:
            raise ValidationError(
                f"{self.verbose_name}: {error.message}", code="too_many_decimals"
            ) from error

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        super().validate(value, model_instance)
        if model_instance is not None:
            self._refuse(value, self.currency_of(model_instance))

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = super().pre_save(model_instance, add)
        self._refuse(value, self.currency_of(model_instance, fetch=False))
        return value
