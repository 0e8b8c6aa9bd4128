from rest_framework.permissions import BasePermission

from config.roles import has_role


def role_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission class granting access to users holding any of ``roles`` (admins always)."""

    class HasRole(BasePermission):
        message = f"requires one of the roles: {', '.join(roles)}"

        def has_permission(self, request, view) -> bool:
            return bool(
                request.user and request.user.is_authenticated and has_role(request.user, *roles)
            )

    HasRole.__name__ = f"HasRole_{'_'.join(roles)}"
    return HasRole
