"""`manage.py check --deploy` is clean with the production settings (config/settings.py: what
DJANGO_ENV=production turns on), in a process of its own so the settings are read afresh."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

ROOT = Path(__file__).resolve().parents[2]
CHECK = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('check', '--deploy', '--fail-level', 'WARNING')"
)


def _production(tmp_path: Path, **extra: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "THROUGHLINE_", "DATABASE_", "REDIS_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="production",
        DJANGO_DEBUG="0",
        # 100 characters, starting with "$" as random keys sometimes do: read as given.
        DJANGO_SECRET_KEY="$" + get_random_secret_key() + get_random_secret_key()[1:],
        DJANGO_ALLOWED_HOSTS="throughline.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://throughline.example.com",
        THROUGHLINE_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
        THROUGHLINE_VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return environment


def _check(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", CHECK],
        cwd=ROOT,
        env=_production(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_passes_with_no_warning_in_production(tmp_path):
    result = _check(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout, output
    assert "WARNING" not in output.upper().replace("--FAIL-LEVEL", ""), output


def test_production_sends_a_year_of_hsts_and_the_policy(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "'csp.middleware.CSPMiddleware' in s.MIDDLEWARE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_production(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == ["31536000", "True", "True", "True", "True", "True"], (
        result.stdout + result.stderr
    )
