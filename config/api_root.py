from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse


@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request, format=None):  # noqa: A002 DRF's signature
    """Throughline API v1: what is here. Resources need a token or a session."""
    names = {
        "schema": "v1:schema",
        "docs": "v1:docs",
        "hook_schemas": "v1:hook-schemas",
        "events": "v1:event-list",
        "outbox": "v1:outbox-list",
        "time_entries": "v1:time-entry-list",
    }
    return Response({key: reverse(name, request=request) for key, name in names.items()})
