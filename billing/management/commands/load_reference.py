import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.services.reference import SECTIONS, load_reference_data
from config.errors import DomainError


class Command(BaseCommand):
    help = (
        "Load reference data from a JSON file (docs/contract.md §4): upsert by code, all or nothing; "
        "a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the JSON file")

    def handle(self, *args, file: str, **options):
        path = Path(file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CommandError(f"{file}: no such file") from exc
        except ValueError as exc:
            raise CommandError(f"{file}: not valid JSON ({exc})") from exc
        try:
            result = load_reference_data(data=data)
        except DomainError as exc:
            raise CommandError(f"{file}: {exc.message}; nothing was loaded") from exc
        for section in SECTIONS:
            counts = result.counts.get(section)
            if counts:
                self.stdout.write(
                    f"{section}: {counts['created']} created, {counts['updated']} updated, "
                    f"{counts['unchanged']} unchanged"
                )
        self.stdout.write(f"{result.changed} row(s) changed")
