"""Server errors leave a trace: tracebacks with a request id, access lines without personal data."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from cityloop.web.requestlog import JsonFormatter
from tests.conftest import PERSONA_PASSWORD

PLAIN = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


@pytest.fixture
def boom_urls(settings):
    settings.ROOT_URLCONF = "tests.web._boom_urls"


def _access_records(caplog):
    return [r for r in caplog.records if r.name == "cityloop.access"]


@pytest.mark.django_db
def test_a_500_logs_its_traceback_with_the_request_id_it_answers_with(boom_urls, caplog):
    caplog.set_level(logging.INFO, logger="cityloop")
    answer = Client(raise_request_exception=False).get("/boom/")
    request_id = answer["X-Request-ID"]
    assert answer.status_code == 500 and request_id
    errors = [r for r in caplog.records if r.name == "cityloop.error"]
    assert len(errors) == 1 and errors[0].exc_info
    line = PLAIN.format(errors[0])
    assert request_id in line and "Traceback" in line and "boom for the log test" in line
    as_json = json.loads(JsonFormatter().format(errors[0]))
    assert as_json["request_id"] == request_id and "RuntimeError" in as_json["traceback"]
    assert [r.access["status"] for r in _access_records(caplog)] == [500]


@pytest.mark.django_db
def test_a_refused_or_missing_page_is_an_access_line_not_an_error(city, citizen_wang, caplog):
    """A citizen on a staff page (403) or a page that is not there (404) is the request's fault: an error
    with a traceback for each would bury the real ones an operator looks for."""
    caplog.set_level(logging.INFO, logger="cityloop")
    client = Client()
    client.force_login(citizen_wang)
    assert client.get("/hotline/dispatch/").status_code == 403
    assert client.get("/no-such-page/").status_code == 404
    assert [r for r in caplog.records if r.name == "cityloop.error"] == []
    assert [r.access["status"] for r in _access_records(caplog)] == [403, 404]


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(caplog):
    assert Client().get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c21")["X-Request-ID"] == "lb-7f3a9c21"
    hostile = Client().get("/healthz", HTTP_X_REQUEST_ID="x\nstatus=200 forged")["X-Request-ID"]
    assert "\n" not in hostile and "forged" not in hostile and len(hostile) == 32


@pytest.mark.django_db
def test_access_lines_name_the_user_by_id_in_both_formats(citizen_wang, caplog):
    caplog.set_level(logging.INFO, logger="cityloop")
    client = Client()
    assert client.login(username=citizen_wang.username, password=PERSONA_PASSWORD)
    answer = client.get("/healthz")
    record = _access_records(caplog)[-1]
    plain = PLAIN.format(record)
    for part in (
        "method=GET",
        "path=/healthz",
        "status=200",
        f"request_id={answer['X-Request-ID']}",
        f"user_id={citizen_wang.pk}",
        "duration_ms=",
    ):
        assert part in plain
    fields = json.loads(JsonFormatter().format(record))
    assert {k: fields[k] for k in ("method", "path", "status", "request_id", "user_id")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "request_id": answer["X-Request-ID"],
        "user_id": citizen_wang.pk,
    }
    assert isinstance(fields["duration_ms"], float)
    assert citizen_wang.username not in plain + json.dumps(fields, ensure_ascii=False)


@pytest.mark.django_db
def test_access_lines_carry_no_query_values_codes_phones_or_bodies(caplog):
    caplog.set_level(logging.INFO, logger="cityloop")
    client = Client()
    client.get(
        "/hotline/track/",
        {"tracking_no": "R261118-00001", "access_code": "SECRET-CODE-123", "phone": "13800138000"},
    )
    client.get("/hotline/rate/ONE-TIME-RATING-CODE/")
    client.post("/hotline/track/", {"access_code": "POSTED-CODE-456", "phone": "13900139000"})
    lines = [PLAIN.format(r) + JsonFormatter().format(r) for r in _access_records(caplog)]
    assert len(lines) == 3
    text = "\n".join(lines)
    for secret in (
        "SECRET-CODE-123",
        "13800138000",
        "ONE-TIME-RATING-CODE",
        "POSTED-CODE-456",
        "13900139000",
        "R261118-00001",
    ):
        assert secret not in text
    assert "query_keys=access_code,phone,tracking_no" in lines[0]
