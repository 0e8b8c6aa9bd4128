"""What every app's admin shares: the read-only ledger (docs/security.md, "Admin").

A ledger row records what happened (an invoice and its lines, a time entry, an inbound event,
an outbox message and its attempts, a trace step, a rejected delivery, a sync run, a sandbox
effect): the admin shows it and offers its actions (replay, approve), but never adds, edits or
deletes one, and never reverts one to an older version from its history page. Changes go
through the services, which write the history and the trace.
"""

from django.core.exceptions import PermissionDenied


class LedgerAdminMixin:
    """Put first in a ModelAdmin's bases: no add, no change, no delete; actions stay.

    Without the change permission Django shows the change page as a read-only view of every
    field (inlines included) and still runs the admin's actions. With django-simple-history's
    admin, the history pages stay readable and a revert is refused.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            # simple-history saves the old version on any valid POST, even without the change
            # permission: the ledger's past stays where it is.
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class NoRevertMixin:
    """An editable row (its edits go through a service) whose history is never reverted."""

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
