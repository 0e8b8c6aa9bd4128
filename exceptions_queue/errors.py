"""Typed errors of the exception queues (rendered by config.errors.api_exception_handler)."""

from config.errors import DomainError, NotAllowed


class UnknownExceptionType(DomainError):
    code = "unknown_exception_type"


class ExceptionItemNotFound(DomainError):
    """Also what a user gets for an item outside their queues: its existence is not revealed."""

    code, http_status = "exception_item_not_found", 404


class ExceptionItemClosed(DomainError):
    code, http_status = "exception_item_closed", 409


class UnknownAction(DomainError):
    code = "unknown_action"


class ActionInputInvalid(DomainError):
    code = "action_input_invalid"


class ActionRefused(DomainError):
    """Raised by an action handler when the work it would re-run cannot be done yet."""

    code, http_status = "action_refused", 409


class ActionNotAllowed(NotAllowed):
    code = "action_not_allowed"


class OutsideTransaction(DomainError):
    code = "exception_outside_transaction"
