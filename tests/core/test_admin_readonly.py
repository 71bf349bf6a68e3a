"""The admin cannot change what the actions guard: roles, token revocations, routing rows."""

from __future__ import annotations

import pytest
from django.test import Client

from cityloop.core import actions
from cityloop.core.actors import SYSTEM
from cityloop.core.models import ApiToken, AuditRecord, User
from cityloop.org.models import Responsibility


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(username="root", password="x" * 16)


@pytest.fixture
def root(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_a_superuser_cannot_raise_a_users_role_through_the_admin(root, street_chen):
    records = AuditRecord.objects.count()
    answer = root.post(
        f"/admin/core/user/{street_chen.pk}/change/",
        {"username": "street_chen", "role": "admin", "is_superuser": "on", "is_active": "on"},
    )
    assert answer.status_code == 403
    street_chen.refresh_from_db()
    assert street_chen.role == "street" and not street_chen.is_superuser
    assert AuditRecord.objects.count() == records
    assert root.get(f"/admin/core/user/{street_chen.pk}/change/").status_code == 200  # viewing is fine
    assert root.get(f"/admin/core/user/{street_chen.pk}/password/").status_code == 403


def test_a_superuser_cannot_unrevoke_a_token_or_widen_its_scopes_through_the_admin(root, dispatcher_li):
    token, _secret = actions.create_token(user=dispatcher_li, name="bridge", scopes=["read"], actor=SYSTEM)
    actions.revoke_token(token, actor=SYSTEM)
    answer = root.post(
        f"/admin/core/apitoken/{token.pk}/change/",
        {"name": "bridge", "user": dispatcher_li.pk, "scopes": "hotline,brain", "revoked_at": ""},
    )
    assert answer.status_code == 403
    token = ApiToken.objects.get(pk=token.pk)
    assert token.revoked_at is not None and token.scopes == "read"
    assert root.post(f"/admin/core/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_superuser_cannot_reroute_a_category_through_the_admin(root, city):
    row = Responsibility.objects.filter(category__city=city).select_related("department").first()
    before = (row.department_id, row.route)
    answer = root.post(
        f"/admin/org/responsibility/{row.pk}/change/",
        {"category": row.category_id, "department": row.department_id, "route": "street"},
    )
    assert answer.status_code == 403
    row.refresh_from_db()
    assert (row.department_id, row.route) == before
    assert root.get("/admin/org/responsibility/add/").status_code == 403


def test_there_are_no_group_pages_to_grant_permissions_beside_the_roles(root):
    assert root.get("/admin/auth/group/").status_code == 404
    assert root.get("/admin/").status_code == 200
