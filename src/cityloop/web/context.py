"""What every page's shell needs: the menu for the person's role, the current city, the unread badge."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AnonymousUser

from cityloop.core import permissions


def navigation_for(user) -> list[dict]:
    """The menu: every page declared with a label in ``core.permissions`` that the person may open."""
    return permissions.menu_for(user)


class UnreadNotifications:
    """The badge's number: one COUNT, made only when a page's header shows it (not for JSON or files)."""

    def __init__(self, user) -> None:
        self.user = user

    @cached_property
    def count(self) -> int:
        from cityloop.notify import queries

        return queries.unread(self.user)


def shell(request) -> dict:
    # An error page can be drawn before the authentication middleware has run (a 400 for a bad Host):
    # then nobody is signed in.
    user = getattr(request, "user", None) or AnonymousUser()
    from cityloop.org.queries import default_city

    return {
        "nav_items": navigation_for(user),
        "current_city": default_city(),
        "notifications": UnreadNotifications(user),
    }
