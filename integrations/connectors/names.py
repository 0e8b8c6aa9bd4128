"""The connectors Throughline knows, defined once: the name stored in
``ExternalSystem.connector`` (and registered in ``connector_classes``), its label, and the kinds
of system (ports) each platform can serve. ``ExternalSystem`` uses these for its choices and
refuses, in ``clean()``, a system whose connector cannot serve its kind.

No imports from the rest of integrations: the model layer reads this module.
"""

from django.db import models


class ConnectorName(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox (simulated CRM, PSA or ERP)"
    TRYTON = "tryton", "Tryton (ERP, PSA)"
    SALESFORCE = "salesforce", "Salesforce (CRM)"


KINDS_SERVED: dict[str, tuple[str, ...]] = {
    ConnectorName.SANDBOX: ("crm", "psa", "erp"),
    ConnectorName.TRYTON: ("psa", "erp"),
    ConnectorName.SALESFORCE: ("crm",),
}


def kinds_served(connector: str) -> tuple[str, ...]:
    """The kinds ``connector`` can serve (none for an unknown name)."""
    return KINDS_SERVED.get(connector, ())


def can_serve(connector: str, kind: str) -> bool:
    return kind in kinds_served(connector)


def serving_error(connector: str, kind: str) -> str:
    """Why ``connector`` cannot serve ``kind`` (``""`` when it can), in words for the admin."""
    if can_serve(connector, kind):
        return ""
    if connector not in KINDS_SERVED:
        return f"no connector is named {connector!r} (known: {', '.join(ConnectorName.values)})"
    served = " and ".join(k.upper() for k in kinds_served(connector))
    return f"the {connector} connector cannot serve a {kind.upper()} system; it serves {served}"
