"""Role × object access matrix, generated from the URL resolver (issue 10 #17).

Every URL pattern (web pages, every /api/v1 operation, services, seal, brain, Open311, admin) is
requested by every role, against the objects of the actor's own street/department (side "own") and of
another's (side "other"). ``ALLOWED`` below is the one table of expected answers: pattern name →
role → the sides on which a GET may succeed (2xx, or a redirect that is not to the login page).
Anything not in the table must be denied (401/403/404/405, or a redirect to the login page), a
pattern missing from the table fails the test, and no access may answer 5xx. Writes (POST) by a role
with no allowed GET on a pattern must be denied too.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cityloop.core.actors import SYSTEM
from tests.city_fixture import ROLES, build_city, fill, has_args, url_patterns
from tests.conftest import TINY_PACK, TINY_PLACES
from tests.security.access_table import ALLOWED

BOTH = ("own", "other")
OWN = ("own",)


@pytest.fixture
def town(db):
    # One city per module: the module has one test, which sweeps everything.
    from cityloop.seal import actions as seal_actions

    town = build_city(TINY_PACK, TINY_PLACES)
    # the city seal exists, as after the first certificate: its status list is public
    seal_actions.signing_key(seal_actions.CITY_AUTHORITY, actor=SYSTEM)
    return town


def _client(town, role):
    headers = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    if role != "anonymous":  # the API takes the role's token; pages take its session
        headers["HTTP_AUTHORIZATION"] = f"Bearer {town.extra['tokens'][role]}"
    client = Client(raise_request_exception=False, **headers)
    if role != "anonymous":
        client.force_login(town.users[role])
    return client


def _allowed(response) -> bool:
    if 200 <= response.status_code < 300:
        return True
    if response.status_code in (301, 302, 303, 307, 308):
        return "/login/" not in response.get("Location", "") and "/admin/login/" not in response.get(
            "Location", ""
        )
    return False


# A GET may touch only the bookkeeping of the visit itself: the session, a token's last use, the login
# throttle. Anything else written on a GET is a page that changes the city by being opened.
BOOKKEEPING = ("django_session", "core_api_token", "axes_")
WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)


def _writes(queries) -> list[str]:
    found = []
    for query in queries:
        match = WRITE.match(query["sql"])
        if match and not match.group(2).startswith(BOOKKEEPING):
            found.append(f"{match.group(1).split()[0].upper()} {match.group(2)}")
    return found


def observe(town, method="get", writes: dict | None = None):
    """{(name, role, side): status} for every pattern; ``writes`` collects what each request wrote."""
    seen = {}
    for role in ROLES:
        client = _client(town, role)
        for name, route in url_patterns():
            sides = BOTH if has_args(route) else OWN
            for side in sides:
                url = fill(name, route, getattr(town, side))
                with CaptureQueriesContext(connection) as captured:
                    response = getattr(client, method)(url)
                seen[(name, route, role, side)] = response
                if writes is not None and _writes(captured.captured_queries):
                    writes[(name, role, side)] = _writes(captured.captured_queries)
    return seen


def test_every_url_answers_every_role_as_the_table_says(town):
    problems = []
    patterns = url_patterns()
    missing = sorted({name for name, _ in patterns} - set(ALLOWED))
    assert not missing, f"URL patterns missing from the access table: {missing}"
    writes: dict = {}
    for (name, route, role, side), response in observe(town, writes=writes).items():
        expected = side in ALLOWED[name].get(role, ALLOWED[name].get("*", ()))
        if response.status_code >= 500:
            problems.append(f"{name} {role}/{side}: {response.status_code}")
        elif _allowed(response) != expected:
            problems.append(
                f"{name} {route} {role}/{side}: {response.status_code} "
                f"{response.get('Location', '')} expected {'allowed' if expected else 'denied'}"
            )
    assert not problems, "\n".join(problems)
    # no view writes on GET (issue 12): opening any page or API read changes nothing in the city
    assert not writes, "\n".join(
        f"GET {name} as {role}/{side} wrote {w}" for (name, role, side), w in writes.items()
    )
