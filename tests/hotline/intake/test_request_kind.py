"""诉求类型: every door can say whether a request is an enquiry, a call for help, a complaint, a report
or a suggestion; the web forms ask, the API may, and a wrong value is refused naming the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Request, RequestKind

pytestmark = pytest.mark.django_db


def _sub(tiny_places, **extra):
    lon, lat = tiny_places["D1S1C1"]
    return Submission(description="路灯坏了", caller_phone="13812345678", lon=lon, lat=lat, **extra)


def test_a_request_keeps_its_type_and_a_wrong_type_is_refused(city, tiny_places):
    request, _ = actions.submit_request(
        _sub(tiny_places, kind="complaint"), city=city, channel="phone", actor=SYSTEM
    )
    assert Request.objects.get(pk=request.pk).kind == RequestKind.COMPLAINT
    with pytest.raises(ValidationError) as refused:
        actions.submit_request(_sub(tiny_places, kind="rant"), city=city, channel="phone", actor=SYSTEM)
    assert "kind" in refused.value.message_dict
    untyped, _ = actions.submit_request(_sub(tiny_places), city=city, channel="phone", actor=SYSTEM)
    assert untyped.kind == ""  # a door that does not ask leaves it blank


def test_the_citizen_form_asks_for_the_type_and_the_detail_page_shows_it(client, city, dispatcher_li):
    page = client.get("/hotline/submit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "诉求类型" in page and 'value="help"' in page and "举报" in page
    client.force_login(dispatcher_li)
    form = client.get("/hotline/intake/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'name="kind"' in form


def test_the_api_takes_and_returns_the_type(city, tiny_places, dispatcher_li):
    from tests.hotline.intake.test_api import Api

    api = Api(dispatcher_li)
    lon, lat = tiny_places["D1S1C1"]
    body = {"description": "建议增设公交站", "caller_phone": "13812345678", "lon": lon, "lat": lat}
    answer = api.post("/requests", {**body, "kind": "suggestion"})
    assert answer.status_code == 201, answer.content
    assert answer.json()["kind"] == "suggestion"
    refused = api.post("/requests", {**body, "kind": "rant"})
    assert refused.status_code == 400 and any(e["field"] == "kind" for e in refused.json()["detail"])
