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
        """One navigation item per dashboard, for the roles whose panels it shows."""
        from config.registry import NavItem, navigation
        from config.roles import FINANCE, INTEGRATION, OPERATIONS, PMO

        for order, (name, label, roles) in enumerate(
            (
                ("finance", "Finance dashboard", (FINANCE,)),
                ("pmo", "PMO dashboard", (PMO,)),
                ("operations", "Ops dashboard", (OPERATIONS, INTEGRATION)),
            ),
            start=5,
        ):
            navigation.register(
                f"dashboard:{name}",
                NavItem(
                    key=f"dashboard:{name}",
                    label=label,
                    url_name="dashboard",
                    url_args=(name,),
                    roles=roles,
                    order=order,
                ),
            )
