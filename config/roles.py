"""Roles are Django groups. A token is scoped to its user's roles (docs/contract.md §2)."""

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as DjangoUser

# Who a service acts for: a signed-in person (Django's user, with groups) or nobody.
User: TypeAlias = DjangoUser
MaybeUser: TypeAlias = DjangoUser | AnonymousUser | None

ADMIN, FINANCE, PMO, OPERATIONS, INTEGRATION = (
    "admin",
    "finance",
    "pmo",
    "operations",
    "integration",
)
ROLES = (ADMIN, FINANCE, PMO, OPERATIONS, INTEGRATION)
# How a person reads a role.
ROLE_LABELS = {
    ADMIN: "Administrator",
    FINANCE: "Finance",
    PMO: "PMO",
    OPERATIONS: "Operations",
    INTEGRATION: "Integration client",
}


def role_words(roles) -> str:
    """ "Finance and PMO", "Finance, PMO and Operations": the roles as a person reads them."""
    labels = [ROLE_LABELS.get(role, role) for role in roles]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def user_roles(user: MaybeUser) -> frozenset[str]:
    """The roles of a user; a superuser is an admin. Cached on the user object per request."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_throughline_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(ADMIN)
        cached = frozenset(names)
        setattr(user, "_throughline_roles", cached)  # noqa: B010 a per-request cache
    return cached


def has_role(user: MaybeUser, *roles: str) -> bool:
    """True when the user holds any of ``roles``; admins hold every role."""
    mine = user_roles(user)
    return ADMIN in mine or bool(mine.intersection(roles))


def ensure_role_groups(**_kwargs: object) -> None:
    """Create the role groups (post_migrate: idempotent)."""
    from django.contrib.auth.models import Group

    for name in ROLES:
        Group.objects.get_or_create(name=name)
