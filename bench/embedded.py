"""The embedded default's events/s end to end (part of `make bench`; alone:
`.venv/bin/python bench/embedded.py`).

`manage.py run_all --prepare` as `make run` starts it (SQLite, the embedded Valkey broker,
gunicorn gthread 2x4, a prefork worker -c 2, beat) in a temporary folder; BENCH_EMBEDDED_EVENTS
(default 2000) signed approvals posted over HTTP from 8 threads; each becomes an inbound event,
is applied by the worker (the runtime-only handler of bench/plugins.py: one ERP effect per
approval, so the runtime is measured, not billing's rules), and its outbox message is sent to
the sandbox ERP. Events/s = events / seconds from the first post to the last message sent.
Target (issue 12): at least 200 events/s on this machine. Prints a JSON line; with
BENCH_WRITE_DOC=1 (what bench/run.py sets) also writes its section of docs/benchmarks.md.
"""

import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run_all_harness import ROOT, RunAll, write_doc_section  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EMBEDDED_EVENTS", "2000"))
THREADS = 8
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- embedded:begin (written by bench/embedded.py) -->", "<!-- embedded:end -->"


def approval(number: int, tag: str) -> bytes:
    now = datetime.now(tz=UTC)
    return json.dumps(
        {
            "type": "psa.time_entry.approved",
            "timestamp": now.isoformat(),
            "data": {
                "time_entry_id": f"{tag}-{number:06d}",
                "project_id": "PRJ-BENCH",
                "phase_code": "DISC",
                "person_email": "ana@acme.example",
                "role": "consultant",
                "work_date": now.date().isoformat(),
                "hours": "7.50",
                "billable": True,
                "category": "delivery",
                "bill_rate": None,
                "notes": "bench",
                "approved_at": now.isoformat(),
                "approved_by": "pm@acme.example",
            },
        }
    ).encode()


def post_all(url: str, secret: str, count: int, tag: str) -> dict[int, int]:
    """Post ``count`` signed approvals from THREADS threads, each with its own keep-alive
    client (integrations/webhooks/sender.py, the one send_event and the demo use)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from integrations.webhooks.sender import WebhookSender

    local = threading.local()

    def post(number: int) -> int:
        if not hasattr(local, "sender"):
            local.sender = WebhookSender(url, timeout=30)
        delivery = local.sender.send(
            "psa",
            {},
            webhook_id=f"msg_{tag}_{number}",
            secret=secret,
            raw_body=approval(number, tag),
        )
        return delivery.status_code

    codes: dict[int, int] = {}
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for code in pool.map(post, range(count)):
            codes[code] = codes.get(code, 0) + 1
    return codes


def measure(work: Path) -> dict:
    runner = RunAll(work, demo=False, worker_args=("--include=bench.plugins",))
    ready_seconds = runner.start()
    try:
        tag = f"emb{uuid.uuid4().hex[:6]}"
        started = time.monotonic()
        codes = post_all(runner.url, runner.secret("psa"), EVENTS, tag)
        posted = time.monotonic() - started
        if codes.get(202) != EVENTS:
            raise RuntimeError(f"not every delivery was accepted: {codes}")
        deadline = started + 600
        sent = 0
        while time.monotonic() < deadline:
            sent = runner.query(
                "SELECT COUNT(*) FROM integrations_outboxmessage WHERE status = 'sent'"
            )[0][0]
            if sent >= EVENTS:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        if sent < EVENTS:
            raise RuntimeError(f"only {sent} of {EVENTS} sent after {seconds:.0f} s")
        effects = runner.query(
            "SELECT COUNT(DISTINCT idempotency_key), COUNT(*) FROM integrations_sandboxrecord"
        )[0]
        return {
            "events": EVENTS,
            "accepted_per_second": round(EVENTS / posted, 1),
            "seconds": round(seconds, 2),
            "events_per_second": round(EVENTS / seconds, 1),
            "distinct_effects": effects[0],
            "effects": effects[1],
            "ready_seconds": round(ready_seconds, 1),
        }
    finally:
        runner.stop()


def write_doc(result: dict) -> None:
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d")
    section = (
        f"{BEGIN}\n## The embedded default end to end (`make bench`, bench/embedded.py)\n\n"
        f"{when}, {platform.machine()}, {os.cpu_count()} cores; `run_all --prepare` on SQLite "
        "with the embedded Valkey broker, gunicorn gthread 2x4, worker prefork -c 2, beat; "
        f"{result['events']} signed approvals over HTTP from {THREADS} threads, each applied by "
        "the worker and its ERP effect sent to the sandbox.\n\n"
        "| figure | value | target |\n|---|---|---|\n"
        f"| events/s end to end (first post → last message sent) | "
        f"{result['events_per_second']} | ≥ 200 |\n"
        f"| deliveries accepted/s (HTTP 202) | {result['accepted_per_second']} | |\n"
        f"| effects (distinct / all) | {result['distinct_effects']} / {result['effects']} | "
        f"{result['events']} / {result['events']} |\n"
        f"| `run_all --prepare` to /readyz 200 (migrated database) | "
        f"{result['ready_seconds']} s | |\n{END}"
    )
    write_doc_section(DOC, BEGIN, END, section)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tl-embedded-"))
    try:
        result = measure(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    if os.environ.get("BENCH_WRITE_DOC") == "1":
        write_doc(result)


if __name__ == "__main__":
    main()
