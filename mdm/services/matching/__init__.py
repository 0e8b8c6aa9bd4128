"""Duplicate detection for customers: ``normalise`` (names, websites, tax ids) and ``scoring``
(blocking keys, the evidence score, the duplicate scan). Import from here:
``from mdm.services import matching``."""

from mdm.services.matching.normalise import (
    GENERIC_WORDS,
    name_tokens,
    normalise_tax_id,
    website_domain,
)
from mdm.services.matching.scoring import (
    AUTO_MATCH_THRESHOLD,
    DUPLICATE_THRESHOLD,
    MatchRecord,
    MatchResult,
    best_matches,
    blocking_keys,
    build_record,
    candidate_pairs,
    find_duplicates,
    find_duplicates_all_pairs,
    name_prefix,
    name_similarity,
    score_pair,
    sorted_prefix,
)

__all__ = [
    "AUTO_MATCH_THRESHOLD",
    "DUPLICATE_THRESHOLD",
    "GENERIC_WORDS",
    "MatchRecord",
    "MatchResult",
    "best_matches",
    "blocking_keys",
    "build_record",
    "candidate_pairs",
    "find_duplicates",
    "find_duplicates_all_pairs",
    "name_prefix",
    "name_similarity",
    "name_tokens",
    "normalise_tax_id",
    "score_pair",
    "sorted_prefix",
    "website_domain",
]
