"""Billing run over 1,000,000 approved (rated) time entries on PostgreSQL (issue 8).

Side by side, in one run, on one database:

(t) Throughline's billing run (``billing.services.invoice_run.execute_billing_run``: the
    whole run: holds re-check, sweep, drafts, set-based time lines in batches of id ranges
    (about 100,000 entries) with progress, retainers, milestones, totals and tax), at 100,000
    and at 1,000,000 entries;
(a) one hand-written statement doing the same join (entry → project → contract → the group's
    draft → its role line), insert of the 1,000,000 line links and status update of the
    entries to ``invoiced`` (``WITH … INSERT … RETURNING`` then ``UPDATE``; drafts and lines
    made beforehand, untimed);
(b) a per-entry ORM loop (find the draft, get or create the line, create the link, save the
    entry), timed on a sample and extrapolated.

Each measurement runs in its own process so that its peak RSS (``ru_maxrss``) is its own.
Targets (issue 8): (t) within 2x of (a), at least 20x faster than (b), peak RSS under 300 MB,
100k → 1M growing at most 11x. Figures go to stdout and to the "Billing run" section of
docs/benchmarks.md (between its markers; the rest of the file is kept).

Environment: BENCH_BILLING_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/throughline_bench_billing, dropped and made afresh each run),
BENCH_BILLING_ENTRIES (1000000), BENCH_BILLING_SMALL
(100000), BENCH_BILLING_SAMPLE (2000), BENCH_BILLING_WRITE (1: write the doc; 0: print only).
Command: ``.venv/bin/python bench/billing_run.py`` (also run by ``make bench``).
"""

import json
import os
import platform
import resource
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/throughline_bench_billing"
ENTRIES = int(os.environ.get("BENCH_BILLING_ENTRIES", "1000000"))
SMALL = int(os.environ.get("BENCH_BILLING_SMALL", "100000"))
SAMPLE = int(os.environ.get("BENCH_BILLING_SAMPLE", "2000"))
WRITE = os.environ.get("BENCH_BILLING_WRITE", "1") == "1"
CUSTOMERS = 100  # one T&M contract and project each: 100 drafts
ROLES = ("analyst", "consultant", "senior-consultant", "manager", "partner")
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = (
    "<!-- billing-bench:begin (written by bench/billing_run.py) -->",
    "<!-- billing-bench:end -->",
)


def log(message: str) -> None:
    print(f"[billing bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def configure() -> None:
    # Its own variable: `make bench` (bench/run.py) exports DATABASE_URL for its own database,
    # which this script must never drop.
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_BILLING_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        sys.exit("the billing bench measures PostgreSQL: DATABASE_URL must be a postgres:// URL")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG keeps every query in memory
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("THROUGHLINE_VAR_DIR", str(ROOT / "var" / "bench-billing"))
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, str(ROOT))


def ensure_database() -> None:
    import psycopg

    url = urllib.parse.urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"fresh database {name}; migrating")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        check=True,
        timeout=900,
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- child processes -----------------------------------------------------------------------------
def setup_django():
    import django

    django.setup()


def seed_world() -> None:
    """Entity, card with five roles, 100 customers with a T&M contract and project each."""
    from datetime import date
    from decimal import Decimal

    from billing.models import (
        Contract,
        Phase,
        Project,
        ProjectTemplate,
        Rate,
        RateCard,
        RateCardVersion,
        Role,
    )
    from mdm.models import Customer, LegalEntity

    entity = LegalEntity.objects.create(
        code="US01", name="Acme", country="US", currency="USD", tax_jurisdictions=["US-NY"]
    )
    card = RateCard.objects.create(
        code="US-STD", legal_entity=entity, currency="USD", is_standard=True
    )
    version = RateCardVersion.objects.create(card=card, valid_from=date(2026, 1, 1))
    for number, code in enumerate(ROLES):
        role = Role.objects.create(code=code, name=code)
        Rate.objects.create(version=version, role=role, hourly=Decimal(100 + 25 * number))
    template = ProjectTemplate.objects.create(
        code="TM", name="TM", billing_models=["time_and_materials"]
    )
    for number in range(CUSTOMERS):
        customer = Customer.objects.create(name=f"Customer {number:03d}")
        contract = Contract.objects.create(
            crm_opportunity_id=f"OPP-{number}",
            crm_account_id=f"ACC-{number}",
            name=f"Deal {number}",
            customer=customer,
            legal_entity=entity,
            billing_model="time_and_materials",
            currency="USD",
            amount=Decimal("1000000"),
            close_date=date(2026, 1, 1),
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
            tax_jurisdiction="US-NY",
        )
        project = Project.objects.create(
            contract=contract,
            customer=customer,
            template=template,
            name=f"Project {number}",
            psa_project_id=f"PRJ-{number}",
            status="active",
        )
        Phase.objects.create(project=project, code="DISC", name="Discovery")


def add_entries(first: int, last: int) -> None:
    """Rated November entries ``first``..``last`` (as the event path leaves them), in SQL."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM billing_ratecardversion LIMIT 1")
        version = cursor.fetchone()[0]
        cursor.execute("SELECT MIN(id) FROM billing_project")
        project0 = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO billing_timeentry (
                psa_time_entry_id, psa_project_id, phase_code, person_email, role, work_date,
                hours, is_billable, category, notes, approved_at, approved_by,
                retraction_reason, status, hold_reason, project_id, rate_card_version_id, rate,
                billed_hours, amount, currency, cost_amount, cost_currency, hold_key,
                write_off_reason, rated_at, trace_id, created_at, updated_at)
            SELECT 'TE-' || g, 'PRJ-' || (g %% %(customers)s), 'DISC',
                   'p' || (g %% 400) || '@acme.example', r.code,
                   DATE '2026-11-01' + (g %% 30), h.hours, TRUE, 'delivery', '', now(), 'pm',
                   '', 'rated', '', %(project0)s + (g %% %(customers)s), %(version)s, r.hourly,
                   h.hours, round(h.hours * r.hourly, 2), 'USD', round(h.hours * 80, 2), 'USD',
                   '', '', now(), '', now(), now()
            FROM generate_series(%(first)s, %(last)s) g
            CROSS JOIN LATERAL (SELECT ((g %% 32) + 1) * 0.25 AS hours) h
            JOIN LATERAL (
                SELECT ro.code, ra.hourly FROM billing_rate ra
                JOIN billing_role ro ON ro.id = ra.role_id
                WHERE ra.version_id = %(version)s
                ORDER BY ro.code OFFSET (g %% 5) LIMIT 1
            ) r ON TRUE
            """,
            {
                "customers": CUSTOMERS,
                "project0": project0,
                "version": version,
                "first": first,
                "last": last,
            },
        )
        # Setup, untimed: fresh statistics for every table (the world's small tables too), as
        # autovacuum would have them in a running system; both sides are measured after it.
        cursor.execute("ANALYZE")


def reset() -> None:
    """Back to "rated, on no line": what every measurement starts from."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE billing_invoicelineentry, billing_invoiceline CASCADE")
        cursor.execute("DELETE FROM billing_invoice")
        cursor.execute("DELETE FROM billing_billingrun")
        cursor.execute("UPDATE billing_timeentry SET status = 'rated' WHERE status <> 'rated'")
    connection.close()
    import psycopg

    with psycopg.connect(
        os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1), autocommit=True
    ) as conn:
        conn.execute("VACUUM ANALYZE billing_timeentry")
        conn.execute("VACUUM ANALYZE billing_invoicelineentry")


def measure_throughline() -> dict:
    from datetime import date

    from billing.models import BillingRun, InvoiceLineEntry
    from billing.services.invoice_run import execute_billing_run

    run = BillingRun.objects.create(period=date(2026, 11, 1))
    started = time.perf_counter()
    run = execute_billing_run(run_id=run.pk)
    seconds = time.perf_counter() - started
    assert run.status == "finished", run.error
    links = InvoiceLineEntry.objects.count()
    return {"seconds": seconds, "links": links, "counts": run.counts}


def measure_sql() -> dict:
    """Drafts and role lines first (untimed), then the one timed INSERT … SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_invoice (customer_id, legal_entity_id, currency, tax_jurisdiction,
                period, sequence, status, invoice_date, net_total, tax_total, gross_total,
                erp_invoice_id, number, trace_id, created_at, updated_at)
            SELECT c.customer_id, c.legal_entity_id, c.currency, c.tax_jurisdiction,
                   DATE '2026-11-01', 1, 'draft', DATE '2026-11-30', 0, 0, 0, '', '', '',
                   now(), now()
            FROM billing_contract c
            """
        )
        cursor.execute(
            """
            INSERT INTO billing_invoiceline (invoice_id, kind, description, contract_id, role,
                person_email, hours, rate, amount, group_key)
            SELECT i.id, 'time', r.code, c.id, r.code, '', 0, ra.hourly, 0,
                   c.id || ':' || r.code
            FROM billing_contract c
            JOIN billing_invoice i ON i.customer_id = c.customer_id
            CROSS JOIN billing_rate ra JOIN billing_role r ON r.id = ra.role_id
            """
        )
        started = time.perf_counter()
        # The same join and insert as the run, and the same status update (an entry on a line
        # is `invoiced`), in one statement.
        cursor.execute(
            """
            WITH linked AS (
                INSERT INTO billing_invoicelineentry (line_id, time_entry_id, hours, amount,
                    is_active)
                SELECT l.id, te.id, te.billed_hours, te.amount, TRUE
                FROM billing_timeentry te
                JOIN billing_project p ON p.id = te.project_id
                JOIN billing_contract c ON c.id = p.contract_id
                JOIN billing_invoice i ON i.customer_id = c.customer_id
                     AND i.legal_entity_id = c.legal_entity_id AND i.currency = c.currency
                     AND i.tax_jurisdiction = c.tax_jurisdiction AND i.period = DATE '2026-11-01'
                     AND i.status = 'draft'
                JOIN billing_invoiceline l ON l.invoice_id = i.id
                     AND l.group_key = c.id || ':' || te.role
                WHERE te.status = 'rated'
                  AND te.work_date BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'
                RETURNING time_entry_id
            )
            UPDATE billing_timeentry t SET status = 'invoiced', updated_at = now()
            FROM linked WHERE t.id = linked.time_entry_id
            """
        )
        seconds = time.perf_counter() - started
        links = cursor.rowcount
    return {"seconds": seconds, "links": links}


def measure_orm_loop() -> dict:
    """The naive way: one entry at a time through the ORM (a sample, extrapolated)."""
    from datetime import date

    from django.db import transaction

    from billing.models import Invoice, InvoiceLine, InvoiceLineEntry, TimeEntry

    started = time.perf_counter()
    done = 0
    with transaction.atomic():
        for entry in TimeEntry.objects.filter(status="rated").select_related("project__contract")[
            :SAMPLE
        ]:
            contract = entry.project.contract
            invoice, _ = Invoice.objects.get_or_create(
                customer_id=contract.customer_id,
                legal_entity_id=contract.legal_entity_id,
                currency=contract.currency,
                tax_jurisdiction=contract.tax_jurisdiction,
                period=date(2026, 11, 1),
                status="draft",
                defaults={"invoice_date": date(2026, 11, 30)},
            )
            line, _ = InvoiceLine.objects.get_or_create(
                invoice=invoice,
                group_key=f"{contract.pk}:{entry.role}:{entry.rate}",
                defaults={
                    "kind": "time",
                    "description": entry.role,
                    "contract": contract,
                    "role": entry.role,
                    "rate": entry.rate,
                    "amount": 0,
                },
            )
            InvoiceLineEntry.objects.create(
                line=line, time_entry=entry, hours=entry.billed_hours, amount=entry.amount
            )
            line.amount += entry.amount
            line.save(update_fields=["amount"])
            entry.status = "invoiced"
            entry.save(update_fields=["status", "updated_at"])
            done += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "sample": done}


def seed() -> dict:
    seed_world()
    add_entries(1, SMALL)
    return {}


CHILD_STEPS = {
    "seed": seed,
    "grow": lambda: add_entries(SMALL + 1, ENTRIES) or {},
    "reset": lambda: reset() or {},
    "throughline": measure_throughline,
    "sql": measure_sql,
    "orm": measure_orm_loop,
}


def child_main(step: str) -> None:
    setup_django()
    result = CHILD_STEPS[step]() or {}
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result, default=str), flush=True)


def run_step(step: str) -> dict:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, __file__, "--child", step],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if completed.returncode != 0:
        sys.exit(f"step {step} failed:\n{completed.stderr[-4000:]}")
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    log(f"{step}: {time.perf_counter() - started:.1f} s wall, {json.dumps(result)[:200]}")
    return result


# --- report --------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(small: dict, large: dict, sql: dict, orm: dict) -> str:
    per_entry = orm["seconds"] / max(orm["sample"], 1)
    orm_projected = per_entry * ENTRIES
    ratio_sql = large["seconds"] / sql["seconds"]
    ratio_orm = orm_projected / large["seconds"]
    growth = large["seconds"] / small["seconds"]
    rss = max(small["peak_rss_mb"], large["peak_rss_mb"])
    now = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    pg = _postgres_version()
    return "\n".join(
        [
            BEGIN,
            "## Billing run (`bench/billing_run.py`)",
            "",
            f"Run {now} with `.venv/bin/python bench/billing_run.py` (also part of `make bench`),"
            f" PostgreSQL {pg}, one process per measurement; {ENTRIES:,} rated time entries of one"
            f" month, {CUSTOMERS} customers with one T&M contract each, 5 roles, lines per role.",
            "",
            "| measure | figure | target | |",
            "|---|---:|---|---|",
            f"| Throughline billing run, {ENTRIES:,} entries | {large['seconds']:.1f} s "
            f"({large['links']:,} links) | | |",
            f"| (a) one hand-written statement (same join, same links, same status update) | "
            f"{sql['seconds']:.1f} s | | |",
            f"| run / (a) | {ratio_sql:.2f}x | ≤ 2x | {verdict(ratio_sql <= 2)} |",
            f"| (b) per-entry ORM loop, {orm['sample']:,} sampled, projected to {ENTRIES:,} | "
            f"≈ {orm_projected / 60:.0f} min ({per_entry * 1000:.2f} ms/entry) | | |",
            f"| (b) / run | {ratio_orm:.0f}x faster | ≥ 20x | {verdict(ratio_orm >= 20)} |",
            f"| peak RSS of the run process | {rss:.0f} MB | < 300 MB | {verdict(rss < 300)} |",
            f"| {SMALL:,} → {ENTRIES:,}: {small['seconds']:.1f} s → {large['seconds']:.1f} s | "
            f"{growth:.1f}x | ≤ 11x | {verdict(growth <= 11)} |",
            "",
            "- The run is the whole workflow (holds re-check, sweep, drafts, time lines in "
            "batches of id ranges of about 100,000 entries with progress saved after each, "
            "retainers, milestones, totals and tax). (a) is one `WITH linked AS (INSERT … SELECT "
            "… RETURNING time_entry_id) UPDATE billing_timeentry …`: the same join, links and "
            "status update in one statement, as PostgreSQL plans it (a nested loop per project, "
            "so at 1M it revisits pages that no longer fit in shared_buffers).",
            "- `status` is in no index of `billing_timeentry` and the table has fillfactor 50, so "
            "marking entries `invoiced` is a HOT update for both (t) and (a) (migration "
            "billing 0005; docs/billing.md, Performance).",
            f"- Run counts: {json.dumps(large['counts'])}.",
            f"- Machine: {os.cpu_count()} cores ({platform.machine()}), shared with PostgreSQL and "
            f"other work; treat ±10% as noise.",
            END,
        ]
    )


def _postgres_version() -> str:
    import psycopg

    url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def main() -> None:
    configure()
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
        return
    ensure_database()
    run_step("seed")
    small = run_step("throughline")
    run_step("reset")
    run_step("grow")
    run_step("reset")
    sql = run_step("sql")
    run_step("reset")
    large = run_step("throughline")
    run_step("reset")
    orm = run_step("orm")
    section = report(small, large, sql, orm)
    print(section)
    if WRITE:
        write_doc(section)
        log(f"wrote the Billing run section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
