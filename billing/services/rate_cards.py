"""Writes of rate cards (admin, API, import): versions never overlap, and time held for a
missing or different rate re-runs when the card changes (docs/contract.md §3 "when the cause goes
away")."""

from django.db import transaction

from billing.models import RateCard
from billing.services.rating import rerun_for_rate_card
from billing.services.reference import load_rate_card_versions
from integrations.services.traces import record_touched


@transaction.atomic
def save_rate_card(*, values: dict, versions: list[dict], card: RateCard | None = None) -> RateCard:
    """Create or update a card and upsert its versions and rates (the ``load_reference``
    format: ``{"valid_from", "valid_to", "rates": [{"role", "hourly"}]}``), then re-run
    held time of the card's entity and currency. Raises ValidationError/ValueError for an
    invalid card or overlapping versions (nothing is kept). Idempotent."""
    card = card or RateCard()
    for name, value in values.items():
        setattr(card, name, value)
    card.full_clean()
    card.save()
    changed = load_rate_card_versions(card=card, versions=versions)
    record_touched(card, action="saved", detail={"rows_changed": changed})
    rates_changed(card=card)
    return card


def rates_changed(*, card: RateCard) -> dict[str, int]:
    """Call after any change of ``card``'s versions or rates (admin save, import)."""
    return rerun_for_rate_card(card=card, note=f"rate card {card.code} changed: re-run")
