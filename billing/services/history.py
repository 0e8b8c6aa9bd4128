"""What simple-history records with a billing row's next save: who made the change.

simple-history reads ``_history_user`` off the instance when it writes the history row; the
attribute is declared on no model (and simple-history ships no types), so, like
``mdm.services.history.set_change_reason`` for the reason, this says it exists in one place.
"""

from typing import Protocol, cast

from django.db import models

from config.roles import MaybeUser
from mdm.services.history import set_change_reason

__all__ = ["set_change_reason", "set_history_user"]


class _WithHistoryUser(Protocol):
    _history_user: MaybeUser


def set_history_user(obj: models.Model, user: MaybeUser) -> None:
    """The user simple-history records as the author of ``obj``'s next history row."""
    cast(_WithHistoryUser, obj)._history_user = user
