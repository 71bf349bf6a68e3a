"""The menu shows only what the person may open; 403/404/500 are the site's own pages in both languages."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from cityloop.web.context import navigation_for
from tests.conftest import PERSONA_PASSWORD

PERSONAS = [
    "citizen_wang",
    "dispatcher_li",
    "street_chen",
    "dept_water_zhao",
    "leader_sun",
    "admin_zhang",
    "auditor_qian",
]


def _client(user=None, language: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()
    if user is not None:
        assert client.login(username=user.username, password=PERSONA_PASSWORD)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_no_menu_link_answers_forbidden_for_any_role(request, city, persona):
    user = request.getfixturevalue(persona)
    client = _client(user)
    for item in navigation_for(user):
        answer = client.get(item["url"])
        assert answer.status_code != 403, f"{persona}'s menu links to {item['url']}, which answers 403"


@pytest.mark.django_db
def test_a_department_that_is_no_window_sees_no_window_link(city, dept_water_zhao):
    assert "services:window" not in {item["name"] for item in navigation_for(dept_water_zhao)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, title", [("zh-hans", "您无权打开此页面"), ("en", "You may not open this page")]
)
def test_forbidden_is_the_sites_own_page_in_the_persons_language(city, dept_water_zhao, language, title):
    answer = _client(dept_water_zhao, language).get("/services/window/")
    page = answer.content.decode()
    assert answer.status_code == 403
    assert 'data-error="403"' in page and title in page and "web/cityloop.css" in page


@pytest.mark.django_db
@pytest.mark.parametrize("language, title", [("zh-hans", "页面不存在"), ("en", "Page not found")])
def test_not_found_is_the_sites_own_page_in_the_persons_language(language, title):
    answer = _client(language=language).get("/no-such-page/")
    page = answer.content.decode()
    assert answer.status_code == 404
    assert 'data-error="404"' in page and title in page and "web/cityloop.css" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, title", [("zh-hans", "系统出现了错误"), ("en", "Something went wrong on our side")]
)
def test_server_error_is_the_sites_own_page_in_the_persons_language(language, title):
    with translation.override(language):
        answer = server_error(RequestFactory().get("/"))
    page = answer.content.decode()
    assert answer.status_code == 500
    assert 'data-error="500"' in page and title in page and "web/cityloop.css" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "language, title", [("zh-hans", "无法处理这个请求"), ("en", "The request could not be read")]
)
def test_a_bad_request_is_the_sites_own_page_in_the_persons_language(language, title):
    from django.core.exceptions import BadRequest
    from django.views.defaults import bad_request

    with translation.override(language):
        answer = bad_request(RequestFactory().get("/"), BadRequest("damaged"))
    page = answer.content.decode()
    assert answer.status_code == 400
    assert 'data-error="400"' in page and title in page and "web/cityloop.css" in page
