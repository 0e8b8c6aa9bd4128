from exceptions_queue.models.controls import ControlResult, ControlRun
from exceptions_queue.models.items import (
    ExceptionComment,
    ExceptionItem,
    ExceptionMember,
    Queue,
    Severity,
)
from exceptions_queue.models.subscriptions import QueueSubscription

__all__ = [
    "ControlResult",
    "ControlRun",
    "ExceptionComment",
    "ExceptionItem",
    "ExceptionMember",
    "Queue",
    "QueueSubscription",
    "Severity",
]
