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
        "exceptions": "v1:exception-list",
        "events": "v1:event-list",
        "outbox": "v1:outbox-list",
        "time_entries": "v1:time-entry-list",
        "systems": "v1:system-list",
        "metrics": "v1:metrics",
    }
    return Response({key: reverse(name, request=request) for key, name in names.items()})


@api_view(["GET"])
def metrics(request):
    """The dashboard figures (CONTRACT.md §6) as JSON: one key per panel the user may see."""
    from config.registry import panels
    from config.roles import has_role

    return Response(
        {
            panel.key: panel.compute(user=request.user)
            for panel in sorted(panels.values(), key=lambda p: (p.dashboard, p.order))
            if not panel.roles or has_role(request.user, *panel.roles)
        }
    )
