"""Who acts: a person, the anonymous public, or a named part of the system — never ``None``."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from cityloop.core import actors, permissions
from cityloop.core.queries import require_admin, scope_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("actor", [actors.SYSTEM, actors.COMMAND, actors.BRAIN, actors.SCHEDULE])
def test_the_system_passes_an_actions_own_guard_but_holds_no_role_and_sees_nothing(actor):
    require_admin(actor, to="rotate keys")  # the command line acts for the machine's owner
    assert actors.is_system(actor)
    assert permissions.role_of(actor) is None and not permissions.has_role(actor, permissions.STAFF)
    assert scope_of(actor) == scope_of(AnonymousUser())
    assert actors.person(actor) is None


def test_an_anonymous_visitor_or_a_citizen_is_refused_where_the_system_is_let_through(citizen_wang):
    for actor in (AnonymousUser(), citizen_wang):
        with pytest.raises(PermissionDenied):
            require_admin(actor, to="rotate keys")
        assert not actors.is_system(actor)


def test_a_person_is_a_person_and_only_a_person_is_signed_in(citizen_wang):
    assert actors.person(citizen_wang) == citizen_wang == actors.signed_in(citizen_wang)
    assert actors.person(AnonymousUser()) is None
    for nobody in (AnonymousUser(), actors.SYSTEM):
        with pytest.raises(PermissionDenied):
            actors.signed_in(nobody)


def test_none_is_refused_wherever_an_actor_is_read():
    for read in (actors.checked, actors.person, scope_of):
        with pytest.raises(TypeError, match="actor is required"):
            read(None)
