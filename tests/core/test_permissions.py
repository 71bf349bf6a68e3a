"""One declaration per page guards the view and builds the menu (core/permissions.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from cityloop.core import permissions
from cityloop.core.permissions import Role


def _user(role: str, *, superuser: bool = False, signed_in: bool = True):
    return SimpleNamespace(role=role, is_superuser=superuser, is_authenticated=signed_in)


@pytest.mark.parametrize(
    ("who", "user", "admitted"),
    [
        (permissions.DISPATCH, _user(Role.DISPATCHER), True),
        (permissions.DISPATCH, _user(Role.STREET), False),
        (permissions.DISPATCH, _user(Role.CITIZEN, superuser=True), True),  # a superuser acts as admin
        (permissions.CITIZEN, _user(Role.CITIZEN, superuser=True), False),  # ... and not as a citizen
        (permissions.UNITS, _user(Role.DEPARTMENT), True),
        (permissions.UNITS, _user(Role.LEADER), False),
        (permissions.SIGNED_IN, _user(Role.CITIZEN), True),
        (permissions.SIGNED_IN, _user(Role.ADMIN, signed_in=False), False),
        (permissions.STAFF, _user(Role.ADMIN, signed_in=False), False),
        (lambda user: user.role == Role.LEADER, _user(Role.LEADER), True),
        (lambda user: user.role == Role.LEADER, _user(Role.AUDITOR), False),
    ],
)
def test_a_declaration_admits_exactly_its_roles(who, user, admitted):
    assert permissions.admits(who, user) is admitted


def test_the_role_sets_are_built_from_the_roles_that_exist():
    every = {str(r) for r in Role}
    for name in (
        "CITIZEN",
        "DISPATCH",
        "UNITS",
        "ADMIN",
        "AUDIT",
        "OVERVIEW",
        "SEARCH",
        "STAFF",
        "APPROVERS",
    ):
        assert getattr(permissions, name) <= every, name
    assert Role.CITIZEN not in permissions.STAFF


def test_the_menu_keeps_the_order_users_know(django_user_model):
    names = list(permissions.PAGES)
    assert names[:3] == ["home", "audit-trail", "admin:index"]
    assert names.index("services:report") + 1 == names.index("brain:pulse")
    assert names.index("brain:pulse") + 1 == names.index("seal:certificates")
    assert names.index("hotline:import") < names.index("leaders:dashboard") < names.index("whistles:street")


def test_every_menu_page_is_declared_once_and_reachable():
    from django.urls import reverse

    for page in permissions.PAGES.values():
        if page.menu is not None:
            assert reverse(page.name)


def test_the_guard_sends_strangers_to_login_and_refuses_other_roles():
    permissions.declare("test:guarded", permissions.DISPATCH, denied="only the centre")

    @permissions.page("test:guarded")
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/x")
    request.user = _user(Role.DISPATCHER, signed_in=False)
    assert view(request).status_code == 302
    request.user = _user(Role.STREET)
    with pytest.raises(PermissionDenied, match="only the centre"):
        view(request)
    request.user = _user(Role.DISPATCHER)
    assert view(request).content == b"ok"
    del permissions.PAGES["test:guarded"]


def test_a_guard_on_an_undeclared_page_is_a_configuration_error_not_an_open_door():
    @permissions.page("test:never-declared")
    def view(request):
        return HttpResponse("ok")

    request = RequestFactory().get("/x")
    request.user = _user(Role.ADMIN)
    with pytest.raises(ImproperlyConfigured, match="never declared"):
        view(request)
