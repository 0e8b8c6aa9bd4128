"""Settings of `make bench` only: the project's settings plus the bare comparison route and the
bare Celery task. Never used by the product (production URLs stay free of bench routes)."""

from config.settings import *  # noqa: F403 the bench runs the product's own configuration

ROOT_URLCONF = "bench.urls"
CELERY_IMPORTS = ("bench.tasks",)
