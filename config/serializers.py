"""Shapes every app's API shares (config is the bottom layer, so each app may import it)."""

from decimal import Decimal


def money_json(amount: Decimal | None, currency: str) -> dict | None:
    """Money as docs/contract.md §2 sends it: ``{"amount": "1234.50", "currency": "EUR"}``; None stays
    None. The amount is the stored Decimal as a string (already rounded where it was stored)."""
    return None if amount is None else {"amount": str(amount), "currency": currency}
