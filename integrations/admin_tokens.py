"""The admin of API tokens (registered by integrations/admin.py): prefixes, never secrets.

Tokens are made by `manage.py tokens create|rotate`, which prints each one once, so there is
no add form; a token is revoked here or by the command, never deleted (the row is the record).
"""

from django.contrib import admin, messages
from django.utils import timezone

from integrations.models import ApiToken
from integrations.services.tokens import revoke_token_ids


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["shown_prefix", "client", "role", "status", "expires_at", "last_used_at"]
    list_filter = ["role", "legacy"]
    search_fields = ["client", "prefix"]
    # Everything read-only, and never the digest.
    fields = readonly_fields = (
        "shown_prefix", "client", "role", "user", "status", "legacy", "created_at",
        "expires_at", "last_used_at", "replaced_at", "revoked_at",
    )  # fmt: skip
    actions = ["revoke"]

    shown_prefix = admin.display(description="prefix")(lambda self, obj: obj.shown_prefix)

    @admin.display(description="status")
    def status(self, obj: ApiToken) -> str:
        return obj.status(timezone.now()).label

    def has_add_permission(self, request) -> bool:
        return False  # `manage.py tokens create` makes tokens and prints each one once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row records who had access until when

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        count = revoke_token_ids(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} token(s) revoked", messages.SUCCESS)
