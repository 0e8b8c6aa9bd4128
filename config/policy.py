"""The one permission policy of pages and the API: who may do what, as a matrix.

``MATRIX[resource][action]`` is the set of roles that may do it; admins may do everything
(config/roles.py). Every API view takes its permission from :func:`api_permission`, every page
calls :func:`require`, every navigation item and dashboard panel names its roles with
:func:`roles_for`, so a page never refuses what the API allows or the other way round. The same
table is in docs/security.md ("Who may do what") and a test checks every cell against both.

Objects are checked too. A trace step is shown to a viewer only when its subject is
(:func:`can_see_subject`): each subject model names its resource in ``SUBJECTS`` and an app may
register a finer check for its own models (:func:`register_object_check`: exception items by
queue, inbound events by the token's systems). A step with no subject, or a subject no rule
names, is operational detail: operations only. Operations see every step (they run the pipeline
and replay it) except exception items of other queues.
"""

from collections.abc import Callable
from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from config.roles import (
    ADMIN,
    FINANCE,
    INTEGRATION,
    OPERATIONS,
    PMO,
    MaybeUser,
    has_role,
    role_words,
)

READ = "read"

MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "customers": {READ: frozenset({FINANCE, PMO, OPERATIONS})},
    "projects": {READ: frozenset({PMO, FINANCE}), "rerate": frozenset({FINANCE})},
    "time_entries": {READ: frozenset({FINANCE, PMO})},
    "invoices": {
        READ: frozenset({FINANCE}),
        "approve": frozenset({FINANCE}),
        "retry_posting": frozenset({FINANCE}),
        "adjust": frozenset({FINANCE}),
    },
    "billing_runs": {READ: frozenset({FINANCE}), "start": frozenset({FINANCE})},
    # The revenue-leakage ledger (docs/finance-controls/leakage.md): finance's money.
    "leakage": {READ: frozenset({FINANCE})},
    # An invoice line's or a delivery's lineage (docs/finance-controls/lineage.md): finance
    # audits its invoices, operations run the pipeline; each part inside by its own rule.
    "lineage": {READ: frozenset({FINANCE, OPERATIONS})},
    # The reconciliation control (approved ↔ rated ↔ invoiced ↔ ERP ↔ CRM): finance's.
    "reconciliation": {READ: frozenset({FINANCE}), "run": frozenset({FINANCE})},
    # Four eyes: the queue of money-moving actions waiting for a second person.
    "approvals": {READ: frozenset({FINANCE}), "decide": frozenset({FINANCE})},
    # Period close: a month of an entity opened, closing or closed; late time moved.
    "periods": {
        READ: frozenset({FINANCE}),
        "close": frozenset({FINANCE}),
        "move_late_time": frozenset({FINANCE}),
    },
    "rate_cards": {READ: frozenset({FINANCE, PMO}), "write": frozenset()},
    "exceptions": {READ: frozenset({FINANCE, PMO, OPERATIONS})},
    # An integration client reads the events of the systems its token names, nothing else;
    # ``read_all`` is every system's.
    "events": {
        READ: frozenset({OPERATIONS, INTEGRATION}),
        "read_all": frozenset({OPERATIONS}),
        "replay": frozenset({OPERATIONS}),
    },
    "outbox": {READ: frozenset({OPERATIONS}), "replay": frozenset({OPERATIONS})},
    "systems": {READ: frozenset({OPERATIONS}), "breaker": frozenset({OPERATIONS})},
    "operations": {READ: frozenset({OPERATIONS}), "demo_traffic": frozenset({OPERATIONS})},
    # Operations run the pipeline and replay it: they see every step of a trace (the record's
    # own page keeps its own rule), except other queues' exception items.
    "traces": {
        READ: frozenset({FINANCE, PMO, OPERATIONS, INTEGRATION}),
        "every_step": frozenset({OPERATIONS}),
    },
    "dashboards": {READ: frozenset({FINANCE, PMO, OPERATIONS})},
    "integration_health": {READ: frozenset({OPERATIONS})},
}

# The resource of each model a trace step may point at ("app_label.model").
SUBJECTS: dict[str, str] = {
    "mdm.customer": "customers",
    "mdm.billingprofile": "customers",
    "mdm.contact": "customers",
    "billing.project": "projects",
    "billing.timeentry": "time_entries",
    "billing.invoice": "invoices",
    "billing.invoiceline": "invoices",
    "billing.billingrun": "billing_runs",
    "billing.ratecard": "rate_cards",
    "exceptions_queue.exceptionitem": "exceptions",
    "integrations.inboundevent": "events",
    "integrations.outboxmessage": "outbox",
}

ObjectCheck = Callable[[Any, Any], bool]  # (request, object) -> visible
_object_checks: dict[str, ObjectCheck] = {}


class PolicyError(LookupError):
    """A resource or action the matrix does not name: a programming error, caught by tests."""


def roles_for(resource: str, action: str = READ) -> tuple[str, ...]:
    """The roles that may do ``action`` on ``resource`` (admins always may), sorted."""
    try:
        return tuple(sorted(MATRIX[resource][action]))
    except KeyError as exc:
        raise PolicyError(f"the policy names no {action!r} on {resource!r}") from exc


def allows(user: MaybeUser, resource: str, action: str = READ) -> bool:
    """True when ``user`` holds a role that may do ``action`` on ``resource``."""
    roles = roles_for(resource, action)
    return bool(user is not None and user.is_authenticated and has_role(user, *roles))


def refusal(resource: str, action: str = READ) -> str:
    """The words of a refusal: the roles that would have been allowed."""
    return f"requires one of the roles: {', '.join(roles_for(resource, action) or (ADMIN,))}"


def require(request, resource: str, action: str = READ) -> None:
    """For pages: raise Django's PermissionDenied unless the signed-in user may; its words
    (shown on the 403 page) name the roles that may."""
    from django.core.exceptions import PermissionDenied

    if not allows(request.user, resource, action):
        roles = roles_for(resource, action) or (ADMIN,)
        raise PermissionDenied(f"This is for {role_words(roles)}.")


def api_permission(
    resource: str, *, errors: dict[str, type[Exception]] | None = None, **unsafe: str
) -> type[BasePermission]:
    """A DRF permission: safe methods need ``read`` on ``resource``; every other method needs
    the action named for it (``api_permission("invoices", POST="approve")``); a method with
    no action named is refused. ``errors`` maps an action to the error its refusal raises
    where the contract names one (a stable code) instead of the framework's 403."""

    class Allowed(BasePermission):
        def _action(self, method: str) -> str | None:
            return READ if method in SAFE_METHODS else unsafe.get(method)

        def has_permission(self, request, view) -> bool:
            action = self._action(request.method)
            if action is None:
                self.message = f"{request.method} is not allowed here"
                return False
            self.message = refusal(resource, action)
            allowed = allows(request.user, resource, action)
            if not allowed and request.user.is_authenticated and action in (errors or {}):
                raise (errors or {})[action](self.message)
            return allowed

    Allowed.__name__ = f"Allowed_{resource}"
    return Allowed


def register_object_check(label: str, check: ObjectCheck) -> None:
    """A finer check for one subject model ("app_label.model"), from that app's ready()."""
    _object_checks[label] = check


def can_see_subject(request, label: str, obj: Any) -> bool:
    """Whether the viewer of ``request`` may see ``obj`` (a model instance labelled ``label``)
    where it appears inside another record, e.g. as a trace step's subject. A registered
    object check decides alone; otherwise reading the subject's resource is enough."""
    check = _object_checks.get(label)
    if check is not None and obj is not None:
        return check(request, obj)
    if allows(request.user, "traces", "every_step"):
        return True
    resource = SUBJECTS.get(label)
    return resource is not None and obj is not None and allows(request.user, resource)
