"""What every page's shell needs: the navigation for the person's role and the current city."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, who may open it) — a set of roles, a predicate on the user (the same check the view
# makes, e.g. only window departments' staff at the window), or None for everyone signed in. Pillars
# append their pages here; the menu shows only links the person may open.
NAVIGATION: list[tuple[str, object, set[str] | Callable[..., bool] | None]] = [
    ("home", _("Home"), None),
    ("audit-trail", _("Audit trail"), {"auditor", "admin"}),
    ("admin:index", _("Administration"), {"admin"}),
]


def navigation_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    role = "admin" if user.is_superuser else user.role
    items = []
    for name, label, roles in NAVIGATION:
        if callable(roles):
            if not roles(user):
                continue
        elif roles is not None and role not in roles:
            continue
        try:
            items.append({"url": reverse(name), "label": label, "name": name})
        except NoReverseMatch:
            continue
    return items


def shell(request) -> dict:
    from cityloop.org.queries import default_city

    return {"nav_items": navigation_for(request.user), "current_city": default_city()}
