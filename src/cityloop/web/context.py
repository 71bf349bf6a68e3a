"""What every page's shell needs: the menu for the person's role and the current city."""

from __future__ import annotations

from cityloop.core import permissions


def navigation_for(user) -> list[dict]:
    """The menu: every page declared with a label in ``core.permissions`` that the person may open."""
    return permissions.menu_for(user)


def shell(request) -> dict:
    from cityloop.org.queries import default_city

    return {"nav_items": navigation_for(request.user), "current_city": default_city()}
