from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations runtime"

    def ready(self) -> None:
        # Registration only: no queries or network here (runs in web, worker and beat).
        from celery.signals import before_task_publish, task_postrun, task_prerun

        from integrations import signals
        from integrations.connectors.base import connector_classes
        from integrations.connectors.sandbox import SandboxConnector

        connector_classes.register("sandbox", SandboxConnector)
        before_task_publish.connect(signals.add_trace_header, weak=False)
        task_prerun.connect(signals.restore_trace, weak=False)
        task_postrun.connect(signals.clear_trace, weak=False)
