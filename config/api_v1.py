"""Version 1 of the public API: each app's ``api.urls`` included by string (no imports upward)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.api_root import api_root, metrics

urlpatterns = [
    path("", api_root, name="root"),
    path("metrics/", metrics, name="metrics"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files (no CDN: they work offline).
    path("docs/", SpectacularSwaggerView.as_view(url_name="v1:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="v1:schema"), name="redoc"),
    path("", include("integrations.api.urls")),
    path("", include("exceptions_queue.api.urls")),
    path("", include("mdm.api.urls")),
    path("", include("billing.api.urls")),
]
