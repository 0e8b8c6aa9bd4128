"""The fixed parts of the demo firm, Kestrel Partners: entities, rates, clients, names.

Everything that varies (dates, teams, hours) is drawn in ``firm.py`` from a seeded
``random.Random``, so the firm is the same on every machine, its dates relative to today.
"""

from decimal import Decimal

DOMAIN = "kestrel-partners.example"  # people's emails; clients use their own websites

# code, name, country, currency, tax jurisdictions, share of the consultants
ENTITIES = (
    ("KP-US", "Kestrel Partners Inc.", "US", "USD", ("US-NY", "US-CA"), Decimal("0.45")),
    ("KP-GB", "Kestrel Partners Ltd", "GB", "GBP", ("GB",), Decimal("0.30")),
    ("KP-DE", "Kestrel Partners GmbH", "DE", "EUR", ("DE",), Decimal("0.25")),
)
# The same rows as docs/examples/reference.json, so loading both changes nothing twice.
TAX_RATES = (
    ("US-NY", "0.08875"),
    ("US-CA", "0.0725"),
    ("GB", "0.20"),
    ("DE", "0.19"),
)
TAX_RATES_FROM = "2020-01-01"
FX_TO_USD = {"GBP": Decimal("1.27"), "EUR": Decimal("1.08")}  # drifts a little each month

ROLES = (
    ("analyst", "Analyst"),
    ("consultant", "Consultant"),
    ("senior-consultant", "Senior consultant"),
    ("manager", "Engagement manager"),
    ("partner", "Partner"),
)
# Of every 12 consultants: how many hold each role (a pyramid).
ROLE_MIX = (
    "analyst",
    "consultant",
    "senior-consultant",
    "consultant",
    "analyst",
    "manager",
    "consultant",
    "senior-consultant",
    "analyst",
    "consultant",
    "partner",
    "senior-consultant",
)
# Standard hourly rates per entity currency before the mid-year change.
STANDARD_RATES = {
    "USD": {
        "analyst": 120,
        "consultant": 165,
        "senior-consultant": 210,
        "manager": 260,
        "partner": 380,
    },
    "GBP": {
        "analyst": 90,
        "consultant": 125,
        "senior-consultant": 160,
        "manager": 200,
        "partner": 295,
    },
    "EUR": {
        "analyst": 100,
        "consultant": 140,
        "senior-consultant": 180,
        "manager": 225,
        "partner": 330,
    },
}
RATE_RISE = Decimal("1.06")  # the mid-year version: 6 % higher, rounded to 5
COST_SHARE = Decimal("0.45")  # cost rate as a share of the standard rate
CAPACITIES = ("40", "40", "40", "37.5", "32")

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Mara", "Nikhil", "Olivia", "Pavel", "Quinn", "Rosa", "Samir", "Tess",
    "Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Lopez", "Carter", "Nguyen", "Becker", "Rossi", "Haddad", "Okafor", "Lindqvist", "Moreau",
    "Schmidt", "Tanaka", "Walsh", "Kowalski", "Patel", "Hughes", "Novak", "Brennan", "Silva",
    "Fischer", "Adeyemi", "Larsen", "Dubois", "Kaur", "Murphy", "Jansen", "Costa",
)  # fmt: skip

# name, website, industry, country, tax jurisdiction (the entity is the country's)
CLIENTS = (
    ("Globex Corporation", "globex.example", "Manufacturing", "US", "US-NY"),
    ("Northwind Traders", "northwindtraders.example", "Retail", "GB", "GB"),
    ("Initrode Systems", "initrode.example", "Technology", "US", "US-CA"),
    ("Vandelay Industries", "vandelay.example", "Import/export", "US", "US-NY"),
    ("Bergmann Logistik", "bergmann-logistik.example", "Logistics", "DE", "DE"),
    ("Harbourside Energy", "harbourside-energy.example", "Energy", "GB", "GB"),
    ("Contoso Pharmaceuticals", "contoso-pharma.example", "Life sciences", "US", "US-NY"),
    ("Soylent Foods", "soylent.example", "Food", "US", "US-CA"),
    ("Rheinwerk Maschinenbau", "rheinwerk.example", "Engineering", "DE", "DE"),
    ("Blue Meadow Insurance", "bluemeadow.example", "Insurance", "GB", "GB"),
    ("Umbrella Health", "umbrella-health.example", "Healthcare", "US", "US-NY"),
    ("Pinecrest Capital", "pinecrest.example", "Financial services", "US", "US-NY"),
    ("Alpenblick Hotels", "alpenblick.example", "Hospitality", "DE", "DE"),
    ("Thamesgate Housing", "thamesgate.example", "Real estate", "GB", "GB"),
    ("Stark Mobility", "stark-mobility.example", "Automotive", "US", "US-CA"),
    ("Wayfarer Airlines", "wayfarer-air.example", "Aviation", "US", "US-NY"),
    ("Lindenhof Retail", "lindenhof.example", "Retail", "DE", "DE"),
    ("Oakridge University", "oakridge.example", "Education", "GB", "GB"),
    ("Tailspin Toys", "tailspintoys.example", "Consumer goods", "US", "US-CA"),
    ("Cyberdyne Robotics", "cyberdyne.example", "Technology", "US", "US-CA"),
    ("Elbtal Stadtwerke", "elbtal-stadtwerke.example", "Utilities", "DE", "DE"),
    ("Kingsbridge Media", "kingsbridge.example", "Media", "GB", "GB"),
    ("Acumen Biotech", "acumen-bio.example", "Life sciences", "US", "US-NY"),
    ("Redwood Telecom", "redwood-telecom.example", "Telecommunications", "US", "US-CA"),
    ("Fenwick Water", "fenwick-water.example", "Utilities", "GB", "GB"),
    ("Sonnenfeld Solar", "sonnenfeld.example", "Energy", "DE", "DE"),
)
# Accounts a sales rep created a second time: (index in CLIENTS, the second name). The same
# website, so the customer master raises duplicate_customer for each pair.
NEAR_DUPLICATES = (
    (1, "Northwind Traders Ltd"),
    (6, "Contoso Pharmaceuticals Inc."),
    (18, "Tailspin Toys Co"),
    (4, "Bergmann Logistik GmbH"),
)
CONTACT_TITLES = ("CFO", "Head of Finance", "CIO", "Programme Director", "Procurement Lead")

# Client-specific cards: (client index, roles on the card, discount on the standard rate).
# The first has no partner rate and its deal names it, so a partner's time is rate_missing.
CLIENT_CARDS = (
    (0, ("analyst", "consultant", "senior-consultant", "manager"), Decimal("0.92")),
    (5, ("analyst", "consultant", "senior-consultant", "manager", "partner"), Decimal("0.95")),
)
# Client billing rules: (client index, increment, rounding, non-billable categories, grouping)
BILLING_RULES = (
    (0, "0.25", "up", ["travel"], "per_role"),
    (5, "0.50", "nearest", ["travel", "training"], "per_person"),
    (4, "0.25", "up", ["travel"], "per_role"),
    (9, None, "up", ["travel"], "per_entry"),
)

# The 40 projects: billing model and what is special about each (first three: one of each
# model, so a small slice of the firm still has every model).
#   tm, tm_cap (a cap never reached), tm_cap_hit (the cap is reached: not_to_exceed hold),
#   tm_card (names the client card without a partner rate: rate_missing),
#   tm_closed_phase (the PSA closed Discovery; a little time still lands on it),
#   tm_ended (ended two months ago; the PSA closes it), ff, ret, ret_over (overage)
PROJECT_KINDS = (
    "tm", "ff", "ret_over", "tm_cap_hit", "tm_card", "tm_closed_phase", "ff", "ret",
    "tm", "tm_cap", "tm_ended", "ff", "tm", "ret_over", "tm", "ff",
    "tm", "tm_cap", "ret", "tm", "ff", "tm", "ret_over", "tm",
    "ff", "tm", "tm_cap", "ret", "tm", "ff", "tm", "tm",
    "ff", "ret", "tm", "tm_cap", "ff", "tm", "ret_over", "tm",
)  # fmt: skip
PROJECT_WORDS = (
    "ERP rollout", "Finance transformation", "Data platform", "Supply chain review",
    "Cloud migration", "Pricing strategy", "Operating model", "CRM implementation",
    "Cost reduction", "Regulatory readiness", "Customer analytics", "Procurement redesign",
)  # fmt: skip
TEMPLATES = (
    ("KP-TM", "Kestrel time and materials", ["time_and_materials"],
     (("DISC", "Discovery"), ("BUILD", "Build"), ("RUN", "Hypercare"))),
    ("KP-FF", "Kestrel fixed-fee delivery", ["fixed_fee"],
     (("PLAN", "Plan"), ("DELIVER", "Deliver"), ("ACCEPT", "Acceptance"))),
    ("KP-RET", "Kestrel advisory retainer", ["retainer"], (("ADVISE", "Advisory"),)),
)  # fmt: skip
MILESTONES = (
    ("Kick-off", "0.20", "0.05"),
    ("Design sign-off", "0.35", "0.45"),
    ("Go-live", "0.45", "0.90"),
)  # fmt: skip  (name, share of amount, share of term)
HOURS = ("4.00", "4.50", "5.00", "5.50", "6.00", "6.50", "7.00", "7.50", "8.00")
