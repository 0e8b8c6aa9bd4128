"""Invoices posted to a live Tryton: one call per record, the connector's path, and batched.

``python bench/tryton.py`` (the last target of ``make bench``; ``BENCH_TRYTON=0`` skips it): its
own Tryton under ``var/bench/``, N invoices of L lines posted three ways (docs/benchmarks.md).
Environment: BENCH_TRYTON_INVOICES (200), _LINES (50), _CHUNK (10: one ``post`` of 10 takes a
minute or two, under the server's 300 s timeout), _CUSTOMERS (20), _PORT (free), _DOC=0 (print).
"""

import hashlib
import json
import os
import platform
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from importlib import metadata
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integrations.connectors.base import ConnectorError  # noqa: E402 the path first
from integrations.connectors.tryton import erp, mapping, setup  # noqa: E402
from integrations.connectors.tryton import server as harness  # noqa: E402
from integrations.connectors.tryton.client import TrytonClient  # noqa: E402
from integrations.connectors.tryton.errors import TrytonUserWarning  # noqa: E402

INVOICES = int(os.environ.get("BENCH_TRYTON_INVOICES", "200"))
LINES = int(os.environ.get("BENCH_TRYTON_LINES", "50"))
CHUNK = int(os.environ.get("BENCH_TRYTON_CHUNK", "10"))
CUSTOMERS = int(os.environ.get("BENCH_TRYTON_CUSTOMERS", "20"))
PORT = int(os.environ.get("BENCH_TRYTON_PORT", "0")) or None
PASSWORD = "throughline-bench-tryton"  # not the tests' default: no other client logs in to it
TAX_RATE, CENT = Decimal("0.08875"), Decimal("0.01")  # the set-up's "Sales tax US-NY"
RATES = (Decimal("125.00"), Decimal("150.00"), Decimal("185.50"), Decimal("210.20"))
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- tryton:begin -->", "<!-- tryton:end -->"
METHODS = {"a": "(a) one call per record", "b": "(b) connector's path (`erp.create_invoice`)",
           "c": "(c) batched across invoices"}  # fmt: skip
REFUSED: list[str] = []  # (b)'s deliveries that failed once, then were delivered again


def log(message: str) -> None:
    print(f"[tryton bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class CountingSession(requests.Session):
    """Counts its POSTs (one per JSON-RPC call) and adds up their seconds by method."""

    def __init__(self) -> None:
        super().__init__()
        self.calls, self.seconds = 0, {}

    def post(self, url, data=None, **kwargs):  # type: ignore[override]
        self.calls += 1
        found = re.search(rb'"method":"model\.([^"]+)"', (data or b"")[:200])
        method = found.group(1).decode() if found else "other"
        started = time.perf_counter()
        answer = super().post(url, data=data, **kwargs)
        self.seconds[method] = self.seconds.get(method, 0.0) + time.perf_counter() - started
        return answer


def new_client(server: harness.TrytonServer) -> tuple[TrytonClient, CountingSession]:
    session = CountingSession()
    client = TrytonClient(base_url=server.url, database=server.database, session=session,
                          username=server.username, password=server.password, timeout=900.0)  # fmt: skip
    client.context  # noqa: B018 logged in, the preferences fetched, as a warm connector is
    return client, session


def make_payload(run: str, method: str, number: int, customer: str, day: str) -> dict:
    """An ``erp.invoice.create`` payload as billing's ``_erp_payload`` builds it: time lines
    (hours × rate, exact to the cent) and every tenth line a fixed-amount milestone."""
    lines = []
    for j in range(LINES):
        if j % 10 == 9:
            amount = Decimal(1000 + (number * 37 + j * 11) % 900) + Decimal(j) / 100
            hours = rate = None
            kind, role, text = "milestone", "", f"Milestone {j + 1}"
        else:
            hours = Decimal(1 + (number * 7 + j * 3) % 16) / 2
            rate = RATES[(number + j) % len(RATES)]
            amount = hours * rate
            kind, role, text = "time", "consultant", f"Consulting, week {j + 1}"
        lines.append({
            "line_id": f"{run}-{method}-{number}-{j}", "kind": kind, "description": text,
            "role": role, "hours": None if hours is None else str(hours.quantize(CENT)),
            "rate": None if rate is None else str(rate), "amount": str(amount.quantize(CENT)),
        })  # fmt: skip
    net = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    tax = (net * TAX_RATE).quantize(CENT, rounding=ROUND_HALF_EVEN)  # one rounding per document
    return {
        "invoice_id": f"{run}-{method}-{number}", "customer_id": customer,
        "customer_throughline_id": customer, "erp_customer_id": None, "legal_entity": "US",
        "currency": "USD", "tax_jurisdiction": "US-NY", "invoice_date": day,
        "period": day[:7], "net_total": str(net), "tax_total": str(tax),
        "gross_total": str(net + tax), "lines": lines,
    }  # fmt: skip


def prepare(client: TrytonClient, run: str, fixture: dict):
    """The run's customers (one create), the connector's lookups filled (as in a process that
    has delivered before) and the parties' invoicing values, read once (for (a) and (c))."""
    options = {
        "instance": f"BENCH{run}:", "service_product": "SERVICE",
        "taxes": {"US-NY": "Sales tax US-NY"}, "acknowledge_warnings": ["invoice_taxes"],
    }  # fmt: skip
    customers = [f"C{run}{i:03d}" for i in range(CUSTOMERS)]
    codes = [mapping.party_code(options, code) for code in customers]
    parties = client.model("party.party")
    parties.create([
        {"name": f"Bench customer {code}", "code": code, "addresses": [["create", [{}]]],
         "customer_payment_term": fixture["payment_terms"]["Net 30"]}
        for code in codes
    ])  # fmt: skip
    lookups = setup.Lookups(company=int(client.context["company"]), options=options)
    for fill, *args in ((setup.currency, "USD"), (setup.tax, "Sales tax US-NY"),
                        (setup.product, "SERVICE"), (setup.journal,)):  # fmt: skip
        fill(client, lookups, *args)
    receivable = setup.default_receivable(client, lookups)
    fields = ["code", "addresses", "account_receivable", "customer_payment_term"]
    rows = parties.search_read([("code", "in", codes)], fields)
    by_customer = {
        row["code"].removeprefix(options["instance"]): {
            "id": row["id"],
            "address": row["addresses"][0],
            "term": row["customer_payment_term"],
            "receivable": row["account_receivable"] or receivable,
        }  # fmt: skip
        for row in rows
    }
    return lookups, customers, by_customer


def document(lookups: setup.Lookups, payload: dict, party: dict) -> tuple[dict, list[dict]]:
    """What ``erp.invoice_values`` builds, from the lookups and a party read once (no call):
    the invoice without its lines, and its lines."""
    options = lookups.options
    currency_id, digits = lookups.currencies[payload["currency"]]
    names = mapping.tax_names(options, payload["tax_jurisdiction"])
    taxes = [lookups.taxes[name] for name in names]
    lines = [
        mapping.invoice_line(line, lookups.products[mapping.product_code(options, line)],
                             taxes, digits)
        for line in payload["lines"]
    ]  # fmt: skip
    header = {
        "type": "out", "company": lookups.company, "party": party["id"],
        "invoice_address": party["address"], "account": party["receivable"],
        "currency": currency_id, "journal": lookups.journal,
        "invoice_date": mapping.parse_date(payload["invoice_date"]),
        "reference": mapping.invoice_reference(options, payload["invoice_id"]),
        "description": mapping.invoice_description(payload), "payment_term": party["term"],
    }  # fmt: skip
    return header, lines


def post(client: TrytonClient, ids: list[int]) -> None:
    """``post`` ``ids``, acknowledging each tax warning Tryton raises (the connector's way)."""
    answered: set[str] = set()
    while True:
        try:
            client.model("account.invoice").button("post", ids)
            return
        except TrytonUserWarning as warning:
            if not warning.key.endswith(".invoice_taxes") or warning.key in answered:
                raise
            answered.add(warning.key)
            ack = {"user": client.user_id, "name": warning.key, "always": False}
            client.model("res.user.warning").create([ack])


def progress(done: int, total: int) -> None:
    if done % 25 == 0 or done == total:
        log(f"  {done}/{total} invoices")


def per_record(client, lookups, payloads: list[dict], parties: dict) -> list[int]:
    invoices, lines = client.model("account.invoice"), client.model("account.invoice.line")
    ids = []
    for payload in payloads:
        header, values = document(lookups, payload, parties[payload["customer_id"]])
        (invoice_id,) = invoices.create([header])
        for line in values:
            lines.create([{**line, "invoice": invoice_id, "currency": header["currency"]}])
        post(client, [invoice_id])
        ids.append(invoice_id)
        progress(len(ids), len(payloads))
    return ids


def connector(client, lookups, payloads: list[dict], parties: dict) -> list[int]:
    ids = []
    for payload in payloads:
        try:
            delivered = erp.create_invoice(client, lookups, payload)
        except ConnectorError as exc:  # counted; the outbox would deliver it again: so here
            REFUSED.append(f"(b) {payload['invoice_id']} failed once: {exc}")
            delivered = erp.create_invoice(client, lookups, payload)
        ids.append(int(delivered.external_id))
        progress(len(ids), len(payloads))
    return ids


def batched(client, lookups, payloads: list[dict], parties: dict) -> list[int]:
    """Per chunk: create with the lines nested, acknowledge its tax warnings in one call (the
    key Tryton gives an existing invoice, ``res.user.warning.format``), post; one read."""
    invoices, ids = client.model("account.invoice"), []
    for start in range(0, len(payloads), CHUNK):
        values = []
        for payload in payloads[start : start + CHUNK]:
            header, lines = document(lookups, payload, parties[payload["customer_id"]])
            values.append({**header, "lines": [["create", lines]]})
        made = invoices.create(values)
        client.model("res.user.warning").create([
            {"user": client.user_id, "always": False, "name": hashlib.md5(  # noqa: S324
                f"account.invoice,{invoice_id}".encode()).hexdigest() + ".invoice_taxes"}
            for invoice_id in made
        ])  # fmt: skip
        post(client, made)  # a key not foreseen is still answered, one warning at a time
        ids += made
        progress(len(ids), len(payloads))
    invoices.read(ids, erp.INVOICE_FIELDS)
    return ids


WAYS = {"a": per_record, "b": connector, "c": batched}


def measure(server, method: str, lookups, payloads: list[dict], parties: dict) -> dict:
    client, session = new_client(server)
    session.calls, session.seconds = 0, {}
    started = time.perf_counter()
    ids = WAYS[method](client, lookups, payloads, parties)
    seconds = time.perf_counter() - started
    calls = session.calls
    result = {
        "seconds": round(seconds, 2), "calls": calls,
        "calls_per_invoice": round(calls / len(payloads), 2),
        "invoices_per_minute": round(len(payloads) * 60 / seconds, 2),
        "seconds_by_method": {k: round(v, 1) for k, v in session.seconds.items()}, "ids": ids,
    }  # fmt: skip
    log(f"{METHODS[method]}: {seconds:.1f} s, {calls} calls, {result['invoices_per_minute']} "
        f"invoices/min; seconds by method {result['seconds_by_method']}")  # fmt: skip
    return result


def verify(client, lookups, payloads: list[dict], ids: list[int]) -> list[str]:
    """Every invoice posted, with its lines and the totals computed here."""
    fields = ["reference", "state", "untaxed_amount", "tax_amount", "total_amount", "lines"]
    rows = {row["reference"]: row for row in client.model("account.invoice").read(ids, fields)}
    problems = []
    for payload in payloads:
        reference = mapping.invoice_reference(lookups.options, payload["invoice_id"])
        row = rows.get(reference) or {"state": "missing", "lines": []}
        want = tuple(Decimal(payload[k]) for k in ("net_total", "tax_total", "gross_total"))
        got = tuple(row.get(k) for k in ("untaxed_amount", "tax_amount", "total_amount"))
        if row["state"] != "posted" or got != want or len(row["lines"]) != len(payload["lines"]):
            problems.append(f"{reference}: {row['state']}, {len(row['lines'])} lines, "
                            f"totals {got} (wanted {want})")  # fmt: skip
    return problems


def machine() -> dict:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    kib = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return {
        "nproc": len(os.sched_getaffinity(0)), "cpu": cpu.group(1) if cpu else platform.machine(),
        "ram_gib": round(int(kib.group(1)) / 2**20, 1) if kib else "?",
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(), "trytond": metadata.version("trytond"),
    }  # fmt: skip


SECTION = """\
## Tryton connector: invoices posted, batched vs one call per record (`bench/tryton.py`)

Run {when} with `.venv/bin/python bench/tryton.py` (also the last target of `make bench`;
`BENCH_TRYTON=0` skips it). {n} invoices × {lines} lines each way, {customers} customers, on one
live Tryton {trytond} started by the bench under `var/bench/` (SQLite, gunicorn with one sync
worker, as `TrytonServer` runs it); every line taxed US-NY 8.875%, rounded per document. The
ways run one after another on the same database, (c) last.

{table}

- Target ≥ 10x against (a): (b) {verdict_b} it ({ratio_a_b:.2f}x), (c) {verdict_c} it
  ({ratio_a_c:.2f}x). (c) in chunks of {chunk} invoices per `create` and per `post`. Calls are
  JSON-RPC requests, counted and timed at the HTTP session. The `invoice_taxes` warning (taxes by
  jurisdiction) is answered as the connector does (`post` fails, a `res.user.warning`, `post`
  again); (c) answers its chunk's in one call.
- Checked after each way: all {all_n} invoices `posted`, {lines} lines each, untaxed, tax and
  total as the bench computed them: {checked}.
- Where the time goes: `post` took {a_share:.0%} of (a)'s time, {b_share:.0%} of (b)'s, {c_share:.0%} of
  (c)'s; (a)'s {line_calls:,} one-line `create` calls took {line_ms:.0f} ms each. Batching cuts the
  calls per invoice ({a_cpi:g} → {b_cpi:g} → {c_cpi:g}), not Tryton's work to post an invoice.
- Why `post` costs so much (read in trytond 8.2): a transaction learns the locks it needs by
  failing: posting meets the strict invoice sequence, then the move's, and each time the call is
  rolled back and run again with that lock. It also recomputes the taxes several times, builds
  and posts the move and renders the invoice report (a queue task run in the same request when
  no Tryton worker runs). A chunk's `post` pays the restarts once: most of (c)'s gain.
- The bench's Tryton runs with `[cache] clean_timeout` 10⁹ s: on SQLite, the transaction that
  starts when the 300 s cache clean is due runs in autocommit (trytond 8.2.1 `Cache.sync` sets the
  one shared connection's `isolation_level` to None), so a `post` restarted for a lock finds its
  invoice already posted ("You can not call post"). That stopped two earlier runs.
- The product does (b) today: one `erp.invoice.create` per invoice, its lines in one `create`.
  (c) would need the outbox to hand several messages of one system to one connector call
  (create all, post all, read all, finish each message with its own result; one refused
  invoice rolls the whole call back, so a failed chunk is delivered again one by one).
- Machine: `nproc` {nproc}, {cpu}, {ram_gib} GiB RAM; load average at the start {load}; Python
  {python}. The bench, gunicorn and Tryton share the cores."""


def section(result: dict) -> str:
    r, n = result["methods"], result["invoices"]
    post_s = {k: way["seconds_by_method"].get("account.invoice.post", 0.0) for k, way in r.items()}
    rows = ["| way | wall s | of which `post` s | calls | calls / invoice | invoices / min "
            "| (a) / this |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for key, name in METHODS.items():
        m = r[key]
        rows.append(f"| {name} | {m['seconds']:,.1f} | {post_s[key]:,.1f} | {m['calls']:,} "
                    f"| {m['calls_per_invoice']:g} | {m['invoices_per_minute']:,.1f} "
                    f"| {r['a']['seconds'] / m['seconds']:.2f}x |")  # fmt: skip
    line_s = r["a"]["seconds_by_method"].get("account.invoice.line.create", 0.0)
    text = SECTION.format(
        **result, **result["machine"], table="\n".join(rows), n=n, all_n=3 * n,
        **{f"verdict_{k}": "meets" if result[f"ratio_a_{k}"] >= 10 else "does **not** meet"
           for k in "bc"},
        checked="yes" if not result["problems"] else "NO: " + "; ".join(result["problems"][:5]),
        line_ms=line_s * 1000 / max(n * result["lines"], 1), line_calls=n * result["lines"],
        **{f"{k}_share": post_s[k] / r[k]["seconds"] for k in r},
        **{f"{k}_cpi": r[k]["calls_per_invoice"] for k in r},
    )  # fmt: skip
    return f"{BEGIN}\n{text}\n{END}"


def write_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in doc and END in doc:
        DOC.write_text(doc[: doc.index(BEGIN)] + text + doc[doc.index(END) + len(END) :])
    else:
        DOC.write_text(doc.rstrip("\n") + "\n\n" + text + "\n")


def run(server: harness.TrytonServer) -> dict:
    fixture = server.ensure_database()
    server.start()
    client, _ = new_client(server)
    run_id = uuid.uuid4().hex[:8].upper()  # this run's references: runs never meet
    day = datetime.now(tz=UTC).date().isoformat()  # the company keeps its books in UTC
    lookups, customers, parties = prepare(client, run_id, fixture)
    result = {"invoices": INVOICES, "lines": LINES, "chunk": CHUNK, "customers": CUSTOMERS,
              "machine": machine(), "methods": {}, "problems": []}  # fmt: skip
    for method in METHODS:
        payloads = [make_payload(run_id, method, i, customers[i % CUSTOMERS], day)
                    for i in range(INVOICES)]  # fmt: skip
        measured = measure(server, method, lookups, payloads, parties)
        result["problems"] += verify(client, lookups, payloads, measured.pop("ids"))
        result["methods"][method] = measured
    result["problems"] += REFUSED
    result["when"] = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return result


def main() -> int:
    try:
        harness.check_available()
    except harness.TrytonUnavailable as exc:
        log(f"skipped: {exc}")
        print("RESULT " + json.dumps({"skipped": str(exc)}), flush=True)
        return 0
    os.environ.setdefault("TRYTOND_LOGGING_LEVEL", "20")  # the server logs each call, in ms
    os.environ.setdefault("TRYTOND_CACHE__CLEAN_TIMEOUT", str(10**9))  # see SECTION, SQLite
    server = harness.TrytonServer(ROOT / "var" / "bench", port=PORT, password=PASSWORD)
    try:
        result = run(server)
    except BaseException:
        server.stop()  # then its log's last lines, before the working copy goes
        if (server_log := server.data_dir / "trytond.log").exists():
            print("\n".join(server_log.read_text(errors="replace").splitlines()[-60:]))
        raise
    finally:
        server.discard()  # stopped and its working copy removed, also on error or Ctrl-C
    seconds = {key: way["seconds"] for key, way in result["methods"].items()}
    result.update({f"ratio_a_{k}": round(seconds["a"] / seconds[k], 2) for k in "bc"})
    print("RESULT " + json.dumps(result), flush=True)
    print(text := section(result))
    if os.environ.get("BENCH_TRYTON_DOC", "1") != "0":
        write_doc(text)
        log(f"written to {DOC.relative_to(ROOT)}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
