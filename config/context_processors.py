from django.urls import reverse

from config.registry import navigation as nav_registry
from config.roles import has_role, role_words, user_roles


def navigation(request) -> dict:
    """The top navigation, filtered by the user's roles, with live badges."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": [], "user_role_words": ""}
    items = []
    for item in sorted(nav_registry.values(), key=lambda i: i.order):
        if item.roles and not has_role(user, *item.roles):
            continue
        url = reverse(item.url_name, args=item.url_args)
        items.append(
            {
                "label": item.label,
                "url": url,
                "badge": item.badge(user) if item.badge else None,
                "active": request.path.startswith(url),
            }
        )
    roles = sorted(user_roles(user))
    return {"nav_items": items, "user_roles": roles, "user_role_words": role_words(roles)}
