from django.apps import AppConfig


class MdmConfig(AppConfig):
    name = "mdm"
    verbose_name = "Customer master"

    def ready(self) -> None:
        # Registration only. No queries or network: this runs in every web, worker and beat process.
        from config import policy
        from config.registry import NavItem, navigation
        from exceptions_queue.registry import exception_types
        from integrations.registry import inbox_handlers, routing_checks, routing_guards
        from mdm import handlers
        from mdm.exception_types import EXCEPTION_TYPES

        inbox_handlers.register("crm.account.upserted", handlers.handle_crm_account_upserted)
        inbox_handlers.register("crm.contact.upserted", handlers.handle_crm_contact_upserted)
        inbox_handlers.register("erp.customer.upserted", handlers.handle_erp_customer_upserted)
        from mdm.services.routing import entities_naming_none, route_new_system

        routing_guards.register("mdm.legal_entities", route_new_system)
        routing_checks.register("mdm.legal_entities", entities_naming_none)
        for exception_type in EXCEPTION_TYPES:
            exception_types.register(exception_type.code, exception_type)
        navigation.register(
            "customers",
            NavItem(
                key="customers",
                label="Customers",
                url_name="mdm:customer_list",
                roles=policy.roles_for("customers"),
                order=40,
            ),
        )
        from mdm import panels

        panels.register()  # customer-master figures (docs/contract.md §6)
