"""Operating commands of docs/contract.md §4 and the health endpoints."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integrations.models import ExternalSystem, WebhookSecret

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_systems_add_prints_a_new_secret_and_refuses_an_existing_slug():
    out = run("systems", "add", "crm2", "--kind", "crm", "--connector", "sandbox")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    assert WebhookSecret.objects.get(system__slug="crm2").secret == secret
    with pytest.raises(CommandError, match="already exists"):
        run("systems", "add", "crm2", "--kind", "erp", "--connector", "sandbox")
    assert ExternalSystem.objects.get(slug="crm2").kind == "crm"  # nothing changed


def test_rotate_then_retire_a_secret(systems):
    new = run("systems", "rotate-secret", "psa").strip().splitlines()[-1]
    assert WebhookSecret.objects.filter(system__slug="psa", is_active=True).count() == 2
    run("systems", "retire-secret", "psa", "1")
    active = [  # stored encrypted: .secret decrypts
        row.secret for row in WebhookSecret.objects.filter(system__slug="psa", is_active=True)
    ]
    assert active == [new]
    listing = run("systems", "list")
    assert "#2 whsec_…" in listing and new not in listing  # masked


def test_tokens_create_prints_the_token_last(db):
    out = run("tokens", "create", "ci-bot", "--role", "integration")
    token = out.strip().splitlines()[-1]
    from integrations.models import ApiToken

    stored = ApiToken.objects.get(client="ci-bot")
    assert stored.role == "integration" and token.startswith(f"tl_{stored.prefix}")


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    body = client.get("/readyz").json()
    assert body["checks"]["database"]["ok"] is True
    assert "broker" in body["checks"]


def test_import_linter_catches_a_lower_app_importing_a_higher_one(tmp_path: Path):
    """The layers contract of pyproject.toml, applied to a tiny tree with one violation."""
    for package in ("config", "integrations", "exceptions_queue", "mdm", "billing"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "integrations" / "bad.py").write_text("import billing\n")
    contract = Path(__file__).resolve().parents[2] / "pyproject.toml"
    config = contract.read_text().split("[tool.importlinter]", 1)[1]
    # The root packages and the contract between apps (the next [tool.*] table ends it); the
    # per-app contracts further down name modules this tiny tree does not have.
    config = config.split("\n[tool.", 1)[0]
    (tmp_path / ".importlinter.toml").write_text("[tool.importlinter]" + config)
    lint = Path(sys.executable).parent / "lint-imports"
    broken = subprocess.run(  # noqa: S603 fixed argv
        [str(lint), "--config", ".importlinter.toml", "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert broken.returncode != 0
    assert "integrations.bad -> billing" in broken.stdout


def test_replay_command_puts_dead_messages_back(systems):
    from django.db import transaction

    from integrations.models import OutboxMessage
    from integrations.services.outbox import dispatch_outbox_message, enqueue_outbox_message
    from integrations.services.systems import set_sandbox_faults

    erp = systems["erp"][0]
    set_sandbox_faults(system=erp, permanent_operations=["erp.customer.upsert"])
    with transaction.atomic():
        message = enqueue_outbox_message(
            system=erp, kind="erp.customer.upsert", payload={}, idempotency_key="k"
        )
    dispatch_outbox_message(message_id=message.pk)
    assert "would replay 1 message(s)" in run(
        "replay", "--system", "erp", "--status", "dead", "--dry-run"
    )
    assert "replayed 1 message(s)" in run(
        "replay", "--system", "erp", "--status", "dead", "--since", "2020-01-01"
    )
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.PENDING and message.replay_count == 1
    with pytest.raises(CommandError, match="not an ISO date"):
        run("replay", "--since", "yesterday")


def test_sandbox_command_sets_and_clears_faults(systems):
    out = run("sandbox", "faults", "erp", "--error-rate", "0.5", "--outage-minutes", "5")
    assert '"error_rate": 0.5' in out and "outage_until" in out
    assert run("sandbox", "faults", "erp", "--clear").strip() == "{}"
    with pytest.raises(CommandError, match="no system"):
        run("sandbox", "show", "nope")
