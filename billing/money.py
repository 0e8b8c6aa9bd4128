"""Money: a Decimal amount with an explicit ISO 4217 currency, rounded half-up to its minor unit."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal

from config.errors import DomainError

# ISO 4217 minor units that are not 2 (the default). The list covers the currencies a
# professional-services firm invoices in; unknown codes use 2.
_MINOR_UNITS = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "HUF": 2,
    "VND": 0,
    "XOF": 0,
    "XAF": 0,
    "UGX": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "LYD": 3,
    "IQD": 3,
}
ZERO = Decimal("0")


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (EUR 0.01, JPY 1, KWD 0.001)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def round_hours(hours: Decimal, *, increment: Decimal | None, mode: str) -> Decimal:
    """Round hours to the client's increment: ``up``, ``nearest`` (half-up) or ``down``.

    No increment: as given. A result of 0 is allowed (docs/contract.md §5).
    """
    if not increment:
        return hours
    rounding = {"up": ROUND_UP, "nearest": ROUND_HALF_UP, "down": ROUND_DOWN}[mode]
    units = (hours / increment).quantize(Decimal(1), rounding=rounding)
    return (units * increment).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def rounded(self) -> "Money":
        return Money(round_money(self.amount, self.currency), self.currency)

    def as_json(self) -> dict:
        return {"amount": str(round_money(self.amount, self.currency)), "currency": self.currency}
