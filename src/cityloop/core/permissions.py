"""Who may do what, declared once: the role sets, the guard of every page, and the menu.

Each app declares its pages in its ``AppConfig.ready()``::

    permissions.declare("hotline:queue", permissions.DISPATCH, menu=_("Dispatch queue"))

and guards the view with the same name::

    @permissions.page("hotline:queue")
    def queue(request): ...

The guard sends people who are not signed in to the login page and answers 403 to the others whom the
declaration does not admit; the menu (``menu_for``) lists exactly the declared pages with a menu label
that the person may open. A declaration admits a set of roles, a predicate on the user (the same check
the view makes, e.g. only window departments' staff at the window) or ``SIGNED_IN``. A superuser counts
as the ``admin`` role everywhere. Actions and queries test the same sets with ``has_role``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.urls import NoReverseMatch, reverse

from cityloop.core.models import Role as Role  # other apps take the roles from here, not from models

# ---------------------------------------------------------------------------------------- role sets
CITIZEN = frozenset({Role.CITIZEN})
DISPATCH = frozenset({Role.DISPATCHER, Role.ADMIN})  # the 12345 centre
STREET = frozenset({Role.STREET})
DEPARTMENT = frozenset({Role.DEPARTMENT})
UNITS = STREET | DEPARTMENT  # the units that receive orders (an inbox)
ADMIN = frozenset({Role.ADMIN})
AUDIT = frozenset({Role.AUDITOR, Role.ADMIN})  # the audit trail
OVERVIEW = frozenset({Role.LEADER, Role.DISPATCHER, Role.ADMIN, Role.AUDITOR})  # dashboard, report
CITYWIDE = OVERVIEW  # may see every request of the city
SEARCH = DISPATCH | UNITS | {Role.LEADER}
STAFF = frozenset({Role.DISPATCHER, Role.STREET, Role.DEPARTMENT, Role.LEADER, Role.ADMIN, Role.AUDITOR})
APPROVERS = frozenset({Role.DEPARTMENT, Role.LEADER, Role.ADMIN})  # services' approval tasks
REFORM_READERS = frozenset({Role.LEADER, Role.ADMIN, Role.AUDITOR})  # services' reform report, seals
SIGNED_IN = None  # anyone signed in

Who = frozenset | set | Callable[..., bool] | None
ANOTHER_ROLE = "this page is for another role"  # the refusal when a declaration names none


def role_of(user) -> str | None:
    """The role a person acts in: ``admin`` for a superuser, none for someone not signed in."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Role.ADMIN if user.is_superuser else user.role


def has_role(user, roles) -> bool:
    """Whether a signed-in person holds one of ``roles`` (a superuser holds ``admin``)."""
    role = role_of(user)
    return role is not None and role in roles


def admits(who: Who, user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if who is SIGNED_IN:
        return True
    if callable(who):
        return bool(who(user))
    return has_role(user, who)


# ---------------------------------------------------------------------------------------- pages
@dataclass(frozen=True)
class Page:
    name: str  # the URL name, e.g. "hotline:queue"
    who: Who
    menu: object = None  # the menu label (lazy translation), or None for a page not in the menu
    denied: str = ANOTHER_ROLE


PAGES: dict[str, Page] = {}


def declare(name: str, who: Who, *, menu: object = None, denied: str = "", after: str | None = None) -> Page:
    """Declare (once; again is a no-op) who may open the page ``name``; ``menu`` puts it in the menu.

    The menu lists pages in the order of declaration; ``after`` places a page after another one.
    """
    if name in PAGES:
        return PAGES[name]
    page = Page(name, who, menu, denied or ANOTHER_ROLE)
    if after is not None and after in PAGES:
        items = list(PAGES.items())
        at = [key for key, _ in items].index(after) + 1
        items.insert(at, (name, page))
        PAGES.clear()
        PAGES.update(items)
    else:
        PAGES[name] = page
    return page


def declared(name: str) -> Page:
    try:
        return PAGES[name]
    except KeyError:
        raise ImproperlyConfigured(f"page {name!r} is guarded but was never declared") from None


def page(name_or_who: str | Who, *, denied: str = ""):
    """The one guard of a view: login first, then 403 unless the declaration admits the person.

    ``@page("hotline:queue")`` uses the page's declaration (the one the menu is built from);
    ``@page(permissions.DISPATCH)`` guards a page that is not in the menu with a role set or predicate.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if isinstance(name_or_who, str):
                declaration = declared(name_or_who)
            else:
                declaration = Page("", name_or_who, None, denied or ANOTHER_ROLE)
            if not admits(declaration.who, request.user):
                raise PermissionDenied(declaration.denied)
            return view(request, *args, **kwargs)

        return guarded

    return decorator


def require(user, who: Who, message: str = "permission denied") -> None:
    """The guard inside a view or an action that serves several pages (raises PermissionDenied)."""
    if not admits(who, user):
        raise PermissionDenied(message)


def menu_for(user) -> list[dict]:
    """The menu of a signed-in person: every declared menu page they may open, in declaration order."""
    if not getattr(user, "is_authenticated", False):
        return []
    items = []
    for declaration in PAGES.values():
        if declaration.menu is None or not admits(declaration.who, user):
            continue
        try:
            items.append(
                {"url": reverse(declaration.name), "label": declaration.menu, "name": declaration.name}
            )
        except NoReverseMatch:
            continue
    return items
