"""Import and export of rate cards and billing rules (django-import-export: CSV and XLSX, with
the admin's preview of what changes before it is confirmed).

Rates are flat rows: ``card, valid_from, valid_to, role, hourly`` (the card must exist). A row
of a version that does not exist yet adds that version (the previous open one is closed the
day before, as in ``load_reference``); a row whose rate already rated time cannot change it.
"""

from datetime import date
from decimal import Decimal

from import_export import fields, resources, widgets

from billing.models import BillingRule, Rate, RateCard, Role
from billing.services.rate_cards import rates_changed
from billing.services.reference import load_rate_card_versions


class CategoriesWidget(widgets.Widget):
    """Non-billable categories as one cell: ``travel, training``."""

    def clean(self, value, row=None, **kwargs):
        return [part.strip() for part in str(value or "").split(",") if part.strip()]

    def render(self, value, obj=None, **kwargs):
        return ", ".join(value or [])


class BillingRuleResource(resources.ModelResource):
    non_billable_categories = fields.Field(
        attribute="non_billable_categories",
        column_name="non_billable_categories",
        widget=CategoriesWidget(),
    )

    class Meta:
        model = BillingRule
        import_id_fields = ("client_account_id",)
        fields = (
            "client_account_id",
            "rounding_increment_hours",
            "rounding",
            "non_billable_categories",
            "invoice_grouping",
        )
        skip_unchanged = True
        report_skipped = True


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class RateResource(resources.ModelResource):
    card = fields.Field(column_name="card", attribute="version__card__code", readonly=True)
    valid_from = fields.Field(
        column_name="valid_from", attribute="version__valid_from", readonly=True
    )
    valid_to = fields.Field(column_name="valid_to", attribute="version__valid_to", readonly=True)
    role = fields.Field(
        column_name="role", attribute="role", widget=widgets.ForeignKeyWidget(Role, "code")
    )
    version = fields.Field(column_name="version", attribute="version_id")

    class Meta:
        model = Rate
        import_id_fields = ("version", "role")
        fields = ("card", "valid_from", "valid_to", "role", "hourly", "version")
        export_order = ("card", "valid_from", "valid_to", "role", "hourly")
        skip_unchanged = True
        report_skipped = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cards_changed: set[int] = set()

    def before_import(self, dataset, **kwargs) -> None:
        # The key column is filled per row (below); files carry card and valid_from instead.
        if "version" not in (dataset.headers or []):
            dataset.append_col([""] * len(dataset), header="version")

    def before_import_row(self, row, **kwargs) -> None:
        """Find or add the row's card version, so the row is keyed by (version, role)."""
        card = RateCard.objects.filter(code=row.get("card")).first()
        if card is None:
            raise ValueError(f"no rate card {row.get('card')!r}: create the card first")
        start = _date(row.get("valid_from"))
        if start is None:
            raise ValueError("valid_from is required")
        end = _date(row.get("valid_to"))
        load_rate_card_versions(
            card=card,
            versions=[
                {"valid_from": start.isoformat(), "valid_to": end.isoformat() if end else None}
            ],
        )
        version = card.versions.get(valid_from=start)
        current = Rate.objects.filter(version=version, role__code=row.get("role")).first()
        hourly = Decimal(str(row.get("hourly")))
        if current is not None and current.hourly != hourly and version.time_entries.exists():
            raise ValueError(
                f"{card.code} from {start} already rated time: add a new version to change "
                f"the {row.get('role')} rate"
            )
        row["version"] = version.pk
        self.cards_changed.add(card.pk)

    def after_import(self, dataset, result, **kwargs) -> None:
        if kwargs.get("dry_run"):
            return
        for card in RateCard.objects.filter(pk__in=self.cards_changed):
            rates_changed(card=card)
