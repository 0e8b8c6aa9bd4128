"""The peer's API quota as its answers report it (Salesforce's ``Sforce-Limit-Info``), kept per
system for the operations dashboard; past the share set for the system (``settings
["salesforce"]["pause_at_share"]``, 0.95 unless set) the system's breaker is paused, so the
org keeps a reserve for its own users and Throughline never spends the last calls."""

from django.utils import timezone

from integrations.connectors import Connector
from integrations.connectors.salesforce.errors import LIMIT_PAUSE_SECONDS
from integrations.models import ApiUsage, ExternalSystem
from integrations.services import breakers

DEFAULT_PAUSE_AT_SHARE = 0.95


def keep_api_usage(system: ExternalSystem, connector: Connector) -> ApiUsage | None:
    """Store what ``connector``'s last answer said of the quota (nothing when it said none)."""
    if connector.api_usage is None:
        return None
    used, allowed = connector.api_usage
    usage, _ = ApiUsage.objects.update_or_create(
        system=system, defaults={"used": used, "allowed": allowed, "observed_at": timezone.now()}
    )
    pause_at = float(
        ((system.settings or {}).get("salesforce") or {}).get("pause_at_share")
        or DEFAULT_PAUSE_AT_SHARE
    )
    if allowed and used / allowed >= pause_at:
        breakers.pause(
            system_id=system.pk,
            seconds=LIMIT_PAUSE_SECONDS,
            reason=f"{used:,} of its {allowed:,} daily API requests used ({used / allowed:.0%}; "
            f"the pause is at {pause_at:.0%}): paused to keep a reserve",
        )
    return usage
