"""Django's SECRET_KEY (settings.py): generated and kept under var/ for the embedded default,
read from the environment in production."""

import os
from pathlib import Path


def local_secret_key(var_dir: Path) -> str:
    """The embedded default keeps a generated key under var/, so sessions (and the key the
    webhook secrets are encrypted with, when no THROUGHLINE_CREDENTIALS_KEYS is set) survive
    restarts; production must set DJANGO_SECRET_KEY."""
    key_file = var_dir / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def production_secret_key() -> str:
    """DJANGO_SECRET_KEY as given: django-environ would take a value starting with "$" for the
    name of another variable, and a random key does start so now and then (1 in 50)."""
    from django.core.exceptions import ImproperlyConfigured

    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if not key:
        raise ImproperlyConfigured("Set the DJANGO_SECRET_KEY environment variable")
    return key
