"""Logins: lockout of password guessers, an audit record for every attempt, secure cookies and HSTS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

from axes.models import AccessAttempt
from django.test import Client

from cityloop.core.models import AuditRecord
from tests.clock import pinned_env

ROOT = Path(__file__).resolve().parents[2]


def _login(client, username, password, path="/login/", address="203.0.113.7"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en"
    )


def test_a_password_guesser_is_locked_out_after_five_failures(dispatcher_li, persona_password):
    client = Client()
    for _ in range(4):
        assert (
            _login(client, "dispatcher_li", "guess-123").status_code == 200
        )  # the form again, with an error
    locked = _login(client, "dispatcher_li", "guess-123")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode() and "15 minutes" in locked.content.decode()
    # Even the right password is refused while the lock lasts ...
    assert _login(client, "dispatcher_li", persona_password).status_code == 429
    assert "_auth_user_id" not in client.session
    # ... but only for that user from that address: the real dispatcher at her desk still gets in.
    at_desk = Client()
    assert _login(at_desk, "dispatcher_li", persona_password, address="10.20.30.40").status_code == 302


def test_the_admin_login_locks_out_the_same_way(dispatcher_li, persona_password):
    client = Client()
    for _ in range(5):
        _login(client, "dispatcher_li", "guess-123", path="/admin/login/")
    assert _login(client, "dispatcher_li", persona_password, path="/admin/login/").status_code == 429


def test_a_forged_forwarded_for_header_does_not_reset_the_count(dispatcher_li):
    client = Client()
    for n in range(5):
        client.post(
            "/login/",
            {"username": "dispatcher_li", "password": "guess"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    assert AccessAttempt.objects.get(username="dispatcher_li").ip_address == "203.0.113.7"
    assert _login(client, "dispatcher_li", "guess").status_code == 429


def test_the_lockout_page_is_in_chinese_by_default(dispatcher_li):
    client = Client()
    for _ in range(5):
        response = client.post("/login/", {"username": "dispatcher_li", "password": "guess"})
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


def test_a_login_and_a_failure_are_audited_without_the_password(dispatcher_li, persona_password):
    client = Client()
    _login(client, "dispatcher_li", "wrong-password-xyz")
    _login(client, "dispatcher_li", persona_password)
    failure = AuditRecord.objects.get(action="login.failure")
    success = AuditRecord.objects.get(action="login.success")
    assert json.loads(failure.summary)["after"] == {
        "address": "203.0.113.7",
        "path": "/login/",
        "username": "dispatcher_li",
    }
    assert (
        success.actor_id == dispatcher_li.pk
        and json.loads(success.summary)["after"]["address"] == "203.0.113.7"
    )
    assert "wrong-password-xyz" not in failure.summary and persona_password not in success.summary


def test_a_lockout_is_audited(dispatcher_li):
    client = Client()
    for _ in range(5):
        _login(client, "dispatcher_li", "guess")
    lockout = AuditRecord.objects.get(action="login.lockout")
    assert json.loads(lockout.summary)["after"]["username"] == "dispatcher_li"


def test_a_session_lasts_a_working_day_not_two_weeks(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_COOKIE_HTTPONLY and settings.SESSION_COOKIE_SAMESITE == "Lax"


def test_healthz_never_shows_the_database_error_text(client):
    failing = mock.patch(
        "cityloop.web.views.connection.cursor",
        side_effect=RuntimeError('connection to "db.internal" as user "cityloop" failed'),
    )
    with failing:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


PROBE = """
import django, json
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.conf import settings
from django.test import Client
client = Client()
plain = client.get("/", HTTP_HOST="127.0.0.1")
secure = client.get("/", secure=True, HTTP_HOST="127.0.0.1")
proxied = client.get("/", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
health = client.get("/healthz", HTTP_HOST="127.0.0.1")
print(json.dumps({"cookie": settings.SESSION_COOKIE_SECURE, "csrf": settings.CSRF_COOKIE_SECURE,
                  "hours": settings.SESSION_COOKIE_AGE / 3600,
                  "plain": [plain.status_code, plain.get("Location", "")],
                  "hsts": secure.get("Strict-Transport-Security", ""),
                  "proxied": proxied.status_code, "health": health.status_code}))
"""


def _probe(tmp_path, **env) -> dict:
    tmp_path.mkdir()
    environment = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
        "CITYLOOP_TESTING": "1",
        **env,
    }
    environment.pop("CITYLOOP_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=pinned_env(environment),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_secure_mode_sets_secure_cookies_hsts_and_redirects_plain_http(tmp_path):
    secure = _probe(tmp_path / "secure", CITYLOOP_SECURE="1", CITYLOOP_SESSION_HOURS="2")
    assert secure["cookie"] and secure["csrf"] and secure["hours"] == 2
    assert secure["plain"] == [301, "https://127.0.0.1/"]
    assert secure["hsts"] == "max-age=31536000; includeSubDomains"
    assert secure["proxied"] != 301  # the proxy said https: no redirect loop
    assert secure["health"] != 301  # health checks come over plain HTTP from inside
    plain = _probe(tmp_path / "plain", CITYLOOP_SECURE="0")
    assert not plain["cookie"] and plain["plain"][0] != 301 and plain["hsts"] == ""
