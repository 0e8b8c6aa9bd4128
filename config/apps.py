from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    name = "config"
    verbose_name = "Throughline shell"

    def ready(self) -> None:
        from config.roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)
        self._register_dashboards()

    def _register_dashboards(self) -> None:
        """One navigation item for the dashboards; the page's tabs switch between those the
        user may see (finance, PMO, operations)."""
        from config import policy
        from config.registry import NavItem, navigation

        navigation.register(
            "dashboards",
            NavItem(
                key="dashboards",
                label="Dashboards",
                url_name="dashboards",
                roles=policy.roles_for("dashboards"),
                order=5,
            ),
        )
