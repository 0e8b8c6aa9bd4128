"""Matching, part one: the normalisation of names, websites and tax ids.

Pure Python over plain values (no ORM). Names lose their legal suffixes, accents and generic
words; well-known abbreviations are spelt out, so "Acme Intl GmbH" and "ACME International"
compare as the same words. What the scores make of it is in ``scoring``.
"""

import functools
import re
import unicodedata

from rapidfuzz import fuzz, process

LEGAL_SUFFIXES = frozenset(
    [
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "kgaa",
        "sa",
        "sas",
        "sarl",
        "sl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "pty",
        "pvt",
        "oy",
        "ab",
        "as",
        "asa",
        "aps",
        "sro",
        "sp",
        "zoo",
        "kk",
        "pte",
        "se",
        "ug",
        "lda",
        "ltda",
        "cv",
        "sociedad",
    ]
)
ABBREVIATIONS = {
    "intl": "international",
    "int'l": "international",
    "tech": "technologies",
    "technology": "technologies",
    "svcs": "services",
    "svc": "services",
    "service": "services",
    "mgmt": "management",
    "assoc": "associates",
    "assocs": "associates",
    "bros": "brothers",
    "mfg": "manufacturing",
    "grp": "group",
    "sys": "systems",
    "natl": "national",
    "univ": "university",
    "labs": "laboratories",
    "lab": "laboratories",
    "dept": "department",
    "ctr": "center",
    "centre": "center",
    "eng": "engineering",
    "engg": "engineering",
    "hldgs": "holdings",
    "hldg": "holdings",
    "mktg": "marketing",
    "sols": "solutions",
}
# Words that say what a company does, not which company it is: "Novak Manufacturing" and
# "Orva Manufacturing" share 13 letters and nothing else. Names are also compared without them.
GENERIC_WORDS = frozenset(
    [
        "consulting",
        "consultants",
        "logistics",
        "analytics",
        "software",
        "systems",
        "solutions",
        "services",
        "engineering",
        "partners",
        "holdings",
        "capital",
        "ventures",
        "media",
        "laboratories",
        "technologies",
        "pharmaceuticals",
        "manufacturing",
        "foods",
        "food",
        "energy",
        "retail",
        "design",
        "architects",
        "advisors",
        "advisory",
        "insurance",
        "networks",
        "robotics",
        "biotech",
        "devices",
        "materials",
        "construction",
        "transport",
        "transportation",
        "trading",
        "textiles",
        "studios",
        "studio",
        "management",
        "associates",
        "group",
        "international",
        "brothers",
        "marketing",
        "global",
        "industries",
        "industrial",
        "enterprises",
        "investments",
        "finance",
        "financial",
        "bank",
        "healthcare",
        "health",
        "medical",
        "digital",
        "data",
        "cloud",
        "security",
        "research",
        "development",
        "properties",
        "realty",
        "real",
        "estate",
        "partnership",
        "agency",
        "communications",
        "telecom",
        "electronics",
        "automotive",
        "chemicals",
        "resources",
        "supply",
        "products",
        "distribution",
        "logistic",
        "network",
        "company",
        "corporation",
    ]
)
STOPWORDS = frozenset({"the", "and", "of", "und", "et", "y", "de"})
TRANSLITERATIONS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)
_NON_WORD = re.compile(r"[^a-z0-9]+")

# A 5+ letter token this close to a generic word is that word misspelt.
GENERIC_TYPO_RATIO = 84


def _ascii(text: str) -> str:
    text = text.translate(TRANSLITERATIONS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@functools.lru_cache(maxsize=200_000)
def _canonical(token: str) -> str:
    """A token, or the generic word it is a typo of ("internotional" -> international).
    Only for tokens of 5+ letters: shorter ones are too often real, distinct words."""
    token = ABBREVIATIONS.get(token, token)
    if len(token) < 5 or token in GENERIC_WORDS:
        return token
    match = process.extractOne(
        token, GENERIC_WORDS, scorer=fuzz.ratio, score_cutoff=GENERIC_TYPO_RATIO
    )
    return match[0] if match else token


def name_tokens(name: str) -> list[str]:
    """Lowercase ASCII tokens of a company name without legal suffixes and stop words, with
    common abbreviations expanded ("Intl. Tech Svcs GmbH" -> international technologies services)."""
    text = _ascii(name or "").lower().replace("&", " and ").replace("'", "")
    tokens = []
    for raw in _NON_WORD.split(text):
        if not raw:
            continue
        token = _canonical(raw)
        if token in STOPWORDS:
            continue
        tokens.append(token)
    kept = [t for t in tokens if t not in LEGAL_SUFFIXES]
    return kept or tokens  # "Company Ltd" keeps something to compare


def website_domain(website: str) -> str:
    """``https://www.Acme.com/about`` -> ``acme.com``; empty when there is no usable host."""
    text = (website or "").strip().lower()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split("?")[0].split(":")[0]
    text = text.removeprefix("www.")
    return text if "." in text else ""


def normalise_tax_id(tax_id: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (tax_id or "").upper())
