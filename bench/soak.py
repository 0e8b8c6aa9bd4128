"""`make soak`: the embedded default for an hour with traffic, its worker killed every 10 minutes.

What a new user gets from `make run`, left running: `run_all --prepare` in a fresh temporary
folder (SQLite, the embedded Valkey broker, gunicorn, a worker, beat), the demo firm loaded,
the traffic simulator on. Every SOAK_SAMPLE_SECONDS (10) the script records /healthz and
/readyz, each child's resident memory (process group), the inbox and outbox by status and the
supervisor's restarts; every SOAK_KILL_EVERY (600) seconds it SIGKILLs the worker and times its
return. It stops by itself after SOAK_SECONDS (3600).

Pass/fail, printed and (SOAK_WRITE_DOC=1, the default for `make soak`) written to
docs/benchmarks.md: crashes = 0 (a child that exited without being killed by the soak), every
killed worker back, the web answering throughout (no /healthz failure), nothing stuck (no
inbound event or outbox message left unfinished once traffic stops and the queue drains),
memory flat (web, beat and broker within 25% + 30 MB of their size after warm-up).
Samples go to SOAK_OUT (default var/soak/samples.csv) for a closer look.
"""

import csv
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run_all_harness import ROOT, RunAll, write_doc_section  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "3600"))
KILL_EVERY = int(os.environ.get("SOAK_KILL_EVERY", "600"))
SAMPLE_EVERY = int(os.environ.get("SOAK_SAMPLE_SECONDS", "10"))
TRAFFIC_INTERVAL = os.environ.get("SOAK_TRAFFIC_INTERVAL", "5")
OUT = Path(os.environ.get("SOAK_OUT", str(ROOT / "var" / "soak" / "samples.csv")))
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- soak:begin (written by bench/soak.py) -->", "<!-- soak:end -->"
WARM_UP = 300  # seconds before memory is taken as the baseline (the demo load settles)


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def counts(runner: RunAll) -> dict:
    inbox = dict(runner.query("SELECT status, COUNT(*) FROM integrations_inboundevent GROUP BY 1"))
    outbox = dict(
        runner.query("SELECT status, COUNT(*) FROM integrations_outboxmessage GROUP BY 1")
    )
    return {"inbox": inbox, "outbox": outbox}


def unfinished(runner: RunAll) -> tuple[int, int]:
    """Inbound events and outbox messages still waiting (neither done nor in a final state that
    needs a person: dead and rejected ones are counted apart, in the final counts)."""
    events = runner.query(
        "SELECT COUNT(*) FROM integrations_inboundevent WHERE status IN ('received', 'processing', 'failed')"
    )[0][0]
    messages = runner.query(
        "SELECT COUNT(*) FROM integrations_outboxmessage WHERE status IN ('pending', 'sending', 'failed')"
    )[0][0]
    return events, messages


def soak(work: Path) -> dict:
    runner = RunAll(work, demo=True)
    started = time.monotonic()
    ready = runner.start(timeout=300)
    log(f"run_all ready in {ready:.0f} s; waiting for the demo firm")
    demo_deadline = time.monotonic() + 600
    while time.monotonic() < demo_deadline:
        if runner.state().get("children", {}).get("demo", {}).get("done"):
            break
        time.sleep(2)
    demo_seconds = time.monotonic() - started
    log(f"demo firm loaded {demo_seconds:.0f} s after start")
    runner.manage("demo", "traffic", "start", "--interval", TRAFFIC_INTERVAL)
    log(f"traffic on every {TRAFFIC_INTERVAL} s; soaking for {SECONDS} s")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    samples: list[dict] = []
    kills: list[dict] = []
    health_failures: list[str] = []
    soak_started = time.monotonic()
    next_kill = soak_started + KILL_EVERY
    try:
        while time.monotonic() - soak_started < SECONDS:
            now = time.monotonic()
            if now >= next_kill:
                old = runner.kill("worker")
                back = runner.wait_restarted("worker", old)
                kills.append({"at": round(now - soak_started), "back_after_s": round(back, 1)})
                log(f"worker {old} killed; back after {back:.1f} s")
                next_kill += KILL_EVERY
            health = runner.http_status("/healthz")
            readyz = runner.http_status("/readyz")
            if health != 200:
                health_failures.append(f"{round(now - soak_started)} s: {health}")
            sample = {
                "t": round(now - soak_started),
                "healthz": health,
                "readyz": readyz,
                **{f"rss_{name}": mb for name, mb in runner.rss_mb().items()},
                **{f"inbox_{status}": n for status, n in counts(runner)["inbox"].items()},
            }
            samples.append(sample)
            if len(samples) % 30 == 1:
                log(json.dumps(sample))
            time.sleep(max(0.0, SAMPLE_EVERY - (time.monotonic() - now)))
    finally:
        runner.manage("demo", "traffic", "stop")
    log("traffic off; waiting for the queue to drain")
    drain_deadline = time.monotonic() + 300
    while time.monotonic() < drain_deadline and any(unfinished(runner)):
        time.sleep(2)
    left = unfinished(runner)
    final = counts(runner)
    lines = runner.supervisor_lines()
    runner.stop()

    exits = [line for line in lines if "exited with" in line]
    crashes = [
        line for line in exits if not line.startswith("run_all: worker: exited with signal SIGKILL")
    ]
    crashes += [line for line in exits if "worker: exited with signal SIGKILL" in line][
        len(kills) :
    ]
    keys = sorted({key for sample in samples for key in sample})
    with OUT.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(samples)
    memory = {}
    for child in ("web", "beat", "broker", "worker"):
        series = [(s["t"], s.get(f"rss_{child}")) for s in samples if s.get(f"rss_{child}")]
        warm = [mb for t, mb in series if WARM_UP <= t < WARM_UP + 600] or [mb for _, mb in series]
        last = [mb for t, mb in series if t >= SECONDS - 600] or [mb for _, mb in series]
        if warm and last:
            memory[child] = {
                "after_warm_up_mb": round(statistics.median(warm), 1),
                "last_10_min_mb": round(statistics.median(last), 1),
                "max_mb": round(max(mb for _, mb in series), 1),
            }
    flat = all(
        m["last_10_min_mb"] <= m["after_warm_up_mb"] * 1.25 + 30
        for child, m in memory.items()
        if child != "worker"  # a worker restarts every KILL_EVERY seconds: its own lives vary
    )
    return {
        "seconds": SECONDS,
        "demo_loaded_after_s": round(demo_seconds),
        "kills": kills,
        "crashes": crashes,
        "health_failures": health_failures,
        "readyz_not_ready_samples": sum(1 for s in samples if s["readyz"] != 200),
        "samples": len(samples),
        "unfinished_after_drain": {"events": left[0], "messages": left[1]},
        "final_counts": final,
        "memory": memory,
        "memory_flat": flat,
        "passed": not crashes
        and not health_failures
        and not any(left)
        and flat
        and len(kills) == (SECONDS - 1) // KILL_EVERY,  # a kill due at the very end is not made
    }


def write_doc(result: dict) -> None:
    when = datetime.now(tz=UTC).strftime("%Y-%m-%d")
    memory = "\n".join(
        f"| {child} | {m['after_warm_up_mb']} | {m['last_10_min_mb']} | {m['max_mb']} |"
        for child, m in result["memory"].items()
    )
    inbox = ", ".join(f"{k} {v}" for k, v in sorted(result["final_counts"]["inbox"].items()))
    outbox = ", ".join(f"{k} {v}" for k, v in sorted(result["final_counts"]["outbox"].items()))
    backs = ", ".join(f"{k['back_after_s']} s" for k in result["kills"]) or "none"
    section = (
        f"{BEGIN}\n## Soak of the embedded default (`make soak`, bench/soak.py)\n\n"
        f"{when}, {platform.machine()}, {os.cpu_count()} cores. `run_all --prepare` in a fresh "
        f"folder, the demo firm loaded ({result['demo_loaded_after_s']} s after start), the "
        f"traffic simulator on, for {result['seconds']} s; the worker SIGKILLed every "
        f"{KILL_EVERY} s. **{'Passed' if result['passed'] else 'FAILED'}.**\n\n"
        f"- crashes (a child exiting unasked): {len(result['crashes'])}"
        + "".join(f"\n  - `{line}`" for line in result["crashes"])
        + f"\n- worker kills: {len(result['kills'])}, back after {backs}\n"
        f"- /healthz failures: {len(result['health_failures'])} in {result['samples']} samples; "
        f"/readyz not ready in {result['readyz_not_ready_samples']} samples (a worker "
        "restarting)\n"
        f"- after traffic stopped and the queue drained: {result['unfinished_after_drain']['events']} "
        f"events and {result['unfinished_after_drain']['messages']} messages unfinished\n"
        f"- inbox at the end: {inbox}; outbox: {outbox}\n\n"
        "| process (group) | MB after warm-up | MB in the last 10 min | max MB |\n"
        f"|---|---|---|---|\n{memory}\n\n"
        "Memory is each child's process group (the worker with its pool); the worker's own "
        "figure covers several lives, since it is killed every 10 minutes.\n"
        f"{END}"
    )
    write_doc_section(DOC, BEGIN, END, section)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tl-soak-"))
    try:
        result = soak(work)
    finally:
        # run_all's log says why a child exited: keep it beside the samples.
        if (work / "run_all.log").exists():
            OUT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(work / "run_all.log", OUT.parent / "run_all.log")
        if os.environ.get("SOAK_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if os.environ.get("SOAK_WRITE_DOC", "1") == "1":
        write_doc(result)
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
