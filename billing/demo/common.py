"""Small helpers shared by the demo firm's builder and its reference file."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from billing.demo import catalogue as c

ID_PREFIX = "KP"  # in every CRM and PSA id the demo makes: 001KP…, 006KP…, TE-KP-…


def month_add(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


def working_days(start: date, end: date) -> list[date]:
    """Monday to Friday from ``start`` to ``end`` inclusive."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def round5(value: Decimal) -> Decimal:
    return ((value / 5).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 5).quantize(Decimal("1.00"))


def rate_change_on(today: date) -> date:
    """The day the standard cards' second (higher) version starts: three months ago."""
    return month_add(today.replace(day=1), -3)


def standard_rate(currency: str, role: str, work_date: date, today: date) -> Decimal:
    """The standard card's rate on ``work_date`` (the higher version from rate_change_on)."""
    base = Decimal(c.STANDARD_RATES[currency][role])
    return round5(base * c.RATE_RISE) if work_date >= rate_change_on(today) else round5(base)


def account_id(index: int) -> str:
    """The CRM account id of client ``index`` (a near-duplicate's second account: + 100)."""
    return f"001{ID_PREFIX}{index:08d}"


def client_card_code(index: int) -> str:
    return f"KP-{c.CLIENTS[index][3]}-{c.CLIENTS[index][0].split()[0].upper()}"
