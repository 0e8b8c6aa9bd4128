from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Registration only. No queries or network: this runs in every web, worker and beat process.
        from billing import handlers
        from integrations.registry import inbox_handlers

        inbox_handlers.register("psa.time_entry.approved", handlers.handle_time_entry_approved)
        self._register_projects()
        self._register_invoicing()
        self._register_controls()
        self._register_reconciliation()
        self._register_lineage()
        from billing.handlers import receivers

        receivers.connect()  # held time re-runs when its cause goes away
        from billing import panels

        panels.register()  # dashboard figures (docs/contract.md §6)
        from billing import tasks  # noqa: F401  (services publish them by name: services/dispatch.py)

    def _register_projects(self) -> None:
        """Opportunity to project (issue 7): handlers, PSA confirmation, contract_invalid, nav."""
        from billing.exception_types import contract_invalid_type
        from billing.handlers import projects
        from config.registry import NavItem, navigation
        from config.roles import FINANCE, PMO
        from exceptions_queue.registry import exception_types
        from integrations.registry import delivery_hooks, inbox_handlers

        inbox_handlers.register(
            "crm.opportunity.closed_won", projects.handle_opportunity_closed_won
        )
        inbox_handlers.register("psa.project.updated", projects.handle_project_updated)
        inbox_handlers.register("psa.milestone.completed", projects.handle_milestone_completed)
        delivery_hooks.register("billing.projects", projects.on_message_delivered)
        exception_types.register("contract_invalid", contract_invalid_type())
        navigation.register(
            "projects",
            NavItem(
                key="projects",
                label="Projects",
                url_name="billing:project_list",
                roles=(PMO, FINANCE),
                order=30,
            ),
        )

    def _register_invoicing(self) -> None:
        """Approved time to invoice (issue 8): time holds, invoice status, pages."""
        from billing import handlers
        from billing.exception_types import billing_exception_types
        from billing.services.invoice_posting import (
            ERP_CREATE,
            describe_posting,
            on_message_delivered,
        )
        from config.registry import NavItem, navigation
        from config.roles import FINANCE, PMO
        from exceptions_queue.registry import exception_types
        from integrations.registry import delivery_hooks, inbox_handlers, outbox_describers

        outbox_describers.register(ERP_CREATE, describe_posting)
        inbox_handlers.register("psa.time_entry.retracted", handlers.handle_time_entry_retracted)
        inbox_handlers.register(
            "erp.invoice.status_changed", handlers.handle_invoice_status_changed
        )
        delivery_hooks.register("billing.invoices", on_message_delivered)
        for exception_type in billing_exception_types():
            exception_types.register(exception_type.code, exception_type)
        navigation.register(
            "invoices",
            NavItem(
                key="invoices",
                label="Invoices",
                url_name="billing:invoice_list",
                roles=(FINANCE,),
                order=40,
            ),
        )
        navigation.register(
            "time",
            NavItem(
                key="time",
                label="Time",
                url_name="billing:time_entry_list",
                roles=(FINANCE, PMO),
                order=41,
            ),
        )

    def _register_controls(self) -> None:
        """The finance controls (issue 19): their pages in the navigation, replay with the
        mapping as it is now and bulk replay by business filter (docs/finance-controls/)."""
        from billing.selectors.replay_filters import FILTERS
        from billing.services.approval_actions import guard_posting_replay
        from billing.services.invoice_posting import (
            CRM_STATUS,
            ERP_CREATE,
            rebuild_posting,
            rebuild_status,
        )
        from config.registry import NavItem, navigation
        from config.roles import FINANCE, PMO
        from integrations.registry import outbox_rebuilders, replay_filters, replay_guards

        pages = (
            ("periods", "Period close", "billing:period_list", 42),
            ("approvals", "Approvals", "billing:approval_list", 43),
        )
        navigation.register(
            "rates",
            NavItem(key="rates", label="Rates", url_name="billing:rate_list",
                    roles=(FINANCE, PMO), order=44),
        )  # fmt: skip
        for key, label, url_name, order in pages:
            navigation.register(
                key, NavItem(key=key, label=label, url_name=url_name, roles=(FINANCE,), order=order)
            )
        outbox_rebuilders.register(ERP_CREATE, rebuild_posting)
        outbox_rebuilders.register(CRM_STATUS, rebuild_status)
        replay_guards.register(ERP_CREATE, guard_posting_replay)
        for name, resolve in FILTERS.items():
            replay_filters.register(name, resolve)

    def _register_reconciliation(self) -> None:
        """The reconciliation control (issue 19): its exception type and dashboard figure."""
        from billing.exception_types import reconciliation_mismatch_type
        from billing.panels.reconciliation import reconciliation_panel
        from config.registry import panels
        from exceptions_queue.registry import exception_types

        exception_types.register("reconciliation_mismatch", reconciliation_mismatch_type())
        panels.register("billing:reconciliation", reconciliation_panel())

    def _register_lineage(self) -> None:
        """Lineage (issue 19): a delivery's forward lineage, linked from its trace and events."""
        from billing.views.lineage import event_lineage_link
        from integrations.registry import event_links

        event_links.register("billing.lineage", event_lineage_link)
