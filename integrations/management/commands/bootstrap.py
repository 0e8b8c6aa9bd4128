import json
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from config.roles import ADMIN, ensure_role_groups
from integrations.models import ExternalSystem
from integrations.services.systems import add_system

DEMO_SYSTEMS = [("crm", "crm"), ("psa", "psa"), ("erp", "erp")]


class Command(BaseCommand):
    help = (
        "Idempotent first-run set-up: role groups, an admin user (THROUGHLINE_ADMIN_USER / "
        "THROUGHLINE_ADMIN_PASSWORD, or a generated password printed once), and the systems "
        "crm, psa and erp on sandbox connectors (each webhook secret printed once). The "
        "embedded default (DEBUG) also keeps them in var/admin-password and "
        "var/demo-secrets.json for the demo; production writes no secret to disk."
    )

    def handle(self, *args, **options):
        ensure_role_groups()
        self._admin()
        self._systems()

    def _admin(self) -> None:
        username = os.environ.get("THROUGHLINE_ADMIN_USER", "admin")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"admin user {username!r} exists (password unchanged)")
            return
        password = os.environ.get("THROUGHLINE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(Group.objects.get(name=ADMIN))
        if "THROUGHLINE_ADMIN_PASSWORD" in os.environ:
            self.stdout.write(
                self.style.SUCCESS(
                    f"created admin user: {username} / (from THROUGHLINE_ADMIN_PASSWORD)"
                )
            )
            return
        if not settings.DEBUG:  # production: shown once, never on disk
            self.stdout.write(
                self.style.SUCCESS(f"created admin user: {username} / {password}  (shown once)")
            )
            return
        # Kept for the person who ran `make run` (owner-only file), so a lost terminal line
        # is not a lost password; change it in the admin and delete the file.
        path = settings.VAR_DIR / "admin-password"
        path.write_text(password + "\n")
        path.chmod(0o600)
        self.stdout.write(
            self.style.SUCCESS(f"created admin user: {username} / {password}  (kept in {path})")
        )

    def _systems(self) -> None:
        """The embedded default's demo (the firm, the traffic simulator, send_event) reads the
        secrets back from var/demo-secrets.json; production prints each one once, as
        `systems add` does, and writes none to disk (docs/security.md)."""
        keep = settings.DEBUG
        path = settings.VAR_DIR / "demo-secrets.json"
        known = json.loads(path.read_text()) if keep and path.exists() else {}
        for slug, kind in DEMO_SYSTEMS:
            if ExternalSystem.objects.filter(slug=slug).exists():
                continue
            _system, secret, _notes = add_system(slug=slug, kind=kind, connector="sandbox")
            self.stdout.write(f"configured system {slug} ({kind}) on the sandbox connector")
            if keep:
                known[slug] = secret
            else:
                self.stdout.write(f"  webhook secret of {slug} (shown once, not stored): {secret}")
        if keep:
            path.write_text(json.dumps(known, indent=2))
            path.chmod(0o600)
