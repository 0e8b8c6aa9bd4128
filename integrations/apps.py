from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations runtime"

    def ready(self) -> None:
        # Registration only: no queries or network here (runs in web, worker and beat).
        from celery.signals import before_task_publish, task_postrun, task_prerun
        from django.db.models.signals import post_delete, post_save

        from config import policy
        from config.registry import NavItem, Panel, navigation, panels
        from integrations import handlers, selectors, tasks  # noqa: F401 tasks: registered by name for dispatch
        from integrations.connectors.base import connector_classes
        from integrations.connectors.salesforce.connector import SalesforceConnector
        from integrations.connectors.sandbox import SandboxConnector
        from integrations.connectors.tryton.connector import TrytonConnector
        from integrations.models import ExternalSystem, WebhookSecret
        from integrations.panels import integration_health

        connector_classes.register("sandbox", SandboxConnector)
        connector_classes.register("tryton", TrytonConnector)
        connector_classes.register("salesforce", SalesforceConnector)
        navigation.register(
            "operations",
            NavItem(
                key="operations",
                label="Operations",
                url_name="integrations:operations",
                roles=policy.roles_for("operations"),
                order=90,
            ),
        )
        panels.register(
            "integration_health",
            Panel(
                key="integration_health",
                title="Integration health",
                dashboard="home",
                compute=integration_health,
                template="integrations/panels/health.html",
                roles=policy.roles_for("integration_health"),
                order=50,
            ),
        )
        policy.register_object_check("integrations.inboundevent", selectors.event_visible)
        policy.register_object_check("integrations.outboxmessage", selectors.outbox_message_visible)
        before_task_publish.connect(handlers.add_trace_header, weak=False)
        task_prerun.connect(handlers.restore_trace, weak=False)
        task_postrun.connect(handlers.clear_trace, weak=False)
        for sender, name in ((ExternalSystem, "system"), (WebhookSecret, "secret")):
            post_save.connect(
                handlers.forget_systems,
                sender=sender,
                dispatch_uid=f"inbox-systems-cache-{name}-saved",
                weak=False,
            )
            post_delete.connect(
                handlers.forget_systems,
                sender=sender,
                dispatch_uid=f"inbox-systems-cache-{name}-deleted",
                weak=False,
            )
