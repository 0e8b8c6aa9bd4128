from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse

from config.openapi import ApiErrorOutputSerializer


@extend_schema(
    responses=OpenApiResponse(
        response={
            "type": "object",
            "properties": {
                "hooks": {
                    "type": "string",
                    "format": "uri-template",
                    "description": "the webhook receiver's URL, `{system}` to fill in",
                }
            },
            "additionalProperties": {"type": "string", "format": "uri"},
        },
        description="resource name → its URL",
    )
)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request, format=None):  # noqa: A002 DRF's signature
    """Throughline API v1: what is here. Resources need a token or a session."""
    names = {
        "schema": "v1:schema",
        "docs": "v1:docs",
        "hook_schemas": "v1:hook-schemas",
        "redoc": "v1:redoc",
        "hooks": "v1:hook-receive",
        "customers": "v1:customer-list",
        "projects": "v1:project-list",
        "time_entries": "v1:time-entry-list",
        "invoices": "v1:invoice-list",
        "billing_runs": "v1:billing-run-list",
        "reconciliation": "v1:reconciliation-list",
        "rate_cards": "v1:rate-card-list",
        "exceptions": "v1:exception-list",
        "events": "v1:event-list",
        "outbox": "v1:outbox-list",
        "systems": "v1:system-list",
        "metrics": "v1:metrics",
    }
    urls = {}
    for key, name in names.items():
        # The receiver's URL names its system: shown as a template, ``{system}`` to fill in.
        kwargs = {"system": "SYSTEM"} if key == "hooks" else None
        url = reverse(name, kwargs=kwargs, request=request)
        urls[key] = url.replace("SYSTEM", "{system}") if kwargs else url
    return Response(urls)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "dashboard",
            str,
            enum=["finance", "pmo", "operations", "home"],
            description="one dashboard's panels only (an unknown name answers 404)",
        )
    ],
    responses={
        200: OpenApiResponse(
            response=OpenApiTypes.OBJECT,
            description="panel key → its figures (docs/contract.md §6)",
        ),
        404: OpenApiResponse(response=ApiErrorOutputSerializer, description="no such dashboard"),
    },
)
@api_view(["GET"])
def metrics(request):
    """The dashboard figures (docs/contract.md §6) as JSON: one key per panel the user may see.

    ``?dashboard=finance`` narrows to one dashboard's panels (404 for an unknown name). A panel
    that shows another panel's figures on a second dashboard (``extra["alias_of"]``) is served
    once, under the original key. Panels' own parameters (e.g. ``?weeks=8``) pass through.
    """
    from rest_framework.exceptions import NotFound

    from config.registry import panels
    from config.views import panel_params, panel_visible

    name = request.query_params.get("dashboard")
    if name:
        selected = [p for p in panels.values() if p.dashboard == name]
        if not selected:
            raise NotFound(f"no dashboard {name!r}")
    else:
        selected = [p for p in panels.values() if not p.extra.get("alias_of")]
    return Response(
        {
            panel.extra.get("alias_of", panel.key): panel.compute(
                user=request.user, **panel_params(panel, request.query_params)
            )
            for panel in sorted(selected, key=lambda p: (p.dashboard, p.order))
            if panel_visible(panel, request.user)
        }
    )
