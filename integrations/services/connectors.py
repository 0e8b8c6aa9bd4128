"""The runtime's way to a system's connector: with its credentials decrypted here, in the
services layer, so connectors receive secrets and never read them (or the database) themselves."""

from integrations.connectors import AuthError, Connector, connector_classes, get_connector
from integrations.models import ExternalSystem, FieldMapping
from integrations.services.credentials import CredentialsUnreadable, get_credentials


def connector_for(system: ExternalSystem) -> Connector:
    """Raises PermanentError for a connector that is not installed, AuthError for credentials
    the configured keys cannot decrypt (dead at once: fix the key, then replay)."""
    try:
        credentials = get_credentials(system)
    except CredentialsUnreadable as exc:
        raise AuthError(exc.message) from exc
    cls = connector_classes.get(system.connector)
    rows = (
        list(FieldMapping.objects.filter(system=system))
        if cls is not None and cls.reads_field_mappings
        else None
    )
    return get_connector(system, credentials=credentials, field_mappings=rows)
