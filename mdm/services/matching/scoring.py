"""Matching, part two: blocking keys and an evidence score for customer duplicates.

Pure Python over plain values (no ORM), so the services, the batch scan and the benchmark use
the same rules. Lessons from docs/baselines.md: ``token_set_ratio`` calls "Vetor Software"
and "Vetor Global Software" identical, so names are compared with ``token_sort_ratio`` (here:
``ratio`` on pre-sorted normalised tokens, the same figure without re-sorting per pair) plus
evidence (website domain, tax id, country); and a first-letters blocking key alone loses a third
of the duplicates, so every record gets several keys: the name's prefix, the sorted tokens'
prefix, each distinctive token, the domain and the tax id.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from mdm.services.matching.normalise import (
    GENERIC_WORDS,
    name_tokens,
    normalise_tax_id,
    website_domain,
)

# Score rules (points on the 0-100 name scale). Units: points; reasons in the comments.
# Score rules (points on the 0-100 name scale). Units: points; reasons in the comments.
SAME_TAX_ID = 20  # a tax id is issued to one legal person: strong evidence
OTHER_TAX_ID = -30  # two different tax ids are two legal persons, whatever the names say
SAME_DOMAIN = 12  # a website is usually one company's (groups share them: not conclusive)
OTHER_DOMAIN = -12
SAME_COUNTRY = 3
OTHER_COUNTRY = -12
OTHER_BUSINESS = -8  # each name has a business word the other lacks: "Chicago Devices/Services"
DUPLICATE_THRESHOLD = 88  # raise duplicate_customer at or above this score
AUTO_MATCH_THRESHOLD = 97  # match_or_create_customer reuses a record only at or above this
# A block larger than this is too generic to say anything (a common word such as "consulting").
MAX_TOKEN_BLOCK = 1500
MAX_EXACT_BLOCK = 60  # one domain or tax id shared by more records than this is not evidence


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """What matching knows of one customer."""

    key: object
    name: str  # display name, for reasons
    sorted_name: str  # normalised tokens, sorted, space-joined
    core_name: str  # the same without generic words (or all tokens when every one is generic)
    tokens: tuple[str, ...]
    business_words: frozenset[str] = frozenset()
    domain: str = ""
    tax_id: str = ""
    country: str = ""


def build_record(
    key: object, name: str, *, website: str = "", tax_id: str = "", country: str = ""
) -> MatchRecord:
    tokens = tuple(name_tokens(name))
    return MatchRecord(
        key=key,
        name=name,
        sorted_name=" ".join(sorted(tokens)),
        core_name=" ".join(sorted(t for t in tokens if t not in GENERIC_WORDS) or sorted(tokens)),
        business_words=frozenset(t for t in tokens if t in GENERIC_WORDS),
        tokens=tokens,
        domain=website_domain(website),
        tax_id=normalise_tax_id(tax_id),
        country=(country or "").upper(),
    )


def name_prefix(record: MatchRecord) -> str:
    return "".join(record.tokens)[:4]


def sorted_prefix(record: MatchRecord) -> str:
    return record.sorted_name.replace(" ", "")[:4]


def blocking_keys(record: MatchRecord) -> list[str]:
    """Keys a likely duplicate shares with this record (at least one, for realistic variants)."""
    keys = []
    if record.tokens:
        keys += [f"p:{name_prefix(record)}", f"s:{sorted_prefix(record)}"]
        keys += [f"t:{token}" for token in set(record.tokens) if len(token) >= 3]
    if record.domain:
        keys.append(f"d:{record.domain}")
    if record.tax_id:
        keys.append(f"x:{record.tax_id}")
    return keys


@dataclass(frozen=True, slots=True)
class MatchResult:
    left: object
    right: object
    score: float
    reasons: tuple[str, ...] = field(default=())


def name_similarity(a: MatchRecord, b: MatchRecord) -> float:
    """token_sort_ratio of the normalised names, capped by that of their distinctive words."""
    return min(fuzz.ratio(a.sorted_name, b.sorted_name), fuzz.ratio(a.core_name, b.core_name))


def score_pair(a: MatchRecord, b: MatchRecord) -> MatchResult:
    """The likelihood (0-100) that two records are the same customer, with the reasons."""
    name_score = name_similarity(a, b)
    score = float(name_score)
    reasons = [f"names {name_score:.0f}% alike ({a.sorted_name!r} / {b.sorted_name!r})"]
    if (a.business_words - b.business_words) and (b.business_words - a.business_words):
        score += OTHER_BUSINESS
        words = sorted(a.business_words ^ b.business_words)
        reasons.append(f"different business words {', '.join(words)} ({OTHER_BUSINESS:+d})")
    for mine, theirs, same, other, label in (
        (a.tax_id, b.tax_id, SAME_TAX_ID, OTHER_TAX_ID, "tax id"),
        (a.domain, b.domain, SAME_DOMAIN, OTHER_DOMAIN, "website domain"),
        (a.country, b.country, SAME_COUNTRY, OTHER_COUNTRY, "country"),
    ):
        if not mine or not theirs:
            continue
        if mine == theirs:
            score += same
            reasons.append(f"same {label} {mine} ({same:+d})")
        else:
            score += other
            reasons.append(f"different {label}s {mine} / {theirs} ({other:+d})")
    return MatchResult(a.key, b.key, round(max(0.0, min(100.0, score)), 1), tuple(reasons))


def _blocks(records: Sequence[MatchRecord]) -> dict[str, list[int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        for key in blocking_keys(record):
            blocks[key].append(index)
    return blocks


def candidate_pairs(records: Sequence[MatchRecord], *, threshold: float) -> set[tuple[int, int]]:
    """Pairs (i < j) worth scoring, found block by block (compared on their sorted names, an
    upper bound of ``name_similarity``).

    Name blocks keep only pairs whose names alone could reach ``threshold`` (the country is the
    only evidence two records of a name block may add without sharing a domain or tax id, and
    those pairs are in the domain and tax-id blocks). Domain and tax-id blocks keep every pair.
    """
    name_floor = max(0.0, threshold - SAME_COUNTRY)
    pairs: set[tuple[int, int]] = set()
    names = [record.sorted_name for record in records]
    for key, members in _blocks(records).items():
        size = len(members)
        exact = key[0] in "dx"
        if size < 2 or size > (MAX_EXACT_BLOCK if exact else MAX_TOKEN_BLOCK):
            continue
        block_names = [names[i] for i in members]
        cutoff = 0 if exact else name_floor
        for row in range(size - 1):
            # One C-level pass of the row's name against the rest of the block.
            for _name, _score, offset in process.extract_iter(
                block_names[row],
                block_names[row + 1 :],
                scorer=fuzz.ratio,
                score_cutoff=cutoff,
            ):
                i, j = members[row], members[row + 1 + offset]
                pairs.add((i, j) if i < j else (j, i))
    return pairs


def find_duplicates(
    records: Sequence[MatchRecord], *, threshold: float = DUPLICATE_THRESHOLD
) -> list[MatchResult]:
    """Likely duplicate pairs among ``records`` (blocked: never all pairs), best first."""
    results = []
    for i, j in candidate_pairs(records, threshold=threshold):
        result = score_pair(records[i], records[j])
        if result.score >= threshold:
            results.append(result)
    results.sort(key=lambda r: (-r.score, _sortable(r.left), _sortable(r.right)))
    return results


def find_duplicates_all_pairs(
    records: Sequence[MatchRecord], *, threshold: float = DUPLICATE_THRESHOLD
) -> list[MatchResult]:
    """The same decision over every pair (the reference the blocked pass is measured against)."""
    names = [record.core_name for record in records]
    # Exact pruning: below this name score no evidence can lift a pair to the threshold.
    floor = max(0.0, threshold - SAME_TAX_ID - SAME_DOMAIN - SAME_COUNTRY)
    results = []
    for i in range(len(records) - 1):
        for _name, _score, offset in process.extract_iter(
            names[i], names[i + 1 :], scorer=fuzz.ratio, score_cutoff=floor
        ):
            result = score_pair(records[i], records[i + 1 + offset])
            if result.score >= threshold:
                results.append(result)
    return results


def best_matches(
    record: MatchRecord, candidates: Iterable[MatchRecord], *, threshold: float
) -> list[MatchResult]:
    """Candidates scoring at least ``threshold`` against ``record``, best first."""
    results = [score_pair(record, other) for other in candidates if other.key != record.key]
    return sorted((r for r in results if r.score >= threshold), key=_best_first)


def _best_first(result: MatchResult) -> tuple:
    """Highest score first; on a tie the older record, so one question gets one answer."""
    return (-result.score, _sortable(result.right))


def _sortable(key: object) -> tuple:
    """Record keys in their natural order: primary keys as numbers (99 before 100, which as
    strings would sort the other way round), anything else as text after them."""
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))
