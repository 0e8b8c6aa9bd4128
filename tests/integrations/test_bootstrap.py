"""`manage.py bootstrap`: the embedded default keeps the demo's secrets in var/ for the demo;
production (not DEBUG) prints each secret once and writes none to disk."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.helpers import envelope, post_event

pytestmark = pytest.mark.django_db


def _bootstrap(settings, tmp_path, *, debug: bool) -> str:
    settings.DEBUG, settings.VAR_DIR = debug, tmp_path
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def _signs(client, slug: str, secret: str) -> bool:
    data = {"time_entry_id": "TE-1", "retracted_at": "2026-11-04T09:00:00+00:00"}
    response = post_event(client, slug, secret, envelope("psa.time_entry.retracted", data))
    return response.status_code == 202


def test_production_prints_each_secret_once_and_writes_none(settings, tmp_path, client):
    output = _bootstrap(settings, tmp_path, debug=False)
    assert list(tmp_path.iterdir()) == []  # no demo-secrets.json, no admin-password
    printed = dict(
        line.split("webhook secret of ", 1)[1].split(" (shown once, not stored): ")
        for line in output.splitlines()
        if "webhook secret of" in line
    )
    assert sorted(printed) == ["crm", "erp", "psa"]
    assert all(secret.startswith("whsec_") for secret in printed.values())
    assert _signs(client, "psa", printed["psa"])  # the printed secret is the live one
    assert "(shown once)" in output  # the generated admin password, on the terminal only
    again = _bootstrap(settings, tmp_path, debug=False)
    assert "whsec_" not in again and list(tmp_path.iterdir()) == []


def test_the_embedded_default_keeps_the_demo_secrets_for_the_demo(settings, tmp_path, client):
    output = _bootstrap(settings, tmp_path, debug=True)
    kept = json.loads((tmp_path / "demo-secrets.json").read_text())
    assert sorted(kept) == ["crm", "erp", "psa"]
    assert "whsec_" not in output
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o777 == 0o600
    assert _signs(client, "psa", kept["psa"])
    assert (tmp_path / "admin-password").exists()
