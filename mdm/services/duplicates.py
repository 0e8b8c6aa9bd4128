"""Duplicate customers: candidates from the blocking keys stored on each record, a score with
reasons (mdm.services.matching), an exception item per likely pair, and remembered "not a duplicate"."""

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q

from exceptions_queue.services import raise_exception_item
from mdm.models import Customer, DuplicateDecision
from mdm.services import matching

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Candidates read from the database per check; the blocking keys keep the real number small.
MAX_CANDIDATES = 500


def refresh_match_keys(customer: Customer) -> None:
    """Derive the stored blocking keys from the name and website (before a save)."""
    record = matching.build_record(customer.pk, customer.name, website=customer.website)
    customer.match_name = record.sorted_name[:200]
    customer.match_prefix = matching.name_prefix(record) if record.tokens else ""
    customer.match_sorted_prefix = matching.sorted_prefix(record) if record.tokens else ""
    customer.website_domain = record.domain[:200]


def match_record(customer: Customer, *, tax_id: str | None = None) -> matching.MatchRecord:
    if tax_id is None:
        tax_id = next((p.tax_id for p in customer.billing_profiles.all() if p.tax_id), "")
    return matching.build_record(
        customer.pk,
        customer.name,
        website=customer.website,
        tax_id=tax_id,
        country=customer.country,
    )


def list_candidates(
    record: matching.MatchRecord, *, exclude_pk: int | None = None
) -> list[Customer]:
    """Live customers sharing a blocking key with ``record`` (never a scan of all pairs)."""
    if not record.tokens:
        return []
    keys = Q(match_prefix=matching.name_prefix(record)) | Q(
        match_sorted_prefix=matching.sorted_prefix(record)
    )
    for token in [t for t in record.tokens if t not in matching.GENERIC_WORDS and len(t) >= 4][:3]:
        keys |= Q(match_name__contains=token)
    if record.domain:
        keys |= Q(website_domain=record.domain)
    if record.tax_id:
        keys |= Q(billing_profiles__tax_id__iexact=record.tax_id)
    candidates = Customer.objects.filter(keys).exclude(status=Customer.Status.MERGED)
    if exclude_pk is not None:  # excluding pk=None would only add "id IS NOT NULL"
        candidates = candidates.exclude(pk=exclude_pk)
    return list(
        candidates.prefetch_related("billing_profiles").distinct().order_by("pk")[:MAX_CANDIDATES]
    )


def find_matches(
    record: matching.MatchRecord, *, threshold: float, exclude_pk: int | None = None
) -> list[tuple[Customer, matching.MatchResult]]:
    """Customers scoring at least ``threshold`` against ``record``, best first."""
    # Keyed as MatchResult.right is typed (matching's keys are opaque): here they are pks.
    by_pk: dict[object, Customer] = {
        c.pk: c for c in list_candidates(record, exclude_pk=exclude_pk)
    }
    results = matching.best_matches(
        record, (match_record(c) for c in by_pk.values()), threshold=threshold
    )
    return [(by_pk[r.right], r) for r in results]


def pair_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"customer:{low}:{high}"


def snapshot(customer: Customer) -> dict:
    """A customer as the duplicate item shows it side by side."""
    profile = next(iter(customer.billing_profiles.all()), None)
    return {
        "id": customer.pk,
        "throughline_id": customer.throughline_id,
        "name": customer.name,
        "legal_name": customer.legal_name,
        "website": customer.website,
        "country": customer.country,
        "status": customer.status,
        "tax_id": profile.tax_id if profile else "",
        "payment_terms": profile.payment_terms if profile else "",
        "created_at": customer.created_at.isoformat() if customer.created_at else "",
    }


def check_duplicates(*, customer: Customer) -> int:
    """Raise ``duplicate_customer`` for each likely duplicate of ``customer`` not ruled out by a
    person; returns how many pairs were raised. Runs in the caller's transaction; a pair raised
    again adds to its open item."""
    if customer.status == Customer.Status.MERGED:
        return 0
    matches = find_matches(
        match_record(customer), threshold=matching.DUPLICATE_THRESHOLD, exclude_pk=customer.pk
    )
    raised = 0
    for other, result in matches:
        low, high = sorted((customer.pk, other.pk))
        if DuplicateDecision.objects.filter(low_id=low, high_id=high).exists():
            continue
        first, second = (customer, other) if customer.pk == low else (other, customer)
        raise_exception_item(
            type_code="duplicate_customer",
            subject_key=pair_key(low, high),
            subject_ref=f"{first.throughline_id} {first.name} / {second.throughline_id} {second.name}",
            subject=second,
            summary=f"likely the same customer (score {result.score:.0f})",
            details={
                "pair": [low, high],
                "score": result.score,
                "reasons": list(result.reasons),
                "records": [snapshot(first), snapshot(second)],
            },
        )
        raised += 1
    return raised


@transaction.atomic
def record_not_duplicate(
    *, first_id: int, second_id: int, user: "User | None" = None, note: str = ""
) -> DuplicateDecision:
    """Remember that two customers are distinct: the pair is never raised again. Idempotent."""
    low, high = sorted((first_id, second_id))
    decision, _created = DuplicateDecision.objects.get_or_create(
        low_id=low, high_id=high, defaults={"decided_by": user, "note": note[:300]}
    )
    return decision
