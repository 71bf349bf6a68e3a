"""Done when: a request filed through Open311 is dispatched, handled, replied and followed up, and
its status and notes come back in both formats; and FixMyStreet-style updates flow both ways."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions, queries
from cityloop.hotline.models import Event, Request, Status
from tests.open311.conftest import parse

pytestmark = pytest.mark.django_db


def _both(client, number):
    [record] = parse(client.get(f"/open311/v2/requests/{number}.json"))
    root = parse(client.get(f"/open311/v2/requests/{number}.xml"))
    return record, root.find("request")


def test_an_open311_request_is_handled_and_its_status_and_notes_come_back(
    post, client, city, dispatcher_li, dept_water_zhao, settings
):
    settings.HOTLINE = {**settings.HOTLINE, "reopen_on": []}
    number = parse(post())[0]["service_request_id"]
    request = Request.objects.get(tracking_no=number)
    assert request in queries.dispatch_queue(city)

    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    record, xml = _both(client, number)
    assert record["status"] == "open" and record["agency_responsible"] == "市水务局"
    assert xml.findtext("agency_responsible") == "市水务局"
    assert record["expected_datetime"].endswith("+08:00")

    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已抢修管道，恢复供水", actor=dept_water_zhao)
    record, xml = _both(client, number)
    assert record["status"] == "open" and record["status_notes"] == "已抢修管道，恢复供水"
    assert xml.findtext("status") == "open" and xml.findtext("status_notes") == "已抢修管道，恢复供水"

    request.refresh_from_db()
    actions.rate_with_code(
        actions.issue_rating_link(request, actor=SYSTEM),
        resolved=True,
        satisfaction="satisfied",
        comment="谢谢",
        actor=SYSTEM,
    )
    record, xml = _both(client, number)
    assert record["status"] == "closed" and record["status_notes"] == "已抢修管道，恢复供水"
    assert xml.findtext("status") == "closed" and xml.findtext("status_notes") == "已抢修管道，恢复供水"
    request.refresh_from_db()
    assert record["updated_datetime"] == request.closed_at.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    ).isoformat(timespec="seconds")
    assert [
        r["service_request_id"] for r in parse(client.get("/open311/v2/requests.json?status=closed"))
    ] == [number]


def _post_update(client, key, number, fmt="json", **overrides):
    data = {
        "api_key": key,
        "service_request_id": number,
        "update_id": "fms-1",
        "status": "OPEN",
        "updated_datetime": "2026-01-05T10:00:00Z",
        "description": "水还是没来",
        "first_name": "小明",
        "last_name": "王",
        "email": "wang@example.org",
        "media_url": "https://example.org/u.jpg",
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(
        f"/open311/v2/servicerequestupdates.{fmt}",
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
    )


def test_a_client_update_becomes_a_public_line_and_a_retry_returns_the_same_id(
    post, client, api_key, app_user
):
    number = parse(post())[0]["service_request_id"]
    response = _post_update(client, api_key, number)
    assert response.status_code == 200
    [answer] = parse(response)
    line = Event.objects.get(pk=int(answer["update_id"]))
    assert (line.kind, line.public, line.text, line.actor_id) == (
        "open311_update",
        True,
        "水还是没来",
        app_user.pk,
    )
    assert line.data["client_update_id"] == "fms-1" and line.data["author"] == "小明 王"
    assert (
        AuditRecord.objects.filter(action="request.open311_update", object_id=str(line.request_id)).count()
        == 1
    )
    again = parse(_post_update(client, api_key, number, "xml"))
    assert (
        again.tag == "service_request_updates"
        and again.findtext("request_update/update_id") == answer["update_id"]
    )
    assert Event.objects.filter(kind="open311_update").count() == 1


def test_a_closed_status_from_a_client_is_recorded_not_applied(post, client, api_key):
    number = parse(post())[0]["service_request_id"]
    _post_update(client, api_key, number, status="closed", update_id="fms-2", description="已经好了")
    request = Request.objects.get(tracking_no=number)
    assert request.status == Status.NEW
    assert Event.objects.get(kind="open311_update").data["client_status"] == "closed"
    [record] = parse(client.get(f"/open311/v2/requests/{number}.json"))
    assert (
        record["status"] == "open" and record["status_notes"] is None
    )  # a citizen's words are not the city's note


@pytest.mark.parametrize(
    ("overrides", "status", "expected"),
    [
        ({"api_key": None}, 403, "api_key: missing"),
        ({"service_request_id": "R000000-00000"}, 404, "service_request_id: no request"),
        ({"service_request_id": None}, 400, "service_request_id: required"),
        ({"update_id": None}, 400, "update_id: required"),
        ({"status": "done"}, 400, "status: one of"),
        (
            {"updated_datetime": "2026-01-05 10:00"},
            400,
            "updated_datetime: '2026-01-05 10:00' needs a time zone",
        ),
        ({"description": ""}, 400, "description: required"),
        ({"email": "nope"}, 400, "email: not a valid e-mail address"),
    ],
)
def test_a_bad_update_is_refused_naming_the_field(post, client, api_key, overrides, status, expected):
    number = parse(post())[0]["service_request_id"]
    response = _post_update(client, api_key, number, **overrides)
    assert response.status_code == status
    assert parse(response)[0]["description"].startswith(expected), parse(response)
    assert not Event.objects.filter(kind="open311_update").exists()


def test_get_updates_lists_the_citys_public_timeline_never_the_citizens_words(
    post, client, api_key, dispatcher_li, dept_water_zhao, settings
):
    settings.HOTLINE = {**settings.HOTLINE, "reopen_on": []}
    number = parse(post())[0]["service_request_id"]
    request = Request.objects.get(tracking_no=number)
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已恢复供水", actor=dept_water_zhao)
    request.refresh_from_db()
    actions.rate_with_code(
        actions.issue_rating_link(request, actor=SYSTEM),
        resolved=True,
        satisfaction="satisfied",
        actor=SYSTEM,
    )
    _post_update(client, api_key, number, update_id="late", description="补充：昨天也停过")
    updates = parse(client.get("/open311/v2/servicerequestupdates.json"))
    assert [(u["status"], u["description"]) for u in updates] == [
        ("open", "sent to 市水务局"),
        ("open", "accepted by the handling unit"),
        ("open", "已恢复供水"),
        ("closed", "closed after follow-up"),
    ]
    assert all(u["service_request_id"] == number and isinstance(u["update_id"], str) for u in updates)
    # The app's comment is stored on the timeline, but citizens' and apps' own words are never published.
    assert Event.objects.filter(kind="open311_update", text="补充：昨天也停过").exists()
    root = parse(client.get("/open311/v2/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates" and len(root.findall("request_update")) == 4
    assert [c.tag for c in root.find("request_update")] == [
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    ]
    assert parse(client.get("/open311/v2/servicerequestupdates.json?start_date=2001-01-01T00:00:00Z")) == []
