"""The web shell: health check, each role's home page, language, admin and the audit page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import PERSONA_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PERSONA_PASSWORD)
    return client


@pytest.mark.django_db
def test_healthz_answers_ok_with_the_database_state():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "persona, marker",
    [
        ("citizen_wang", "citizen"),
        ("dispatcher_li", "dispatcher"),
        ("street_chen", "street"),
        ("dept_water_zhao", "department"),
        ("leader_sun", "leader"),
        ("admin_zhang", "admin"),
        ("auditor_qian", "auditor"),
    ],
)
def test_each_role_has_its_own_home_page(request, city, persona, marker):
    user = request.getfixturevalue(persona)
    page = _client(user).get("/").content.decode()
    assert f'data-home="{marker}"' in page


@pytest.mark.django_db
def test_an_anonymous_visitor_sees_the_public_page_in_chinese_by_default(city):
    page = Client().get("/").content.decode()
    assert 'data-home="public"' in page and 'lang="zh-hans"' in page and "登录" in page


@pytest.mark.django_db
def test_the_language_switch_works_with_a_plain_form_post(city):
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert 'lang="en"' in page and "Log in" in page


@pytest.mark.django_db
def test_the_navigation_follows_the_role(city, citizen_wang, dispatcher_li):
    citizen_page = _client(citizen_wang).get("/").content.decode()
    dispatcher_page = _client(dispatcher_li).get("/").content.decode()
    assert "/hotline/dispatch/" in dispatcher_page and "/hotline/dispatch/" not in citizen_page
    assert "/hotline/submit/" in citizen_page


@pytest.mark.django_db
def test_only_administrators_reach_the_django_admin(city, admin_zhang, dispatcher_li):
    assert _client(admin_zhang).get("/admin/").status_code == 200
    assert _client(dispatcher_li).get("/admin/").status_code == 302  # sent to the admin login


@pytest.mark.django_db
def test_the_audit_trail_page_is_for_auditors_and_shows_the_chain_state(city, auditor_qian, citizen_wang):
    page = _client(auditor_qian).get("/audit/")
    assert page.status_code == 200 and "哈希链完整" in page.content.decode()
    assert _client(citizen_wang).get("/audit/").status_code == 403


@pytest.mark.django_db
def test_logging_out_takes_a_post_and_returns_to_the_public_page(city, citizen_wang):
    client = _client(citizen_wang)
    assert client.post("/logout/").status_code == 302
    assert 'data-home="public"' in client.get("/").content.decode()


def test_the_compiled_translations_match_their_po_files():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "compile_messages.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.django_db
def test_an_audit_summary_reads_as_key_value_lines_not_raw_json(city, auditor_qian):
    from cityloop.core import audit
    from cityloop.core.actors import SYSTEM

    audit.record(SYSTEM, "order.sign", ("order", "7"), before="pending", after="signed", note="x" * 500)
    page = _client(auditor_qian).get("/audit/").content.decode()
    assert "<dt>before</dt><dd>pending</dd>" in page and "<dt>after</dt><dd>signed</dd>" in page
    assert '{"after":' not in page
    # a long value is cut in the pairs (the page stays narrow); the whole record waits in a closed <details>
    pairs, whole = page.split('<details class="whole">', 1)
    assert "x" * 200 not in pairs and "x" * 500 in whole and "<summary>完整记录</summary>" in whole
