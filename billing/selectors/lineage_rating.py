"""What priced a billed entry and what posted its invoice, for the lineage
(docs/finance-controls/lineage.md): the rating decision read from the entry's version that the
line billed (card, version, the rule that chose the rate, the rounding of hours and amount),
and the ERP call of the invoice with its attempts.

The decision is read back from what rating stored on the entry (``billing/services/rating.py``
stores the card version, the rate, an accepted rate and the billed hours) and the client's
billing rule as it stood when the entry was rated (its history), so a later change of the
card or the rule does not rewrite the past.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from billing.models import BillingRule, Contract, Invoice, Rate, RateCardVersion
from config.money import Money
from integrations.models import DeliveryAttempt, OutboxMessage

ERP_CREATE = "erp.invoice.create"  # the posting's kind (billing/services/invoice_posting.py)
ROUNDING_WORDS = {"up": "up", "nearest": "to the nearest (half up)", "down": "down"}


@dataclass(frozen=True)
class RatingDecision:
    card_code: str
    card_name: str
    card_kind: str
    version_id: int | None
    valid_from: date | None
    valid_to: date | None
    rule: str
    rule_label: str
    card_rate: Decimal | None
    rate: Decimal
    psa_rate: Decimal | None
    hours: Decimal
    billed_hours: Decimal
    rounding: str
    unrounded: Money
    amount: Money
    rated_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime
    outcome: str
    outcome_label: str
    duration_ms: int
    error: str


@dataclass(frozen=True)
class Posting:
    """The ERP call that posts an invoice (``erp.invoice.create``) and its attempts."""

    message_id: str
    system: str
    kind: str
    status: str
    status_label: str
    external_id: str
    created_at: datetime
    sent_at: datetime | None
    last_error: str
    trace_id: str
    attempts: tuple[Attempt, ...]
    message: OutboxMessage


class RatingContext:
    """The card versions, card rates and client rules that priced a set of history rows,
    read in three queries whatever the number of rows."""

    def __init__(self, rows: Iterable[Any], contracts: dict[int, Contract]) -> None:
        rows = list(rows)
        version_ids = {row.rate_card_version_id for row in rows if row.rate_card_version_id}
        self.versions = {
            version.pk: version
            for version in RateCardVersion.objects.filter(pk__in=version_ids).select_related("card")
        }
        self.rates = {
            (rate.version_id, rate.role.code): rate.hourly
            for rate in Rate.objects.filter(version_id__in=version_ids).select_related("role")
        }
        accounts = {contract.crm_account_id for contract in contracts.values()}
        self.rules: dict[str, list[Any]] = {}
        for rule in BillingRule.history.filter(client_account_id__in=accounts).order_by(
            "history_date", "history_id"
        ):
            self.rules.setdefault(rule.client_account_id, []).append(rule)
        self.contracts = contracts

    def card_words(self) -> dict[int, str]:
        return {pk: version_words(version) for pk, version in self.versions.items()}

    def rule_at(self, account: str, at: datetime | None) -> Any:
        """The client's billing rule as it stood at ``at`` (None: no rule then)."""
        found = None
        for row in self.rules.get(account, []):
            if at is not None and row.history_date > at:
                break
            found = None if row.history_type == "-" else row
        return found

    def decision(self, row: Any, contract_id: int | None) -> RatingDecision | None:
        """The rating decision stored on history ``row`` (None when it was never rated)."""
        if row.rate is None or row.billed_hours is None or row.amount is None:
            return None
        contract = self.contracts.get(contract_id) if contract_id else None
        version = self.versions.get(row.rate_card_version_id)
        card = version.card if version else None
        rule, label = _chosen_by(row, contract, card)
        billing_rule = self.rule_at(contract.crm_account_id, row.rated_at) if contract else None
        currency = row.currency
        return RatingDecision(
            card_code=card.code if card else "",
            card_name=card.name if card else "",
            card_kind=_card_kind(contract, card),
            version_id=version.pk if version else None,
            valid_from=version.valid_from if version else None,
            valid_to=version.valid_to if version else None,
            rule=rule,
            rule_label=label,
            card_rate=self.rates.get((row.rate_card_version_id, row.role)),
            rate=row.rate,
            psa_rate=row.psa_bill_rate,
            hours=row.hours,
            billed_hours=row.billed_hours,
            rounding=rounding_words(billing_rule, row.hours, row.billed_hours),
            unrounded=Money(row.billed_hours * row.rate, currency),
            amount=Money(row.amount, currency).rounded(),
            rated_at=row.rated_at,
        )


def card_version_words(rows: Iterable[Any]) -> dict[int, str]:
    """The card versions history ``rows`` name, in words, by id (one query)."""
    ids = {row.rate_card_version_id for row in rows if row.rate_card_version_id}
    versions = RateCardVersion.objects.filter(pk__in=ids).select_related("card") if ids else []
    return {version.pk: version_words(version) for version in versions}


def version_words(version: RateCardVersion) -> str:
    until = f" to {version.valid_to:%Y-%m-%d}" if version.valid_to else ""
    return f"{version.card.code} from {version.valid_from:%Y-%m-%d}{until}"


def _card_kind(contract: Contract | None, card: Any) -> str:
    if card is None:
        return ""
    if contract is not None and contract.rate_card_id == card.pk:
        return "the card the deal names"
    if card.client_account_id:
        return "the client's own card"
    return "the entity's standard card"


def _chosen_by(row: Any, contract: Contract | None, card: Any) -> tuple[str, str]:
    """Which rule chose the rate (docs/billing.md "Card", "Actions on held time")."""
    if row.rate_override is not None:
        if row.psa_bill_rate is not None and row.rate_override == row.psa_bill_rate:
            return "override_psa_rate", "Finance accepted the PSA's rate (billed at the new rate)"
        return "override_card_rate", "Finance accepted the card's rate over the PSA's"
    if card is None:
        return "unknown", "No card version recorded"
    if contract is not None and contract.rate_card_id == card.pk:
        return "deal_card", "The card the deal names, for the role on the work date"
    if card.client_account_id:
        return "client_card", "The client's own card, for the role on the work date"
    return "standard_card", "The entity's standard card, for the role on the work date"


def rounding_words(rule: Any, hours: Decimal, billed: Decimal) -> str:
    """How the hours were rounded (the client's rule at rating time), in words."""
    if rule is None or not rule.rounding_increment_hours:
        return f"none: {billed} h billed as worked (no rounding rule)"
    mode = ROUNDING_WORDS.get(rule.rounding, rule.rounding)
    return f"{hours} h rounded {mode} to {rule.rounding_increment_hours} h: {billed} h"


def postings_of(invoices: Iterable[Invoice]) -> dict[int, Posting]:
    """The ERP posting of each invoice that has one, by invoice id (two queries and one for
    the records the calls carried)."""
    keys = {f"{ERP_CREATE}:{invoice.pk}": invoice.pk for invoice in invoices}
    if not keys:
        return {}
    attempts = DeliveryAttempt.objects.order_by("started_at", "id")
    messages = (
        OutboxMessage.objects.filter(idempotency_key__in=list(keys))
        .select_related("system")
        .prefetch_related(Prefetch("delivery_attempts", attempts), "local_object")
    )
    return {keys[message.idempotency_key]: posting_of(message) for message in messages}


def posting_of(message: OutboxMessage) -> Posting:
    return Posting(
        message_id=str(message.pk),
        system=message.system.slug,
        kind=message.kind,
        status=message.status,
        status_label=message.get_status_display(),
        external_id=message.external_id,
        created_at=message.created_at,
        sent_at=message.sent_at,
        last_error=message.last_error,
        trace_id=message.trace_id,
        attempts=tuple(
            Attempt(
                number=attempt.number,
                started_at=attempt.started_at,
                outcome=attempt.outcome,
                outcome_label=attempt.get_outcome_display(),
                duration_ms=attempt.duration_ms,
                error=attempt.error,
            )
            for attempt in message.delivery_attempts.all()
        ),
        message=message,
    )
