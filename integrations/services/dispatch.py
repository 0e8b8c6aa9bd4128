"""Publishing the runtime's tasks: the one place services talk to Celery.

Tasks are found by name in the Celery app's registry (``integrations.tasks`` is imported by
IntegrationsConfig.ready(), so every process has them), so no service imports the tasks
module: ``tasks.py`` calls services, never the reverse. Going through the registered task keeps
``task_always_eager`` and a test's patch of a task's ``delay`` working.
"""

import uuid

from celery import current_app

PROCESS_INBOUND_EVENT = "integrations.tasks.process_inbound_event_task"
PROCESS_INBOUND_EVENTS = "integrations.tasks.process_inbound_events_task"
DISPATCH_OUTBOX_MESSAGE = "integrations.tasks.dispatch_outbox_message_task"


def runs_eagerly() -> bool:
    """True when tasks run in the publishing process (``CELERY_TASK_ALWAYS_EAGER``)."""
    return bool(current_app.conf.task_always_eager)


def publish_inbound_event(event_id: int) -> None:
    current_app.tasks[PROCESS_INBOUND_EVENT].delay(event_id)


def publish_inbound_events(event_ids: list[int]) -> None:
    current_app.tasks[PROCESS_INBOUND_EVENTS].delay(event_ids)


def publish_outbox_message(message_id: uuid.UUID) -> None:
    current_app.tasks[DISPATCH_OUTBOX_MESSAGE].delay(str(message_id))
