"""A CRM system's field mapping (FieldMapping rows, edited in the admin, with history): seeded
from the connector's defaults when the system is added, so the admin shows every field."""

from django.db import transaction

from integrations.connectors.names import ConnectorName
from integrations.connectors.salesforce.mapping import DEFAULT_FIELDS, DEFAULT_VALUES
from integrations.models import ExternalSystem, FieldMapping


@transaction.atomic
def seed_field_mappings(system: ExternalSystem) -> int:
    """Add the default row of each field the system has no row for; returns how many were
    added (none for a connector without a mapping)."""
    if system.connector != ConnectorName.SALESFORCE:
        return 0
    have = set(FieldMapping.objects.filter(system=system).values_list("record", "field"))
    rows = [
        FieldMapping(
            system=system,
            record=record,
            field=name,
            source=source,
            values=dict(DEFAULT_VALUES.get((record, name), {})),
        )
        for record, fields in DEFAULT_FIELDS.items()
        for name, source in fields.items()
        if (record, name) not in have
    ]
    for row in rows:  # one by one: each row's history says it was seeded
        row._change_reason = "the connector's default"  # type: ignore[attr-defined]
        row.save()
    return len(rows)
