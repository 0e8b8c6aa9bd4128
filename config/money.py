"""The one Money of the house: a Decimal amount with an explicit ISO 4217 currency.

- ``minor_units("KWD") == 3``: the currency's own decimals, from the ISO 4217 table of the
  ``iso4217`` package (JPY 0; KWD, BHD, OMR 3; unknown codes and codes without minor units 2).
- ``Money(Decimal("92.5875"), "KWD").rounded()`` rounds ``ROUND_HALF_UP`` to those decimals;
  ``round_money`` is the same for a bare Decimal.
- ``+``, ``-`` and comparisons refuse two currencies (``CurrencyMismatch``); ``sum_money``
  adds many of one currency exactly.
- ``as_json()`` / ``money_json()`` is the one API shape, ``{"amount": "1234.50", "currency":
  "USD"}``, the amount as a string with the currency's decimals; ``format_money`` the one page
  form, ``"12,345.50 USD"``.
- ``check_places`` refuses an amount with more decimals than its currency has.

Bottom layer: imports no app. Database pieces (the model field, exact SQL sums) are in
``config/money_db.py``; the DRF field in ``config/serializers.py``; the template filter in
``config/templatetags/money.py``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from functools import lru_cache
from typing import Any

from iso4217 import Currency

from config.errors import DomainError

DEFAULT_MINOR_UNITS = 2
# Decimals every money column stores: enough for any currency billed (KWD, BHD, OMR: 3).
STORED_PLACES = 3
ZERO = Decimal("0")


class CurrencyMismatch(DomainError):
    """Arithmetic or a comparison between two currencies (convert through FX first)."""

    code = "currency_mismatch"


class TooManyDecimals(DomainError):
    """An amount with more decimals than its currency has (e.g. 10.005 USD)."""

    code = "too_many_decimals"


@lru_cache(maxsize=256)
def minor_units(currency: str) -> int:
    """ISO 4217 minor units of ``currency`` (``"USD"`` 2, ``"JPY"`` 0, ``"KWD"`` 3); 2 when the
    code is unknown, empty or has none (``XAU``)."""
    try:
        exponent = Currency(currency.upper()).exponent
    except (ValueError, AttributeError):
        return DEFAULT_MINOR_UNITS
    return DEFAULT_MINOR_UNITS if exponent is None else int(exponent)


def quantum(currency: str) -> Decimal:
    """The smallest unit of ``currency``: 0.01 USD, 1 JPY, 0.001 KWD."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (EUR 0.01, JPY 1, KWD 0.001)."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def round_hours(hours: Decimal, *, increment: Decimal | None, mode: str) -> Decimal:
    """Round hours to the client's increment: ``up``, ``nearest`` (half-up) or ``down``.

    No increment: as given. A result of 0 is allowed (docs/contract.md §5).
    """
    if not increment:
        return hours
    rounding = {"up": ROUND_UP, "nearest": ROUND_HALF_UP, "down": ROUND_DOWN}[mode]
    units = (hours / increment).quantize(Decimal(1), rounding=rounding)
    return (units * increment).quantize(Decimal("0.01"))


def decimals_of(amount: Decimal) -> int:
    """Significant decimals of ``amount`` (trailing zeros do not count: 10.500 has 1)."""
    exponent = Decimal(amount).normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def check_places(amount: Decimal, currency: str) -> None:
    """Raise ``TooManyDecimals`` when ``amount`` has more decimals than ``currency`` allows."""
    if decimals_of(amount) > minor_units(currency):
        raise TooManyDecimals(
            f"{amount} {currency or '(no currency)'} has more decimals than "
            f"{currency or 'the currency'} allows ({minor_units(currency)})",
            amount=str(amount),
            currency=currency,
            minor_units=minor_units(currency),
        )


def amount_text(amount: Decimal, currency: str) -> str:
    """The amount alone as the API writes it: ``"1234.50"`` USD, ``"1500"`` JPY, ``"92.588"``
    KWD (messages that carry the currency in a field of their own)."""
    return str(round_money(amount, currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """``Decimal("12345.5")`` in USD → ``"12,345.50"``: the currency's decimals, half-up,
    thousands separated by commas."""
    return f"{round_money(amount, currency):,f}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Unrounded amounts (hours × rate) are allowed; ``rounded()``
    gives the stored form. Arithmetic and ordering refuse a second currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float):
            raise TypeError("Money takes a Decimal, an int or a string, never a float")
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", Decimal(str(self.amount)))
        object.__setattr__(self, "currency", (self.currency or "").upper())

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(ZERO, currency)

    @classmethod
    def sum(cls, items: Iterable["Money"], currency: str) -> "Money":
        return sum_money(items, currency)

    def _same(self, other: object) -> "Money":
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {other.currency} with {self.currency}",
                currencies=sorted({self.currency, other.currency}),
            )
        return other

    def __add__(self, other: "Money") -> "Money":
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __abs__(self) -> "Money":
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> "Money":
        if isinstance(factor, (float, Money)):
            raise TypeError("Money multiplies by a Decimal or an int")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: "Money") -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: "Money") -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: "Money") -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: "Money") -> bool:
        return self.amount >= self._same(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    @property
    def minor_units(self) -> int:
        return minor_units(self.currency)

    def rounded(self) -> "Money":
        return Money(round_money(self.amount, self.currency), self.currency)

    def check(self) -> "Money":
        """Self, or ``TooManyDecimals`` when it has more decimals than its currency."""
        check_places(self.amount, self.currency)
        return self

    def as_json(self) -> dict[str, str]:
        return {"amount": amount_text(self.amount, self.currency), "currency": self.currency}

    def format(self) -> str:
        return f"{format_amount(self.amount, self.currency)} {self.currency}".strip()

    def __str__(self) -> str:
        return self.format()


def sum_money(items: Iterable[Money], currency: str) -> Money:
    """Exact Decimal sum of ``items``, all in ``currency`` (``CurrencyMismatch`` otherwise);
    an empty iterable is zero in ``currency``."""
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total


def sum_by_currency(items: Iterable[Money]) -> dict[str, Money]:
    """Money of several currencies, summed per currency (never across): ``{"USD": Money, ...}``."""
    totals: dict[str, Money] = {}
    for item in items:
        totals[item.currency] = totals.get(item.currency, Money.zero(item.currency)) + item
    return totals


def money_json(amount: Decimal | None, currency: str) -> dict[str, str] | None:
    """The API shape (docs/contract.md §2): ``{"amount": "1234.50", "currency": "USD"}``, the
    amount with the currency's decimals; None stays None."""
    return None if amount is None else Money(amount, currency).as_json()


def rate_json(rate: Decimal | None, currency: str) -> dict[str, str] | None:
    """An hourly rate in the money shape, at its stored decimals (a price per hour, not an
    amount: ``{"amount": "150.0000", "currency": "USD"}``); None stays None."""
    return None if rate is None else {"amount": str(rate), "currency": (currency or "").upper()}


def money_list(amounts: dict[str, Decimal] | dict[str, Money]) -> list[dict[str, str]]:
    """``{"USD": 10}`` → ``[{"amount": "10.00", "currency": "USD"}]``, by currency, zeros and
    blank currencies left out."""
    rows = []
    for currency in sorted(amounts):
        value: Any = amounts[currency]
        amount = value.amount if isinstance(value, Money) else value
        if currency and amount:
            rows.append(Money(amount, currency).as_json())
    return rows


def format_money(value: Any, currency: str = "") -> str:
    """The one page form, ``"12,345.50 USD"``, of a Money, an API dict (``{"amount",
    "currency"}``) or an amount with its currency; ``""`` for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return value.format()
    if isinstance(value, dict):
        return format_money(value.get("amount"), value.get("currency") or "")
    return Money(Decimal(str(value)), currency).format()
