import json
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.webhooks.sender import NoSecret, WebhookSender, demo_secret


class Command(BaseCommand):
    help = (
        "Sign a JSON event with the standardwebhooks package and POST it to a running Throughline "
        "(a real client, for demos and smoke tests). Without --file, sends a sample approved time entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", default="psa")
        parser.add_argument(
            "--url",
            default=settings.THROUGHLINE_URL,
            help="the Throughline to send to (default: where `make run` serves, THROUGHLINE_URL)",
        )
        parser.add_argument("--file", help="JSON body {type, timestamp, data}")
        parser.add_argument("--secret", help="whsec_… (default: var/demo-secrets.json)")
        parser.add_argument(
            "--project",
            help="PSA project id of the sample time entry (default: the newest project the PSA "
            "confirmed, as a person would pick from the PSA)",
        )

    def handle(
        self,
        *args,
        system: str,
        url: str,
        file: str | None,
        secret: str | None,
        project: str | None,
        **options,
    ):
        try:
            secret = secret or demo_secret(system)
        except NoSecret as exc:
            raise CommandError(f"{exc} (or pass --secret)") from exc
        body = json.loads(open(file).read()) if file else self._sample(project)  # noqa: SIM115 short-lived
        sender = WebhookSender(url)
        try:
            delivery = sender.send(system, body, secret=secret)
        finally:
            sender.close()
        self.stdout.write(f"{delivery.status_code} {delivery.body}")

    def _sample(self, project: str | None) -> dict:
        now = datetime.now(tz=UTC)
        project = project or self._newest_psa_project() or "PRJ-1"
        return {
            "type": "psa.time_entry.approved",
            "timestamp": now.isoformat(),
            "data": {
                "time_entry_id": f"TE-{uuid.uuid4().hex[:8]}",
                "project_id": project,
                "phase_code": "DISC",
                "person_email": "ana@acme.example",
                "role": "consultant",
                "work_date": now.date().isoformat(),
                "hours": "7.50",
                "billable": True,
                "category": "delivery",
                "bill_rate": None,
                "notes": "Workshop",
                "approved_at": now.isoformat(),
                "approved_by": "pm@acme.example",
            },
        }

    def _newest_psa_project(self) -> str | None:
        # The sample is only a demo aid; the command works against any Throughline, so the
        # lookup is by the PSA reference table the runtime owns, not by billing's models.
        from integrations.models import ExternalRef

        ref = (
            ExternalRef.objects.filter(system__kind="psa", object_type="project")
            .order_by("-created_at")
            .first()
        )
        return ref.external_id if ref else None
