"""The product's URLs plus ``/bench/bare-hook/``, the plain view Throughline is measured against."""

from django.urls import include, path

from bench.views import bare_hook

urlpatterns = [
    path("bench/bare-hook/", bare_hook),
    path("", include("config.urls")),
]
