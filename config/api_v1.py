"""Version 1 of the public API: each app's ``api.urls`` included by string (no imports upward)."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from config.api_root import api_root, metrics

# Swagger UI and ReDoc style their pages inline and ReDoc searches in a blob: worker: allowed on
# these two pages only (config/settings.py CONTENT_SECURITY_POLICY). Swagger UI's set-up script
# is served as a file (the split view), so no inline script is needed.
docs_csp = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

urlpatterns = [
    path("", api_root, name="root"),
    path("metrics/", metrics, name="metrics"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files (no CDN: they work offline).
    path("docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="v1:schema")), name="docs"),
    path(
        "redoc/",
        docs_csp(
            SpectacularRedocView.as_view(url_name="v1:schema", template_name="api/redoc.html")
        ),
        name="redoc",
    ),
    path("", include("integrations.api.urls")),
    path("", include("exceptions_queue.api.urls")),
    path("", include("mdm.api.urls")),
    path("", include("billing.api.urls")),
]
