"""A generated customer list with known duplicates, for measuring duplicate detection.

``generate_customers(n, duplicate_share=0.05, seed=...)`` returns ``n`` rows: distinct companies
plus ``round(n * duplicate_share)`` duplicates, each a realistic variant of one original (the
way one client ends up twice in a CRM or ERP): legal suffix changed, dropped or spelled out; a
typo; words in another order; accents added, stripped or transliterated; abbreviations; case
and punctuation; the website kept (with other spellings of the URL), dropped or on another
TLD; the tax id kept or missing. The originals include hard negatives: sister companies that
share a surname or brand with another original but are distinct.
"""

import random
from dataclasses import dataclass

SURNAMES = [
    "keller",
    "braun",
    "schmidt",
    "weber",
    "wagner",
    "becker",
    "hoffmann",
    "schulz",
    "koch",
    "richter",
    "klein",
    "wolf",
    "schroeder",
    "neumann",
    "schwarz",
    "zimmermann",
    "hartmann",
    "krueger",
    "lange",
    "werner",
    "lehmann",
    "walter",
    "maier",
    "fischer",
    "mayer",
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "miller",
    "davis",
    "garcia",
    "rodriguez",
    "wilson",
    "martinez",
    "anderson",
    "taylor",
    "thomas",
    "hernandez",
    "moore",
    "martin",
    "jackson",
    "thompson",
    "white",
    "lopez",
    "lee",
    "gonzalez",
    "harris",
    "clark",
    "lewis",
    "robinson",
    "walker",
    "perez",
    "hall",
    "young",
    "allen",
    "sanchez",
    "wright",
    "king",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "ramirez",
    "campbell",
    "mitchell",
    "roberts",
    "carter",
    "phillips",
    "evans",
    "turner",
    "torres",
    "parker",
    "collins",
    "edwards",
    "stewart",
    "flores",
    "morris",
    "nguyen",
    "murphy",
    "rivera",
    "cook",
    "rogers",
    "morgan",
    "peterson",
    "cooper",
    "reed",
    "bailey",
    "bell",
    "gomez",
    "kelly",
    "howard",
    "ward",
    "cox",
    "diaz",
    "richardson",
    "wood",
    "watson",
    "brooks",
    "bennett",
    "gray",
    "james",
    "reyes",
    "cruz",
    "hughes",
    "price",
    "myers",
    "long",
    "foster",
    "sanders",
    "ross",
    "morales",
    "powell",
    "sullivan",
    "russell",
    "ortiz",
    "jenkins",
    "gutierrez",
    "perry",
    "butler",
    "barnes",
    "fisher",
    "henderson",
    "coleman",
    "simmons",
    "patterson",
    "jordan",
    "reynolds",
    "hamilton",
    "graham",
    "kim",
    "gonzales",
    "alexander",
    "ramos",
    "wallace",
    "griffin",
    "west",
    "cole",
    "hayes",
    "chavez",
    "gibson",
    "bryant",
    "ellis",
    "stevens",
    "murray",
    "ford",
    "marshall",
    "owens",
    "mcdonald",
    "harrison",
    "ruiz",
    "kennedy",
    "wells",
    "alvarez",
    "woods",
    "mendoza",
    "castillo",
    "olson",
    "webb",
    "washington",
    "tucker",
    "freeman",
    "burns",
    "henry",
    "vasquez",
    "snyder",
    "simpson",
    "crawford",
    "jimenez",
    "porter",
    "mason",
    "shaw",
    "dubois",
    "lefevre",
    "moreau",
    "laurent",
    "simon",
    "michel",
    "garnier",
    "rousseau",
    "bonnet",
    "dupont",
    "lambert",
    "fontaine",
    "rossi",
    "russo",
    "ferrari",
    "esposito",
    "bianchi",
    "romano",
    "colombo",
    "ricci",
    "marino",
    "greco",
    "bruno",
    "gallo",
    "conti",
    "jansen",
    "visser",
    "smit",
    "meijer",
    "bos",
    "vos",
    "peters",
    "hendriks",
    "dekker",
    "brouwer",
    "novak",
    "horvat",
    "kowalski",
    "nowak",
    "lindberg",
    "johansson",
    "nilsson",
    "larsen",
    "hansen",
    "nielsen",
    "berg",
    "haugen",
    "virtanen",
    "korhonen",
]
ACCENTED = {
    "muller": "Müller",
    "jager": "Jäger",
    "gonzalez": "González",
    "lefevre": "Lefèvre",
    "francois": "François",
    "bjork": "Björk",
    "sorensen": "Sørensen",
    "garcia": "García",
    "peña": "Peña",
    "koenig": "König",
    "boehm": "Böhm",
    "rene": "René",
    "zurich": "Zürich",
    "malmo": "Malmö",
    "munchen": "München",
    "cote": "Côte",
    "dubois": "Dubois",
}
ADJECTIVES = [
    "blue",
    "red",
    "green",
    "silver",
    "golden",
    "northern",
    "southern",
    "eastern",
    "western",
    "bright",
    "clear",
    "swift",
    "prime",
    "summit",
    "pioneer",
    "liberty",
    "heritage",
    "apex",
    "vertex",
    "crystal",
    "granite",
    "iron",
    "copper",
    "cedar",
    "maple",
    "oak",
    "pine",
    "harbor",
    "river",
    "lake",
    "ocean",
    "coastal",
    "alpine",
    "polar",
    "solar",
    "lunar",
    "stellar",
    "quantum",
    "vector",
    "atlas",
    "orion",
    "nova",
    "zenith",
    "horizon",
    "meridian",
    "pacific",
    "atlantic",
    "evergreen",
    "silverline",
    "redwood",
    "bluewater",
    "stonebridge",
    "clearwater",
    "highland",
    "lowland",
    "riverside",
    "lakeside",
    "hillside",
    "brookfield",
    "ashford",
    "oxford",
    "cambridge",
    "kingston",
    "wellington",
    "hampton",
]
NOUNS = [
    "bridge",
    "gate",
    "point",
    "peak",
    "ridge",
    "stone",
    "field",
    "wood",
    "brook",
    "creek",
    "falls",
    "harbor",
    "haven",
    "crest",
    "springs",
    "valley",
    "grove",
    "park",
    "bay",
    "rock",
    "hill",
    "forge",
    "works",
    "mill",
    "yard",
    "wave",
    "path",
    "way",
    "line",
]
INDUSTRIES = [
    "consulting",
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
    "labs",
    "technologies",
    "pharmaceuticals",
    "manufacturing",
    "foods",
    "energy",
    "logistics",
    "retail",
    "design",
    "architects",
    "advisors",
    "insurance",
    "networks",
    "robotics",
    "biotech",
    "devices",
    "materials",
    "construction",
    "transport",
    "trading",
    "foods",
    "textiles",
    "studios",
    "management",
    "associates",
    "group",
    "international",
    "brothers",
    "marketing",
]
PLACES = [
    "rhine",
    "danube",
    "thames",
    "hudson",
    "alpine",
    "nordic",
    "baltic",
    "iberian",
    "hanseatic",
    "bavarian",
    "pacific",
    "midwest",
    "texan",
    "carolina",
    "hamburg",
    "berlin",
    "munchen",
    "zurich",
    "malmo",
    "lyon",
    "milano",
    "london",
    "boston",
    "denver",
    "austin",
    "seattle",
    "portland",
    "dallas",
    "chicago",
    "toronto",
    "dublin",
    "vienna",
    "geneva",
]
SYLLABLES = [
    "zen",
    "tro",
    "va",
    "qui",
    "lix",
    "ka",
    "mo",
    "ri",
    "sa",
    "nu",
    "te",
    "lo",
    "vi",
    "da",
    "pex",
    "or",
    "ion",
    "ax",
    "ly",
    "fi",
    "ra",
    "zo",
    "bel",
    "tor",
]
COUNTRIES = {
    "US": ("Inc", "LLC", "Corp", "Incorporated", "Co"),
    "GB": ("Ltd", "Limited", "PLC", "LLP"),
    "DE": ("GmbH", "AG", "KG", "GmbH & Co KG"),
    "FR": ("SA", "SAS", "SARL"),
    "NL": ("BV", "NV"),
    "CH": ("AG", "SA", "GmbH"),
    "SE": ("AB",),
}
TLD = {"US": "com", "GB": "co.uk", "DE": "de", "FR": "fr", "NL": "nl", "CH": "ch", "SE": "se"}
ABBREVIATE = {
    "international": "Intl",
    "technologies": "Tech",
    "services": "Svcs",
    "management": "Mgmt",
    "associates": "Assoc",
    "brothers": "Bros",
    "manufacturing": "Mfg",
    "group": "Grp",
    "systems": "Sys",
    "engineering": "Eng",
    "holdings": "Hldgs",
    "marketing": "Mktg",
    "laboratories": "Labs",
    "and": "&",
}
SPELLED_OUT = {"Inc": "Incorporated", "Ltd": "Limited", "Corp": "Corporation", "Co": "Company"}


@dataclass
class Row:
    """One generated customer; ``original`` is the index of the record it duplicates."""

    index: int
    name: str
    website: str
    tax_id: str
    country: str
    original: int | None = None


def _cap(word: str) -> str:
    return ACCENTED.get(word, word.capitalize())


def _base_name(rng: random.Random) -> list[str]:
    pattern = rng.random()
    if pattern < 0.25:
        words = [_cap(rng.choice(SURNAMES)), _cap(rng.choice(INDUSTRIES))]
    elif pattern < 0.40:
        first, second = rng.sample(SURNAMES, 2)
        words = [_cap(first), "&", _cap(second)]
        if rng.random() < 0.4:
            words.append(_cap(rng.choice(INDUSTRIES)))
    elif pattern < 0.70:
        words = [
            _cap(rng.choice(ADJECTIVES)),
            _cap(rng.choice(NOUNS)),
            _cap(rng.choice(INDUSTRIES)),
        ]
    elif pattern < 0.85:
        words = [_cap(rng.choice(PLACES)), _cap(rng.choice(INDUSTRIES))]
        if rng.random() < 0.5:
            words.append(_cap(rng.choice(("group", "partners", "holdings", "international"))))
    else:
        brand = "".join(rng.sample(SYLLABLES, rng.choice((2, 3))))
        words = [brand.capitalize()]
        if rng.random() < 0.7:
            words.append(_cap(rng.choice(INDUSTRIES)))
    return words


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.3:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.55:
        return word[:i] + word[i + 1 :]
    if kind < 0.8:
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]


def _strip_accents(word: str, rng: random.Random) -> str:
    import unicodedata

    if rng.random() < 0.5:
        word = word.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("Ü", "Ue")
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()


def _variant(words: list[str], suffix: str, rng: random.Random) -> tuple[list[str], str]:
    changes = rng.sample(
        ("suffix", "typo", "order", "accents", "abbreviation", "case"), rng.choice((1, 1, 2))
    )
    words = list(words)
    for change in changes:
        if change == "suffix":
            suffix = rng.choice(("", SPELLED_OUT.get(suffix, suffix.upper()), suffix + "."))
        elif change == "typo":
            candidates = [i for i, w in enumerate(words) if len(w) >= 4]
            if candidates:
                i = rng.choice(candidates)
                words[i] = _typo(words[i], rng)
        elif change == "order" and len(words) > 1:
            words = words[1:] + words[:1] if rng.random() < 0.5 else words[::-1]
        elif change == "accents":
            words = [_strip_accents(w, rng) for w in words]
        elif change == "abbreviation":
            words = [ABBREVIATE.get(w.lower(), w) for w in words]
        elif change == "case":
            words = [w.upper() for w in words] if rng.random() < 0.5 else [w.lower() for w in words]
    return words, suffix


def _domain(words: list[str], country: str, rng: random.Random) -> str:
    import unicodedata

    stem = "".join(w for w in words if w != "&").lower()
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    if rng.random() < 0.3:
        stem = stem[: max(4, len(stem) // 2)] + str(rng.randrange(10, 99))
    return f"{stem}.{TLD[country]}"


def generate_customers(n: int, *, duplicate_share: float = 0.05, seed: int = 6) -> list[Row]:
    """``n`` customer rows, ``round(n * duplicate_share)`` of them duplicates of others."""
    rng = random.Random(seed)
    duplicates = round(n * duplicate_share)
    originals: list[Row] = []
    parts: list[tuple[list[str], str]] = []
    seen_names: set[str] = set()
    while len(originals) < n - duplicates:
        if parts and rng.random() < 0.04:
            # A sister company: shares the first word of another original, a different business.
            words = [parts[rng.randrange(len(parts))][0][0], _cap(rng.choice(INDUSTRIES))]
        else:
            words = _base_name(rng)
        key = " ".join(sorted(w.lower() for w in words))
        if key in seen_names:
            continue
        seen_names.add(key)
        country = rng.choice(tuple(COUNTRIES))
        suffix = rng.choice(COUNTRIES[country])
        domain = _domain(words, country, rng)
        originals.append(
            Row(
                index=len(originals),
                name=" ".join([*words, suffix]),
                website=f"https://www.{domain}" if rng.random() < 0.85 else "",
                tax_id=f"{country}{rng.randrange(10**8, 10**9)}" if rng.random() < 0.6 else "",
                country=country,
            )
        )
        parts.append((words, suffix))
    rows = list(originals)
    for source in rng.sample(range(len(originals)), duplicates):
        original = originals[source]
        words, suffix = _variant(*parts[source], rng)
        domain = original.website.removeprefix("https://www.")
        roll = rng.random()
        if not domain or roll < 0.25:
            website = ""
        elif roll < 0.80:
            website = rng.choice((f"https://www.{domain}", f"http://{domain}", f"www.{domain}/"))
        else:
            website = domain
        roll = rng.random()
        tax_id = original.tax_id if roll < 0.5 else ""
        if tax_id and rng.random() < 0.3:
            tax_id = f"{tax_id[:2]} {tax_id[2:5]}-{tax_id[5:]}"  # same id, other spelling
        rows.append(
            Row(
                index=len(rows),
                name=" ".join(w for w in [*words, suffix] if w),
                website=website,
                tax_id=tax_id,
                country=original.country if rng.random() < 0.95 else "",
                original=source,
            )
        )
    order = list(range(len(rows)))
    rng.shuffle(order)
    position = {old: new for new, old in enumerate(order)}
    shuffled = [rows[old] for old in order]
    for new, row in enumerate(shuffled):
        row.index = new
        if row.original is not None:
            row.original = position[row.original]
    return shuffled


def known_pairs(rows: list[Row]) -> set[tuple[int, int]]:
    return {tuple(sorted((row.index, row.original))) for row in rows if row.original is not None}


def evaluate(rows: list[Row], found: set[tuple[int, int]]) -> dict:
    """Precision and recall of ``found`` pairs against the generated truth."""
    truth = known_pairs(rows)
    true_positives = len(found & truth)
    return {
        "pairs_known": len(truth),
        "pairs_found": len(found),
        "true_positives": true_positives,
        "precision": true_positives / len(found) if found else 1.0,
        "recall": true_positives / len(truth) if truth else 1.0,
    }
