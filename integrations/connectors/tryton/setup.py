"""A Tryton system's settings, and the Tryton ids the connector needs, looked up once.

Settings live in ``ExternalSystem.settings["tryton"]`` (the admin, `systems add --setting`);
the password is a credential (encrypted at rest; the runtime decrypts it and hands it to the
connector):

| key | meaning | default |
|---|---|---|
| ``database`` | the Tryton database name | ``tryton`` |
| ``username`` | the Tryton user (credential ``username`` wins when set) | ``admin`` |
| ``service_product`` | code of the service product every invoice line uses | ``SERVICE`` |
| ``role_products`` | role → product code, where a role bills as its own product | ``{}`` |
| ``taxes`` | tax jurisdiction → Tryton tax name (a jurisdiction not listed: no tax) | ``{}`` |
| ``payment_terms`` | our payment terms → Tryton payment term name | the same name |
| ``journal`` | code of the revenue journal | the first revenue journal |
| ``timeout`` | seconds per call | 30 |

Ids (company, currencies, products, taxes, terms, journal) are read from Tryton the first time
a process needs them and kept for ``LOOKUP_SECONDS``: a changed setting or a renamed record in
Tryton is picked up within that time, or at once after the system is saved.
"""

import threading
import time
from dataclasses import dataclass, field

from integrations.connectors.base import PermanentError
from integrations.connectors.http import peer_session
from integrations.connectors.tryton.client import TrytonClient

LOOKUP_SECONDS = 300.0


@dataclass
class Product:
    id: int
    unit: int
    account: int  # the revenue account of its category


@dataclass
class Lookups:
    """Tryton ids for one system, filled as they are first needed."""

    company: int
    options: dict = field(default_factory=dict)  # the system's settings["tryton"]
    journal: int | None = None
    receivable: int | None = None
    currencies: dict[str, tuple[int, int]] = field(default_factory=dict)  # code → (id, digits)
    products: dict[str, Product] = field(default_factory=dict)
    taxes: dict[str, int] = field(default_factory=dict)
    terms: dict[str, int] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.monotonic)


_lookups: dict[tuple[int, str], Lookups] = {}
_lock = threading.Lock()
_clients = threading.local()  # per thread: a client is not thread-safe, a session is reused


def settings_of(system) -> dict:
    return dict((system.settings or {}).get("tryton", {}))


def client_for(system, credentials: dict[str, str]) -> TrytonClient:
    """This thread's client of ``system`` (one login per process and thread, not per call:
    a login hashes the password, about ten calls' worth); a saved system gets a new one."""
    key = (system.pk, f"{system.updated_at}")
    cached = getattr(_clients, "by_system", None)
    if cached is None:
        cached = _clients.by_system = {}
    if key not in cached:
        for old in [k for k in cached if k[0] == system.pk]:
            del cached[old]
        cached[key] = new_client(system, credentials)
    return cached[key]


def new_client(system, secrets: dict[str, str]) -> TrytonClient:
    """A client logged in lazily as the system's user, through the URL-safe session."""
    options = settings_of(system)
    if not system.base_url:
        raise PermanentError(f"{system.slug} has no base URL: set it in the admin")
    if "password" not in secrets:
        raise PermanentError(f"{system.slug} has no password credential: set it in the admin")
    timeout = float(options.get("timeout", 30))
    return TrytonClient(
        base_url=system.base_url,
        database=options.get("database", "tryton"),
        username=secrets.get("username") or options.get("username", "admin"),
        password=secrets["password"],
        timeout=timeout,
        session=peer_session(timeout=timeout),
    )


def lookups_for(system, client: TrytonClient) -> Lookups:
    key = (system.pk, f"{system.updated_at}")
    with _lock:
        found = _lookups.get(key)
        if found and time.monotonic() - found.loaded_at < LOOKUP_SECONDS:
            return found
    company = client.context.get("company")
    if not company:
        raise PermanentError(f"the Tryton user of {system.slug} has no current company")
    fresh = Lookups(company=int(company), options=settings_of(system))
    with _lock:
        _lookups[key] = fresh
    return fresh


def currency(client: TrytonClient, lookups: Lookups, code: str) -> tuple[int, int]:
    if code not in lookups.currencies:
        rows = client.model("currency.currency").search_read(
            [("code", "=", code)], ["id", "digits"], limit=1
        )
        if not rows:
            raise PermanentError(f"Tryton has no currency {code}: add it in Tryton first")
        lookups.currencies[code] = (rows[0]["id"], int(rows[0]["digits"]))
    return lookups.currencies[code]


def product(client: TrytonClient, lookups: Lookups, code: str) -> Product:
    """The product with ``code``, its unit and the revenue account of its accounting category
    (read as fields: Tryton's ``account_revenue_used`` is not readable over RPC)."""
    if code not in lookups.products:
        rows = client.model("product.product").search_read(
            [("code", "=", code)], ["id", "default_uom", "template.account_category"], limit=1
        )
        if not rows:
            raise PermanentError(f"Tryton has no product with code {code!r} (service product)")
        row = rows[0]
        category = (row.get("template.") or {}).get("account_category")
        account = None
        if category:
            account = client.model("product.category").read([category], ["account_revenue"])[0][
                "account_revenue"
            ]
        if not account:
            raise PermanentError(f"Tryton product {code!r} has no revenue account (its category)")
        lookups.products[code] = Product(id=row["id"], unit=row["default_uom"], account=account)
    return lookups.products[code]


def default_receivable(client: TrytonClient, lookups: Lookups) -> int | None:
    """The company's default receivable account (a party without its own uses it)."""
    if lookups.receivable is None:
        rows = client.model("account.configuration").search_read(
            [], ["default_account_receivable"], limit=1
        )
        lookups.receivable = (rows[0]["default_account_receivable"] if rows else None) or 0
    return lookups.receivable or None


def tax(client: TrytonClient, lookups: Lookups, name: str) -> int:
    if name not in lookups.taxes:
        ids = client.model("account.tax").search(
            [("name", "=", name), ("company", "=", lookups.company)], limit=1
        )
        if not ids:
            raise PermanentError(f"Tryton has no tax named {name!r} (settings taxes)")
        lookups.taxes[name] = ids[0]
    return lookups.taxes[name]


def payment_term(client: TrytonClient, lookups: Lookups, name: str) -> int | None:
    if not name:
        return None
    if name not in lookups.terms:
        ids = client.model("account.invoice.payment_term").search([("name", "=", name)], limit=1)
        if not ids:
            raise PermanentError(f"Tryton has no payment term named {name!r}")
        lookups.terms[name] = ids[0]
    return lookups.terms[name]


def journal(client: TrytonClient, lookups: Lookups, code: str = "") -> int:
    if lookups.journal is None:
        domain = [("type", "=", "revenue")] + ([("code", "=", code)] if code else [])
        ids = client.model("account.journal").search(domain, limit=1, order=[("id", "ASC")])
        if not ids:
            raise PermanentError("Tryton has no revenue journal" + (f" {code!r}" if code else ""))
        lookups.journal = ids[0]
    return lookups.journal


def forget_lookups() -> None:
    with _lock:
        _lookups.clear()
