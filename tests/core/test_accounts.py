"""Accounts with roles and scopes, API tokens, and what each person may see."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from cityloop.core import actions, queries, tokens
from cityloop.core.actors import SYSTEM
from cityloop.core.models import ApiToken, AuditRecord, Role, User
from cityloop.org.models import Department, Jurisdiction

pytestmark = pytest.mark.django_db


@pytest.fixture
def d1s1(city):
    return Jurisdiction.objects.get(city=city, code="D1S1")


@pytest.fixture
def water(city):
    return Department.objects.get(city=city, code="WATER")


def _add(username, role, **extra):
    return actions.add_user(
        username=username, password="a long enough Passphrase 7", role=role, actor=SYSTEM, **extra
    )


def _field_errors(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


# --- accounts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.DISPATCHER, Role.LEADER, Role.ADMIN, Role.AUDITOR])
def test_an_unscoped_role_is_created_without_street_or_department(role):
    user = _add(f"user_{role}", role)

    user.refresh_from_db()
    assert (user.role, user.street, user.department) == (role, None, None)
    assert user.is_superuser == user.is_staff == (role == Role.ADMIN)


def test_a_street_official_is_created_for_a_street(d1s1):
    user = _add("street_new", Role.STREET, street=d1s1)

    user.refresh_from_db()
    assert (user.street, user.department) == (d1s1, None)


def test_department_staff_is_created_for_a_department(water):
    user = _add("dept_new", Role.DEPARTMENT, department=water)

    user.refresh_from_db()
    assert (user.department, user.street) == (water, None)


def test_the_personas_have_their_scopes(street_chen, dept_water_zhao, citizen_wang, dispatcher_li):
    assert street_chen.street.code == "D1S1" and street_chen.role == Role.STREET
    assert dept_water_zhao.department.code == "WATER" and dept_water_zhao.role == Role.DEPARTMENT
    assert citizen_wang.role == Role.CITIZEN and dispatcher_li.role == Role.DISPATCHER


def test_a_street_official_without_a_street_is_refused_naming_street(city):
    with pytest.raises(ValidationError) as refused:
        _add("street_none", Role.STREET)

    assert "street" in _field_errors(refused)
    assert not User.objects.filter(username="street_none").exists()


def test_a_street_official_pointed_at_a_district_is_refused_naming_street(city):
    district = Jurisdiction.objects.get(city=city, code="D1")

    with pytest.raises(ValidationError) as refused:
        _add("street_district", Role.STREET, street=district)

    assert "not a district" in " ".join(_field_errors(refused)["street"])


def test_department_staff_given_a_street_is_refused_naming_street(d1s1, water):
    with pytest.raises(ValidationError) as refused:
        _add("dept_street", Role.DEPARTMENT, department=water, street=d1s1)

    assert list(_field_errors(refused)) == ["street"]


def test_department_staff_without_a_department_is_refused_naming_department(city):
    with pytest.raises(ValidationError) as refused:
        _add("dept_none", Role.DEPARTMENT)

    assert "department" in _field_errors(refused)


def test_a_citizen_given_a_department_is_refused_naming_department(water):
    with pytest.raises(ValidationError) as refused:
        _add("citizen_dept", Role.CITIZEN, department=water)

    assert "department" in _field_errors(refused)


def test_an_unknown_role_is_refused_naming_role():
    with pytest.raises(ValidationError) as refused:
        _add("mayor_x", "mayor")

    assert "role" in _field_errors(refused)


def test_a_taken_username_is_refused_naming_username(citizen_wang):
    with pytest.raises(ValidationError) as refused:
        _add("citizen_wang", Role.CITIZEN)

    assert "username" in _field_errors(refused)
    assert User.objects.filter(username="citizen_wang").count() == 1


@pytest.mark.parametrize("weak", ["short", "password123", "12345678"])
def test_a_weak_password_is_refused_naming_password(weak):
    with pytest.raises(ValidationError) as refused:
        actions.add_user(username="weak_one", password=weak, role=Role.CITIZEN, actor=SYSTEM)

    assert list(_field_errors(refused)) == ["password"]
    assert not User.objects.filter(username="weak_one").exists()
    assert not AuditRecord.objects.filter(action="user.add").exists()


def test_passwords_are_stored_as_argon2_hashes(citizen_wang, persona_password):
    assert citizen_wang.password.startswith("argon2")
    assert persona_password not in citizen_wang.password
    assert citizen_wang.check_password(persona_password)


def test_the_project_hashes_passwords_with_argon2_first():
    from cityloop import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_a_persona_logs_in_with_its_password_and_not_with_another(citizen_wang, persona_password):
    assert Client().login(username="citizen_wang", password=persona_password)
    assert not Client().login(username="citizen_wang", password="not-the-password")


def test_only_an_administrator_may_add_users(dispatcher_li, admin_zhang):
    with pytest.raises(PermissionDenied):
        actions.add_user(
            username="sneaky", password="x", role=Role.ADMIN, actor=dispatcher_li, check_password=False
        )

    made = actions.add_user(
        username="proper", password="x", role=Role.CITIZEN, actor=admin_zhang, check_password=False
    )
    assert made.pk and not User.objects.filter(username="sneaky").exists()


# --- API tokens ------------------------------------------------------------------------------------------


def test_a_token_secret_is_returned_once_and_only_its_sha256_is_stored(dispatcher_li):
    token, secret = actions.create_token(
        user=dispatcher_li, name="FixMyStreet bridge", scopes=["hotline"], actor=SYSTEM
    )

    stored = ApiToken.objects.get(pk=token.pk)
    assert secret.startswith(tokens.PREFIX) and len(secret) > 40
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(getattr(stored, f.attname)) for f in ApiToken._meta.concrete_fields)
    assert secret.startswith(f"{tokens.PREFIX}{stored.prefix}_")


def test_a_token_is_found_by_its_secret_for_its_scope(dispatcher_li):
    token, secret = actions.create_token(
        user=dispatcher_li, name="bridge", scopes=["hotline", "open311"], actor=SYSTEM
    )

    found = tokens.lookup(secret, scope="hotline")

    assert found == token and found.user == dispatcher_li
    assert tokens.lookup(secret, scope="open311") == token
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_a_token_is_refused_for_a_scope_it_lacks_even_for_reading(dispatcher_li):
    _, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)

    assert tokens.lookup(secret, scope="brain") is None
    assert tokens.lookup(secret, scope="brain", read_only=True) is None


def test_a_read_token_serves_only_read_only_lookups(dispatcher_li):
    token, secret = actions.create_token(user=dispatcher_li, name="dashboard", scopes=["read"], actor=SYSTEM)

    assert tokens.lookup(secret, scope="hotline", read_only=True) == token
    assert tokens.lookup(secret, scope="hotline") is None


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "clk_",
        "not-a-token",
        "clk_deadbeef_nothing-here",
    ],
)
def test_a_malformed_or_unknown_secret_finds_no_token(dispatcher_li, forged):
    actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)

    assert tokens.lookup(forged, scope="hotline") is None


def test_a_secret_with_the_right_prefix_but_wrong_body_is_refused(dispatcher_li):
    _, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)

    assert tokens.lookup(secret[:-1] + ("A" if secret[-1] != "A" else "B"), scope="hotline") is None


def test_a_revoked_token_is_refused_and_cannot_be_revoked_twice(dispatcher_li):
    token, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)

    actions.revoke_token(token, actor=SYSTEM)

    assert tokens.lookup(secret, scope="hotline") is None
    with pytest.raises(ValidationError) as refused:
        actions.revoke_token(token, actor=SYSTEM)
    assert "token" in _field_errors(refused)


def test_an_expired_token_is_refused(dispatcher_li):
    token, secret = actions.create_token(
        user=dispatcher_li,
        name="bridge",
        scopes=["hotline"],
        actor=SYSTEM,
        expires_at=timezone.now() + timedelta(days=1),
    )
    assert tokens.lookup(secret, scope="hotline") == token

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    tokens.forget_cached()  # lookups are cached for tokens.CACHE_SECONDS per process

    assert tokens.lookup(secret, scope="hotline") is None


def test_a_token_of_a_deactivated_account_is_refused(dispatcher_li):
    _, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)

    User.objects.filter(pk=dispatcher_li.pk).update(is_active=False)

    assert tokens.lookup(secret, scope="hotline") is None


def test_an_expiry_in_the_past_is_refused_naming_expires_at(dispatcher_li):
    with pytest.raises(ValidationError) as refused:
        actions.create_token(
            user=dispatcher_li,
            name="bridge",
            scopes=["hotline"],
            actor=SYSTEM,
            expires_at=timezone.now() - timedelta(days=1),
        )

    assert "expires_at" in _field_errors(refused)


@pytest.mark.parametrize("scopes", [["hotline", "superpowers"], []])
def test_an_unknown_or_missing_scope_is_refused_naming_scopes(dispatcher_li, scopes):
    with pytest.raises(ValidationError) as refused:
        actions.create_token(user=dispatcher_li, name="bridge", scopes=scopes, actor=SYSTEM)

    assert list(_field_errors(refused)) == ["scopes"]
    assert not ApiToken.objects.exists()


def test_a_token_without_a_name_is_refused_naming_name(dispatcher_li):
    with pytest.raises(ValidationError) as refused:
        actions.create_token(user=dispatcher_li, name="  ", scopes=["hotline"], actor=SYSTEM)

    assert "name" in _field_errors(refused)


def test_only_an_administrator_may_create_or_revoke_tokens(dispatcher_li, street_chen, admin_zhang):
    with pytest.raises(PermissionDenied):
        actions.create_token(user=dispatcher_li, name="mine", scopes=["read"], actor=dispatcher_li)
    token, _ = actions.create_token(user=dispatcher_li, name="bridge", scopes=["read"], actor=admin_zhang)

    with pytest.raises(PermissionDenied):
        actions.revoke_token(token, actor=street_chen)

    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["bridge"]


# --- who sees what ---------------------------------------------------------------------------------------


@pytest.fixture
def everyone(
    city,
    citizen_wang,
    outsider_zhou,
    dispatcher_li,
    street_chen,
    dept_water_zhao,
    leader_sun,
    admin_zhang,
    auditor_qian,
):
    """All personas, plus a second official of another street and a second staff member of another
    department."""
    _add("street_other", Role.STREET, street=Jurisdiction.objects.get(city=city, code="D2S1"))
    _add("dept_other", Role.DEPARTMENT, department=Department.objects.get(city=city, code="CITYMGMT"))
    _add("street_colleague", Role.STREET, street=street_chen.street)
    return {u.username: u for u in User.objects.all()}


def _visible_to(actor) -> set[str]:
    rows = queries.for_actor(
        User.objects.all(), actor, street="street_id", department="department_id", owner="pk"
    )
    return set(rows.values_list("username", flat=True))


@pytest.mark.parametrize("username", ["dispatcher_li", "leader_sun", "admin_zhang", "auditor_qian"])
def test_citywide_roles_see_every_row(everyone, username):
    assert _visible_to(everyone[username]) == set(everyone)


def test_a_street_official_sees_only_rows_of_their_street(everyone):
    assert _visible_to(everyone["street_chen"]) == {"street_chen", "street_colleague"}


def test_department_staff_see_only_rows_of_their_department(everyone):
    assert _visible_to(everyone["dept_water_zhao"]) == {"dept_water_zhao"}
    assert _visible_to(everyone["dept_other"]) == {"dept_other"}


def test_a_citizen_sees_only_their_own_rows(everyone):
    assert _visible_to(everyone["citizen_wang"]) == {"citizen_wang"}
    assert _visible_to(everyone["outsider_zhou"]) == {"outsider_zhou"}


def test_nobody_signed_in_sees_nothing(everyone):
    assert _visible_to(AnonymousUser()) == set()
    # the system acts through the actions' own checks; a read scoped to "the person asking" shows it nothing
    assert _visible_to(SYSTEM) == set()
    with pytest.raises(TypeError, match="actor is required"):
        _visible_to(None)


def test_a_role_whose_tie_the_model_lacks_sees_nothing(everyone):
    only_owner = queries.for_actor(User.objects.all(), everyone["street_chen"], owner="pk")

    assert not only_owner.exists()
    assert queries.for_actor(User.objects.all(), everyone["leader_sun"]).count() == len(everyone)


def test_a_revoked_token_is_refused_at_once_although_lookups_are_cached(
    dispatcher_li, django_capture_on_commit_callbacks
):
    token, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)
    assert tokens.lookup(secret, scope="hotline") == token  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        actions.revoke_token(token, actor=SYSTEM)
    assert tokens.lookup(secret, scope="hotline") is None


def test_a_token_revoked_by_another_process_stops_working_here_within_a_second(dispatcher_li):
    from django.core.cache import cache

    token, secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["hotline"], actor=SYSTEM)
    assert tokens.lookup(secret, scope="hotline") == token  # remembered by this process
    # Another worker revokes it: the row changes and the shared epoch moves, this process's memory does not.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    cache.set(tokens.EPOCH_KEY, "moved-by-another-worker", None)
    assert tokens.lookup(secret, scope="hotline") == token  # within the second, still remembered
    tokens._epoch[1] -= tokens.EPOCH_SECONDS + 0.1  # a second later (the monotonic clock is not pinned)
    assert tokens.lookup(secret, scope="hotline") is None
