from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from integrations.models import InboundEvent, OutboxMessage
from integrations.services.inbox import replay_event
from integrations.services.outbox import replay_outbox_message


class Command(BaseCommand):
    help = (
        "Replay outbox messages (default) or inbound events: "
        "`replay --system erp --status dead --since 2026-11-01`. Earlier attempts stay in history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", action="store_true", help="replay inbound events instead")
        parser.add_argument("--system", help="system slug")
        parser.add_argument("--status", default="dead", help="dead (default), failed, rejected …")
        parser.add_argument("--since", help="ISO date or date-time (created/received at or after)")
        parser.add_argument("--kind", help="outbox kind or event type")
        parser.add_argument(
            "--id", action="append", default=[], help="a message or event id (repeatable)"
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, events: bool, **options):
        since = None
        if options["since"]:
            since = parse_datetime(options["since"]) or parse_date(options["since"])
            if since is None:
                raise CommandError(f"--since {options['since']!r} is not an ISO date or date-time")
            if hasattr(since, "hour") and timezone.is_naive(since):
                since = timezone.make_aware(since)  # in TIME_ZONE, as an operator means it
        if events:
            rows = self._select(
                InboundEvent, since, options, type_field="event_type", at="received_at"
            )
        else:
            rows = self._select(OutboxMessage, since, options, type_field="kind", at="created_at")
        ids = list(rows.values_list("pk", flat=True))
        what = "event(s)" if events else "message(s)"
        if options["dry_run"]:
            self.stdout.write(f"would replay {len(ids)} {what}")
            return
        for pk in ids:
            (replay_event(event_id=pk) if events else replay_outbox_message(message_id=pk))
        self.stdout.write(f"replayed {len(ids)} {what}")

    def _select(self, model, since, options, *, type_field: str, at: str):
        rows = model.objects.filter(status=options["status"])
        if options["system"]:
            rows = rows.filter(system__slug=options["system"])
        if options["kind"]:
            rows = rows.filter(**{type_field: options["kind"]})
        if since:
            # A date means from the start of that day; a date-time from that moment.
            lookup = f"{at}__gte" if hasattr(since, "hour") else f"{at}__date__gte"
            rows = rows.filter(**{lookup: since})
        if options["id"]:
            rows = rows.filter(pk__in=options["id"])
        return rows.order_by(at)
