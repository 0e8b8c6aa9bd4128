from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Registration only. No queries or network: this runs in every web, worker and beat process.
        from billing import handlers
        from integrations.registry import inbox_handlers

        inbox_handlers.register("psa.time_entry.approved", handlers.handle_time_entry_approved)
