from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Throughline shell"

    def ready(self) -> None:
        from config.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)
