"""Schemathesis against the live server: every operation of the served OpenAPI document, with a
real API token of each role, answers what the document says (docs/security.md "Fuzzing").

The server is pytest-django's live server (a real HTTP server in a thread, on the test
database) and the world is the admin pages' one (tests/test_admin_pages.py: made by the real
flows, so lists and details return real objects). Schemathesis's own CLI runs once per role,
its config written here: the checks ``not_a_server_error``, ``status_code_conformance`` and
``response_schema_conformance``; positive and negative data (invalid input answers 4xx, never
5xx); the coverage and fuzzing phases; a fixed seed in deterministic mode and a bounded number
of examples per operation, so CI sees the same cases on every run. Path parameters draw real
ids from the world most of the time, so the 2xx answers are checked, not only the 404s.

Run alone: ``.venv/bin/pytest -p no:cacheprovider --create-db tests/fuzz`` (prints the figures).
"""

import importlib.util
import json
import logging
import re
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.core.signals import request_started

from tests.helpers import require
from tests.test_admin_pages import world  # noqa: F401 the admin pages' world (real flows)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]

SEED = 20261101
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
# Per role: the phases and the examples per operation of the fuzzing phase. The admin reaches
# every operation, so its run adds the coverage phase (deterministic boundary and negative
# cases of every parameter and body field, some 3,500 cases); the other roles' runs check their
# 403s and what they may read with a few random cases each.
PLAN = {
    "admin": (("coverage", "fuzzing"), 20),
    "finance": (("fuzzing",), 5),
    "pmo": (("fuzzing",), 5),
    "operations": (("fuzzing",), 5),
    "integration": (("fuzzing",), 5),
}
MIN_CASES = 1_000
FIGURES = pytest.StashKey[list[str]]()  # printed at the end of the run (conftest.py)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def _id_pools() -> dict[str, tuple[str, str, list]]:
    """Operation path → (parameter, dictionary name, real values) from the world."""
    from billing.models import BillingRun, Invoice, Project, RateCard
    from exceptions_queue.models import ExceptionItem
    from integrations.models import ExternalSystem, InboundEvent, OutboxMessage
    from mdm.models import Customer

    def pks(model) -> list:
        return [
            pk if isinstance(pk, int) else str(pk)
            for pk in model.objects.values_list("pk", flat=True)
        ]

    events, outbox, exceptions = pks(InboundEvent), pks(OutboxMessage), pks(ExceptionItem)
    traces = sorted(set(InboundEvent.objects.values_list("trace_id", flat=True)))
    slugs = list(ExternalSystem.objects.values_list("slug", flat=True))
    pools = {
        "/api/v1/customers/{id}/": ("id", "customers", pks(Customer)),
        "/api/v1/projects/{id}/": ("id", "projects", pks(Project)),
        "/api/v1/invoices/{id}/": ("id", "invoices", pks(Invoice)),
        "/api/v1/invoices/{id}/approve/": ("id", "invoices", pks(Invoice)),
        "/api/v1/billing-runs/{id}/": ("id", "billing_runs", pks(BillingRun)),
        "/api/v1/rate-cards/{id}/": ("id", "rate_cards", pks(RateCard)),
        "/api/v1/events/{id}/": ("id", "events", events),
        "/api/v1/events/{id}/replay/": ("id", "events", events),
        "/api/v1/outbox/{id}/": ("id", "outbox", outbox),
        "/api/v1/outbox/{id}/replay/": ("id", "outbox", outbox),
        "/api/v1/traces/{trace_id}/": ("trace_id", "traces", traces),
        "/api/v1/systems/{slug}/breaker/": ("slug", "systems", slugs),
        "/api/v1/hooks/{system}/": ("system", "systems", slugs),
    }
    for action in ("", "assign/", "comment/", "dismiss/", "resolve/"):
        pools[f"/api/v1/exceptions/{{id}}/{action}"] = ("id", "exceptions", exceptions)
    return pools


def _config(token: str, role: str) -> str:
    """schemathesis.toml for one role's run."""
    phases, examples = PLAN[role]
    pools = _id_pools()
    lines = [
        f"seed = {SEED}",
        "workers = 1",
        "warnings = false",
        "[cache]",
        "enabled = false",
        "[generation]",
        'mode = "all"',
        f"max-examples = {examples}",
        "deterministic = true",
        'database = "none"',
        "[phases]",
        *(
            f"{phase}.enabled = {_toml(phase in phases)}"
            for phase in ("examples", "coverage", "fuzzing", "stateful")
        ),
        # Methods the document does not list answer 405 (a check of its own, not among these).
        "coverage.unexpected-methods = []",
        "[checks]",
        "enabled = false",
        *(f"{check}.enabled = true" for check in CHECKS),
        "[auth.openapi.apiToken]",
        f"bearer = {_toml(token)}",
    ]
    for name, values in sorted({n: v for _, n, v in pools.values()}.items()):
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}"]
    for path, (parameter, name, values) in sorted(pools.items()):
        if values:
            lines += [
                "[[operations]]",
                f"include-path = {_toml(path)}",
                f'parameters = {{ "path.{parameter}" = {{ dictionary = {_toml(name)}, '
                "probability = 0.8 } }",
            ]
    return "\n".join(lines) + "\n"


def _document_paths() -> list[str]:
    from drf_spectacular.generators import SchemaGenerator

    return list(SchemaGenerator(api_version="v1").get_schema(request=None, public=True)["paths"])


def _pattern(template: str) -> re.Pattern:
    """``/api/v1/events/{id}/`` → a pattern of its concrete paths."""
    return re.compile("[^/]+".join(map(re.escape, re.split(r"\{[^}]+\}", template))) + "$")


class _Answers(logging.Handler):
    """What the live server answered, seen on its side: each request (``request_started``)
    with its method and path, and its status: 200 (a 2xx, or a 3xx, which this API does not
    answer) unless Django logged it as a 4xx or 5xx (``django.request`` logs every answer from
    400 on, with the request)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.requests: dict[int, list] = {}

    def started(self, sender, environ, **kwargs) -> None:
        self.requests[id(environ)] = [environ, environ["REQUEST_METHOD"], environ["PATH_INFO"], 200]

    def emit(self, record: logging.LogRecord) -> None:
        request, status = getattr(record, "request", None), getattr(record, "status_code", None)
        entry = self.requests.get(id(getattr(request, "environ", None)))
        if entry is not None and status:
            entry[3] = status

    def __enter__(self) -> "_Answers":
        request_started.connect(self.started, weak=False)
        logging.getLogger("django.request").addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.getLogger("django.request").removeHandler(self)
        request_started.disconnect(self.started)

    def by_operation(self, paths: list[str]) -> dict[str, Counter]:
        """``"GET /api/v1/events/{id}/"`` → its answers' status codes (the document's paths
        only: not the schema itself; a fixed path before a template that also matches it)."""
        patterns = [(_pattern(path), path) for path in sorted(paths, key=lambda p: p.count("{"))]
        answers: dict[str, Counter] = {}
        for _, method, path, status in self.requests.values():
            template = next((p for pattern, p in patterns if pattern.match(path)), None)
            if template is not None:
                answers.setdefault(f"{method} {template}", Counter())[status] += 1
        return answers


def _run(role: str, token: str, base_url: str, tmp_path) -> dict:
    config = tmp_path / f"{role}.toml"
    config.write_text(_config(token, role))
    report = tmp_path / f"{role}.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        *(f"{base_url}/api/v1/schema/", "--url", base_url, "--no-color"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    with _Answers() as answers:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path
        )
    assert report.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    result = json.loads(report.read_text())
    result["output"], result["served"] = done.stdout, len(answers.requests)
    result["statuses"] = answers.by_operation(_document_paths())
    return result


@pytest.fixture
def schemathesis_cli():
    require(
        importlib.util.find_spec("schemathesis") is not None,
        'schemathesis is not installed (pip install -e ".[dev]")',
    )


@pytest.fixture
def tokens(schemathesis_cli, world):  # noqa: F811
    """One token per role; the integration token speaks for the PSA."""
    from config.roles import INTEGRATION, ROLES
    from integrations.services.tokens import issue_token

    return {
        role: issue_token(
            client=f"fuzz-{role}", role=role, systems=["psa"] if role == INTEGRATION else None
        ).secret
        for role in ROLES
    }


def _figures(results: dict, seconds: float) -> list[str]:
    cases = sum(r["test_cases"]["generated"] for r in results.values())
    operations = max(r["operations"]["tested"] for r in results.values())
    failed = sum(
        r["test_cases"]["with_failures"] + r["test_cases"]["errored"] for r in results.values()
    )
    lines = [
        f"schemathesis: {cases} cases, {operations} operations, {len(results)} roles, "
        f"{seconds:.0f} s, {failed} failing cases (seed {SEED}, checks {', '.join(CHECKS)})"
    ]
    for role, r in results.items():
        answers: Counter = Counter()
        for counts in r["statuses"].values():
            for code, n in counts.items():
                answers[f"{code // 100}xx"] += n
        lines.append(
            f"  {role}: {r['test_cases']['generated']} cases in {r['running_time']:.0f} s, "
            f"{r['served']} requests, "
            f"{r['operations']['tested']}/{r['operations']['selected']} operations "
            f"({len(_answered_2xx(r))} with a 2xx), answers "
            + ", ".join(f"{k} {v}" for k, v in sorted(answers.items()))
            + f"; {len(r['failures'])} failure groups, {len(r['errors'])} errors"
        )
    never = sorted(set(results["admin"]["statuses"]) - _answered_2xx(results["admin"]))
    lines.append(f"  admin: no 2xx from {', '.join(never) or 'none'}")
    return lines


def _answered_2xx(result: dict) -> set[str]:
    return {
        label
        for label, counts in result["statuses"].items()
        if any(200 <= code < 300 for code in counts)
    }


def test_every_operation_answers_what_the_document_says(
    live_server, tokens, settings, tmp_path, request
):
    # Fuzzing is not an attack: the throttles would only answer 429 (documented) to the rest.
    settings.API_THROTTLE_PER_TOKEN = settings.API_THROTTLE_ANON = "1000000/min"
    settings.WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE = 1_000_000
    started = time.monotonic()
    results = {role: _run(role, token, live_server.url, tmp_path) for role, token in tokens.items()}
    figures = _figures(results, time.monotonic() - started)
    request.config.stash[FIGURES] = figures
    failing = [
        role for role, r in results.items() if r["exit_code"] or r["failures"] or r["errors"]
    ]
    assert not failing, (
        "\n".join(figures)
        + "\n\n"
        + "\n\n".join(results[role]["output"][-12000:] for role in failing)
    )
    cases = sum(r["test_cases"]["generated"] for r in results.values())
    assert cases >= MIN_CASES, figures
    # The admin's run reads real objects: every GET answered 2xx at least once.
    gets = {label for label in results["admin"]["statuses"] if label.startswith("GET ")}
    assert gets and gets <= _answered_2xx(results["admin"]), gets - _answered_2xx(results["admin"])
