from django.apps import AppConfig


class ExceptionsQueueConfig(AppConfig):
    name = "exceptions_queue"
    verbose_name = "Exception queues"

    def ready(self) -> None:
        # Registration only: no queries or network here (runs in web, worker and beat).
        from config import policy
        from config.registry import NavItem, Panel, navigation, panels
        from exceptions_queue import exception_types as runtime_types
        from exceptions_queue import handlers
        from exceptions_queue.registry import exception_types
        from exceptions_queue.selectors import can_see_queue
        from exceptions_queue.views import home_panel_counts, queue_badge
        from integrations.registry import dead_letter_hooks, delivery_hooks, rejection_hooks

        policy.register_object_check(
            "exceptions_queue.exceptionitem",
            lambda request, item: can_see_queue(user=request.user, queue=item.queue),
        )
        for exception_type in runtime_types.runtime_types():
            exception_types.register(exception_type.code, exception_type)
        dead_letter_hooks.register("exceptions_queue", handlers.on_dead_letter)
        rejection_hooks.register("exceptions_queue", handlers.on_rejected)
        delivery_hooks.register("exceptions_queue", handlers.on_delivered)

        for order, (queue, label) in enumerate(
            (("finance", "Finance"), ("pmo", "PMO"), ("operations", "Operations")), start=10
        ):
            navigation.register(
                f"exceptions:{queue}",
                NavItem(
                    key=f"exceptions:{queue}",
                    label=f"{label} queue",
                    url_name="exceptions_queue:item_list",
                    url_args=(queue,),
                    roles=(queue,),
                    order=order,
                    badge=queue_badge(queue),
                ),
            )
        panels.register(
            "exceptions:open-by-queue",
            Panel(
                key="exceptions:open-by-queue",
                title="Exceptions to work",
                dashboard="home",
                compute=home_panel_counts,
                template="exceptions_queue/panels/open_by_queue.html",
                order=10,
            ),
        )
        from exceptions_queue import panels as dashboard_panels

        dashboard_panels.register()  # queue counts and ages (docs/contract.md §6)
