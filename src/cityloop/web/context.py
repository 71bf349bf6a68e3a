"""What every page's shell needs: the navigation for the person's role and the current city."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, roles allowed or None for everyone signed in); pillars append their pages here.
NAVIGATION: list[tuple[str, object, set[str] | None]] = [
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
        if roles is not None and role not in roles:
            continue
        try:
            items.append({"url": reverse(name), "label": label, "name": name})
        except NoReverseMatch:
            continue
    return items


def shell(request) -> dict:
    from cityloop.org.queries import default_city

    return {"nav_items": navigation_for(request.user), "current_city": default_city()}
