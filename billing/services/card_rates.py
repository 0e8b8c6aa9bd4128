"""The rate a rate card gives a role on a date (docs/contract.md §5 "Card" and "Rate")."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q

from billing.models import Contract, Rate, RateCard, RateCardVersion


@dataclass(frozen=True)
class CardRate:
    version: RateCardVersion | None
    hourly: Decimal


def _rate_in(card: RateCard | None, role: str, work_date: date) -> CardRate | None:
    if card is None:
        return None
    rate = (
        Rate.objects.select_related("version")
        .filter(version__card=card, role__code=role, version__valid_from__lte=work_date)
        .filter(Q(version__valid_to__isnull=True) | Q(version__valid_to__gte=work_date))
        .order_by("-version__valid_from")
        .first()
    )
    return CardRate(rate.version, rate.hourly) if rate else None


def find_rate(*, contract: Contract, role: str, work_date: date) -> CardRate | None:
    """§5 "Card" and "Rate": the named card alone; else the client's card (of the deal's entity
    and currency) when it has a rate for the role on the date, else the entity's standard card
    in the contract currency."""
    if contract.rate_card_id:
        return _rate_in(contract.rate_card, role, work_date)
    cards = RateCard.objects.filter(
        legal_entity_id=contract.legal_entity_id, currency=contract.currency
    )
    client_card = cards.filter(client_account_id=contract.crm_account_id).first()
    found = _rate_in(client_card, role, work_date) if contract.crm_account_id else None
    return found or _rate_in(cards.filter(is_standard=True).first(), role, work_date)
