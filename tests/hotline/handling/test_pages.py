"""The hotline's pages through Django's test client: citizens, dispatchers, units, search."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone, translation

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.intake.views import TRACK_FAILURES
from cityloop.hotline.models import Arbitration, Extension, FollowUp, Order, OrderStatus, Request, Status
from tests.hotline.texts import texted_code

pytestmark = pytest.mark.django_db

GOOD = {
    "description": "金融街购物中心门口的路灯不亮了",
    "address": "金融街购物中心",
    "caller_name": "王小明",
    "caller_phone": "13812345678",
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def as_user(client, persona_password):
    def login(user):
        client.logout()
        assert client.login(username=user.username, password=persona_password)
        return client

    return login


def _errors_of(page: str, field: str) -> str:
    """The text of the error list rendered next to ``field``."""
    found = re.search(rf'id="id_{field}_error">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


def _replied(submit, dispatcher, unit_user, **kw) -> Request:
    request = submit(**kw)
    [order] = actions.accept_suggestion(request, actor=dispatcher)
    actions.sign_order(order, actor=unit_user)
    actions.reply_order(
        Order.objects.get(pk=order.pk), outcome="resolved", text="已恢复供水", actor=unit_user
    )
    request.refresh_from_db()
    return request


# -- citizens ------------------------------------------------------------------------------------------


def test_a_citizen_submits_without_logging_in_and_gets_the_tracking_number(client, city):
    form = client.get("/hotline/submit/").content.decode()
    assert 'for="id_description"' in form and 'name="idempotency_key"' in form
    response = client.post("/hotline/submit/", GOOD, follow=True)
    request = Request.objects.get()
    assert request.channel == "web" and request.street.code == "D1S1" and request.citizen is None
    assert f'data-tracking-no="{request.tracking_no}"' in response.content.decode()


def test_a_double_submitted_form_returns_the_first_request(client, city):
    data = {**GOOD, "idempotency_key": "abc123"}
    client.post("/hotline/submit/", data)
    client.post("/hotline/submit/", data)
    assert Request.objects.count() == 1


def test_bad_submit_input_is_shown_next_to_each_field_and_nothing_is_stored(client, city):
    response = client.post("/hotline/submit/", {"description": "", "caller_phone": "", "address": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert (
        _errors_of(page, "description") and _errors_of(page, "caller_phone") and _errors_of(page, "address")
    )
    assert Request.objects.count() == 0


def test_a_point_outside_the_city_is_refused_next_to_the_longitude(client, city, tiny_places):
    lon, lat = tiny_places["outside_city"]
    page = client.post("/hotline/submit/", {**GOOD, "address": "", "lon": lon, "lat": lat}).content.decode()
    assert "outside" in _errors_of(page, "lon")
    assert Request.objects.count() == 0


def test_a_file_that_is_not_an_image_is_refused_by_content(client, city):
    fake = io.BytesIO(b"this is not a picture")
    fake.name = "photo.jpg"
    page = client.post("/hotline/submit/", {**GOOD, "photos": fake}).content.decode()
    assert "photo.jpg" in _errors_of(page, "photos")
    assert Request.objects.count() == 0


def _track(client, request, code=None):
    return client.post(
        "/hotline/track/",
        {"tracking_no": request.tracking_no, "code": code or request.access_code},
        follow=True,
    )


def test_tracking_with_number_and_access_code_shows_only_the_public_timeline(
    client, submit, dispatcher_li, dept_water_zhao
):
    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.add_note(order, text="内部备注不公开", actor=dept_water_zhao)
    response = _track(client, request)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/hotline/track/{request.tracking_no}/"
    assert 'data-event="dispatched"' in page and "内部备注不公开" not in page
    assert "13812345678" not in page


def test_the_access_code_is_typed_as_the_citizen_reads_it(client, submit):
    request = submit()
    spoken = f"{request.access_code[:5].lower()} {request.access_code[5:].lower()}"
    assert _track(client, request, spoken).redirect_chain[-1][0] == f"/hotline/track/{request.tracking_no}/"


def test_a_wrong_code_and_an_unknown_number_get_the_same_generic_error(client, submit):
    request = submit()
    wrong_code = client.post("/hotline/track/", {"tracking_no": request.tracking_no, "code": "2222222222"})
    unknown = client.post("/hotline/track/", {"tracking_no": "R000101-99999", "code": request.access_code})
    assert wrong_code.status_code == unknown.status_code == 404

    def alert(r):
        return re.search(r'role="alert">(.*?)</div>', r.content.decode(), re.S).group(1)

    assert alert(wrong_code) == alert(unknown)
    assert client.get(f"/hotline/track/{request.tracking_no}/").status_code == 302


def test_a_malformed_access_code_names_the_field(client, submit):
    page = client.post(
        "/hotline/track/", {"tracking_no": submit().tracking_no, "code": "56a"}
    ).content.decode()
    assert _errors_of(page, "code")


def test_the_masked_phone_on_staff_screens_no_longer_opens_the_tracking_page(
    as_user, client, submit, dispatcher_li, street_chen
):
    """Issue 11 #2: staff saw 138****5678, and 5678 opened the tracking page and the rating form."""
    request = submit(place="D1S1C1")
    actions.dispatch_request(request, units=[("street", request.street, "street")], actor=dispatcher_li)
    staff_page = as_user(street_chen).get(f"/hotline/requests/{request.pk}/").content.decode()
    # the last four digits nowhere as a number of their own (a timestamp's microseconds may hold them)
    assert not re.search(r"(?<!\d)5678(?!\d)", staff_page) and "138****" in staff_page
    client.logout()
    for guess in ("5678", "12345678", "13812345678"):
        tried = client.post("/hotline/track/", {"tracking_no": request.tracking_no, "code": guess})
        assert tried.status_code in (400, 404)
    assert client.get(f"/hotline/track/{request.tracking_no}/").status_code == 302


def test_many_wrong_codes_from_one_address_are_asked_to_wait(client, submit):
    request = submit()
    for _ in range(TRACK_FAILURES):
        client.post("/hotline/track/", {"tracking_no": request.tracking_no, "code": "2222222222"})
    blocked = client.post(
        "/hotline/track/", {"tracking_no": request.tracking_no, "code": request.access_code}
    )
    assert blocked.status_code == 429


def test_guessing_one_number_from_many_addresses_is_stopped_per_tracking_number(submit):
    from django.test import Client

    request = submit()
    for i in range(TRACK_FAILURES):
        Client(REMOTE_ADDR=f"10.0.0.{i + 1}").post(
            "/hotline/track/", {"tracking_no": request.tracking_no, "code": "2222222222"}
        )
    blocked = Client(REMOTE_ADDR="10.0.1.1").post(
        "/hotline/track/", {"tracking_no": request.tracking_no, "code": request.access_code}
    )
    assert blocked.status_code == 429


def test_the_confirmation_page_shows_the_access_code_once_and_it_is_texted(client, city):
    response = client.post("/hotline/submit/", GOOD, follow=True)
    page = response.content.decode()
    request = Request.objects.get()
    code = re.search(r'data-access-code="([^"]+)"', page).group(1)
    assert code == texted_code(request.tracking_no)
    assert request.access_code_hash and code.replace("-", "") not in request.access_code_hash
    again = client.get("/hotline/submit/done/").content.decode()
    assert request.tracking_no in again and "data-access-code" not in again
    fresh = Client()
    assert _track(fresh, request, code).redirect_chain[-1][0] == f"/hotline/track/{request.tracking_no}/"


def test_replaying_someone_elses_form_key_does_not_show_their_request(client, city):
    first = Client()
    first.post("/hotline/submit/", {**GOOD, "idempotency_key": "k" * 32})
    number = Request.objects.get().tracking_no
    response = client.post("/hotline/submit/", {**GOOD, "idempotency_key": "k" * 32})
    assert response.status_code == 200 and number not in response.content.decode()
    assert client.get(f"/hotline/track/{number}/").status_code == 302


def test_a_citizen_replaying_another_citizens_form_key_files_their_own_request(as_user, city, citizen_wang):
    from cityloop.core.actions import add_user
    from tests.conftest import PERSONA_PASSWORD

    other = add_user(
        username="citizen_two",
        password=PERSONA_PASSWORD,
        role="citizen",
        full_name="赵二",
        actor=SYSTEM,
        check_password=False,
    )
    as_user(citizen_wang).post("/hotline/submit/", {**GOOD, "idempotency_key": "k" * 32})
    theirs = Request.objects.get()
    response = as_user(other).post("/hotline/submit/", {**GOOD, "idempotency_key": "k" * 32}, follow=True)
    mine = Request.objects.exclude(pk=theirs.pk).get()
    assert mine.citizen == other and theirs.tracking_no not in response.content.decode()


def test_a_dispatcher_replaying_another_dispatchers_intake_key_files_a_new_request(
    as_user, city, dispatcher_li
):
    from cityloop.core.actions import add_user
    from tests.conftest import PERSONA_PASSWORD

    other = add_user(
        username="dispatcher_two",
        password=PERSONA_PASSWORD,
        role="dispatcher",
        full_name="周二",
        actor=SYSTEM,
        check_password=False,
    )
    data = {**GOOD, "urgency": "normal", "idempotency_key": "k" * 32}
    as_user(dispatcher_li).post("/hotline/intake/", data)
    as_user(dispatcher_li).post("/hotline/intake/", data)  # her own double submit: still one
    assert Request.objects.count() == 1
    as_user(other).post("/hotline/intake/", data)
    assert Request.objects.count() == 2


def _rate_code(request) -> str:
    return texted_code(request.tracking_no, "rating_link")


def test_the_citizen_rates_a_replied_request_with_the_texted_code_and_it_closes(
    client, submit, dispatcher_li, dept_water_zhao
):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    _track(client, request, texted_code(request.tracking_no))
    page = client.get(f"/hotline/track/{request.tracking_no}/").content.decode()
    assert 'id="rate"' in page and "已恢复供水" in page and 'name="code"' in page
    response = client.post(
        f"/hotline/track/{request.tracking_no}/rate/",
        {"code": _rate_code(request), "resolved": "yes", "satisfaction": "satisfied", "comment": "谢谢"},
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == Status.CLOSED and request.satisfaction == "satisfied"
    assert FollowUp.objects.get(request=request).channel == "web"
    assert AuditRecord.objects.filter(action="request.follow_up", actor_label="citizen:rating-code").exists()


def test_the_rating_link_in_the_text_message_rates_once(client, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    link = f"/hotline/rate/{_rate_code(request)}/"
    assert "已恢复供水" in client.get(link).content.decode()
    done = client.post(link, {"resolved": "yes", "satisfaction": "basic"})
    assert done.status_code == 200
    assert Request.objects.get(pk=request.pk).satisfaction == "basic"
    assert client.get(link).status_code == 404
    assert client.post(link, {"resolved": "yes", "satisfaction": "satisfied"}).status_code == 404
    assert FollowUp.objects.filter(request=request).count() == 1


def test_an_expired_rating_link_is_refused(client, submit, dispatcher_li, dept_water_zhao, settings):
    from cityloop.hotline.models import RatingLink

    request = _replied(submit, dispatcher_li, dept_water_zhao)
    code = _rate_code(request)
    RatingLink.objects.filter(request=request).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert (
        client.post(f"/hotline/rate/{code}/", {"resolved": "yes", "satisfaction": "satisfied"}).status_code
        == 404
    )
    assert Request.objects.get(pk=request.pk).status == Status.REPLIED


def test_the_rating_link_lasts_the_configured_days(submit, dispatcher_li, dept_water_zhao, settings):
    from cityloop.hotline.models import RatingLink

    settings.HOTLINE = {**settings.HOTLINE, "rating_link_days": 3}
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    link = RatingLink.objects.get(request=request)
    assert link.expires_at - link.created_at == timedelta(days=3)


def test_a_unit_that_tracks_the_request_cannot_rate_its_own_reply(
    as_user, submit, dispatcher_li, dept_water_zhao
):
    """Issue 11 #2: a unit rated its own reply "resolved, satisfied" from the public page."""
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    unit = as_user(dept_water_zhao)
    # Even holding both codes, a staff session may not rate.
    _track(unit, request, texted_code(request.tracking_no))
    refused = unit.post(
        f"/hotline/track/{request.tracking_no}/rate/",
        {"code": _rate_code(request), "resolved": "yes", "satisfaction": "satisfied"},
    )
    assert refused.status_code == 403
    assert (
        unit.post(
            f"/hotline/rate/{_rate_code(request)}/", {"resolved": "yes", "satisfaction": "satisfied"}
        ).status_code
        == 403
    )
    assert not FollowUp.objects.exists()
    assert Request.objects.get(pk=request.pk).status == Status.REPLIED


def test_tracking_with_the_access_code_alone_does_not_let_anyone_rate(
    client, submit, dispatcher_li, dept_water_zhao
):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    _track(client, request, texted_code(request.tracking_no))
    response = client.post(
        f"/hotline/track/{request.tracking_no}/rate/", {"resolved": "yes", "satisfaction": "satisfied"}
    )
    assert response.status_code == 400 and _errors_of(response.content.decode(), "code")
    wrong = client.post(
        f"/hotline/track/{request.tracking_no}/rate/",
        {"code": "2222222222", "resolved": "yes", "satisfaction": "satisfied"},
    )
    assert wrong.status_code == 400
    assert not FollowUp.objects.exists()


def test_a_rating_with_a_missing_answer_shows_the_field_error(client, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    _track(client, request, texted_code(request.tracking_no))
    response = client.post(
        f"/hotline/track/{request.tracking_no}/rate/", {"code": _rate_code(request), "resolved": "yes"}
    )
    assert response.status_code == 400 and _errors_of(response.content.decode(), "satisfaction")
    assert Request.objects.get(pk=request.pk).status == Status.REPLIED


def test_nobody_can_rate_without_tracking_first(client, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    response = client.post(
        f"/hotline/track/{request.tracking_no}/rate/", {"resolved": "yes", "satisfaction": "satisfied"}
    )
    assert response.status_code == 403
    assert not FollowUp.objects.exists()


def test_a_logged_in_citizen_sees_their_own_history_only(as_user, city, citizen_wang, outsider_zhou):
    client = as_user(citizen_wang)
    client.post("/hotline/submit/", GOOD)
    request = Request.objects.get()
    assert request.citizen == citizen_wang
    assert request.tracking_no in client.get("/hotline/mine/").content.decode()
    client = as_user(outsider_zhou)
    assert request.tracking_no not in client.get("/hotline/mine/").content.decode()
    assert client.get(f"/hotline/requests/{request.pk}/").status_code == 404


# -- dispatchers ---------------------------------------------------------------------------------------


def test_a_citizen_cannot_open_the_dispatch_pages(as_user, client, city, citizen_wang):
    assert client.get("/hotline/dispatch/").status_code == 302  # anonymous: to the login page
    client = as_user(citizen_wang)
    for url in (
        "/hotline/dispatch/",
        "/hotline/intake/",
        "/hotline/follow-ups/",
        "/hotline/arbitrations/",
        "/hotline/import/",
    ):
        assert client.get(url).status_code == 403, url


def test_the_queue_is_oldest_first_with_timers_and_accepts_a_suggestion_in_one_click(
    as_user, submit, dispatcher_li
):
    old = submit(received_at=timezone.now() - timedelta(days=10))
    new = submit()
    client = as_user(dispatcher_li)
    page = client.get("/hotline/dispatch/").content.decode()
    assert page.index(old.tracking_no) < page.index(new.tracking_no)
    assert 'data-timer="overdue"' in page and 'data-timer="ok"' in page
    client.post("/hotline/dispatch/", {"accept": old.pk})
    old.refresh_from_db()
    assert old.status == Status.DISPATCHED and old.orders.get().department.code == "WATER"
    page = client.get("/hotline/dispatch/").content.decode()
    assert f'data-request="{old.tracking_no}"' not in page and f'data-request="{new.tracking_no}"' in page


def test_bulk_dispatch_sends_every_ticked_request(as_user, submit, dispatcher_li):
    first, second, untouched = submit(), submit(category="01.01.01"), submit()
    as_user(dispatcher_li).post("/hotline/dispatch/", {"bulk": "1", "selected": [first.pk, second.pk]})
    statuses = dict(Request.objects.values_list("pk", "status"))
    assert statuses == {first.pk: "dispatched", second.pk: "dispatched", untouched.pk: "new"}
    assert Order.objects.get(request=second).street.code == "D1S1"


def test_phone_intake_keeps_the_operators_category(as_user, city, dispatcher_li):
    client = as_user(dispatcher_li)
    assert 'for="id_category"' in client.get("/hotline/intake/").content.decode()
    response = client.post(
        "/hotline/intake/", {**GOOD, "category": "01.01.02", "urgency": "urgent", "confidential": "on"}
    )
    request = Request.objects.get()
    assert response.status_code == 302 and response.url == f"/hotline/requests/{request.pk}/"
    assert (request.channel, request.category.code, request.urgency, request.confidential) == (
        "phone",
        "01.01.02",
        "urgent",
        True,
    )


def test_phone_intake_bad_input_shows_field_errors_and_stores_nothing(as_user, city, dispatcher_li):
    response = as_user(dispatcher_li).post(
        "/hotline/intake/",
        {"description": "x", "caller_phone": "abc", "address": "金融街", "urgency": "urgent"},
    )
    assert response.status_code == 400 and _errors_of(response.content.decode(), "caller_phone")
    assert Request.objects.count() == 0


def test_the_suggest_button_shows_the_classifiers_pick_without_choosing_it(
    as_user, city, dispatcher_li, settings, tmp_path
):
    from cityloop.hotline.intake import classifier, suggest

    texts = [
        "停水了",
        "没有自来水",
        "家里停水",
        "水龙头没水",
        "路边乱堆乱放",
        "楼道堆满杂物",
        "垃圾乱堆",
        "杂物乱放",
    ]
    labels = ["02.01.01"] * 4 + ["01.01.01"] * 4
    path = classifier.train(texts, labels).save(tmp_path / "model.joblib", key=suggest.model_key())
    settings.HOTLINE = {**settings.HOTLINE, "classifier_model": str(path)}
    page = (
        as_user(dispatcher_li)
        .post("/hotline/intake/", {**GOOD, "description": "家里停水了", "suggest": "1", "urgency": "normal"})
        .content.decode()
    )
    assert 'data-suggestion="02.01.01"' in page
    assert re.search(r'<option value="02.01.01"[^>]*selected', page) is None
    assert Request.objects.count() == 0


def test_the_caller_is_masked_until_an_audited_reveal(as_user, submit, dispatcher_li, dept_water_zhao):
    request = submit()
    actions.accept_suggestion(request, actor=dispatcher_li)
    client = as_user(dispatcher_li)
    page = client.get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "138****" in page and "5678" not in page
    page = client.post(f"/hotline/requests/{request.pk}/reveal/", {"reason": "回访"}).content.decode()
    assert "13812345678" in page
    assert AuditRecord.objects.filter(action="request.reveal_contact", object_id=str(request.pk)).count() == 1
    client = as_user(dept_water_zhao)
    page = client.get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "138****" in page and "5678" not in page and "/reveal/" not in page
    assert client.post(f"/hotline/requests/{request.pk}/reveal/").status_code == 403


def test_manual_dispatch_makes_the_first_chosen_unit_the_lead(as_user, submit, dispatcher_li, city):
    from cityloop.org.models import Department, Jurisdiction

    request = submit(category="01.01.01")
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    water = Department.objects.get(city=city, code="WATER")
    as_user(dispatcher_li).post(
        f"/hotline/requests/{request.pk}/dispatch/",
        {"lead": f"street:{street.pk}", "others": [f"department:{water.pk}"]},
    )
    orders = list(request.orders.order_by("id"))
    assert [(o.street_id, o.department_id, o.lead) for o in orders] == [
        (street.pk, None, True),
        (None, water.pk, False),
    ]


def test_manual_dispatch_without_a_unit_shows_the_field_error(as_user, submit, dispatcher_li):
    request = submit()
    response = as_user(dispatcher_li).post(f"/hotline/requests/{request.pk}/dispatch/", {"lead": ""})
    assert response.status_code == 400 and _errors_of(response.content.decode(), "lead")
    assert not request.orders.exists()


def test_the_dispatcher_classifies_from_the_detail_page(as_user, submit, dispatcher_li):
    request = submit(category="")
    as_user(dispatcher_li).post(f"/hotline/requests/{request.pk}/classify/", {"category": "01.01.02"})
    request.refresh_from_db()
    assert request.category.code == "01.01.02"


def test_a_nearby_duplicate_is_offered_and_merged(as_user, submit, dispatcher_li):
    first = submit()
    second = submit()
    client = as_user(dispatcher_li)
    page = client.get(f"/hotline/requests/{second.pk}/").content.decode()
    assert 'id="duplicates"' in page and first.tracking_no in page
    client.post(f"/hotline/requests/{second.pk}/merge/", {"into": first.pk})
    second.refresh_from_db()
    assert second.status == Status.MERGED and second.merged_into == first


def test_an_extension_is_asked_in_the_detail_page_and_decided_by_the_dispatcher(
    as_user, submit, dispatcher_li, dept_water_zhao
):
    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    client = as_user(dept_water_zhao)
    client.post(
        f"/hotline/orders/{order.pk}/extension/",
        {f"o{order.pk}-extension-days": "3", f"o{order.pk}-extension-reason": "需要协调施工"},
    )
    extension = Extension.objects.get()
    client = as_user(dispatcher_li)
    assert "需要协调施工" in client.get("/hotline/dispatch/").content.decode()
    refused = client.post(f"/hotline/extensions/{extension.pk}/decide/", {f"x{extension.pk}-approve": "no"})
    assert refused.status_code == 400 and _errors_of(refused.content.decode(), f"x{extension.pk}-note")
    client.post(f"/hotline/extensions/{extension.pk}/decide/", {f"x{extension.pk}-approve": "yes"})
    extension.refresh_from_db()
    assert extension.approved is True
    assert Order.objects.get(pk=order.pk).finish_due > order.finish_due


def test_a_bounced_request_is_decided_on_the_arbitration_page(
    as_user, submit, dispatcher_li, dept_water_zhao, street_chen, city
):
    from cityloop.org.models import Jurisdiction

    request = submit()
    for _ in range(2):
        [order] = actions.accept_suggestion(Request.objects.get(pk=request.pk), actor=dispatcher_li)
        actions.return_order(order, reason="不归我们管", actor=dept_water_zhao)
    arbitration = Arbitration.objects.get()
    client = as_user(dispatcher_li)
    assert request.tracking_no in client.get("/hotline/arbitrations/").content.decode()
    street = Jurisdiction.objects.get(city=city, code="D1S1")
    missing = client.post(
        f"/hotline/arbitrations/{arbitration.pk}/decide/", {f"a{arbitration.pk}-unit": f"street:{street.pk}"}
    )
    assert missing.status_code == 400 and _errors_of(missing.content.decode(), f"a{arbitration.pk}-decision")
    client.post(
        f"/hotline/arbitrations/{arbitration.pk}/decide/",
        {f"a{arbitration.pk}-unit": f"street:{street.pk}", f"a{arbitration.pk}-decision": "属地管理"},
    )
    assert Order.objects.filter(request=request, status=OrderStatus.PENDING).get().street == street


def test_a_phone_follow_up_is_recorded_from_the_queue(as_user, submit, dispatcher_li, dept_water_zhao):
    request = _replied(submit, dispatcher_li, dept_water_zhao)
    client = as_user(dispatcher_li)
    assert request.tracking_no in client.get("/hotline/follow-ups/").content.decode()
    bad = client.post(f"/hotline/follow-ups/{request.pk}/", {f"f{request.pk}-resolved": "yes"})
    assert bad.status_code == 400 and _errors_of(bad.content.decode(), f"f{request.pk}-satisfaction")
    client.post(
        f"/hotline/follow-ups/{request.pk}/",
        {f"f{request.pk}-resolved": "yes", f"f{request.pk}-satisfaction": "basic"},
    )
    follow_up = FollowUp.objects.get()
    assert follow_up.channel == "phone" and follow_up.operator == dispatcher_li
    assert Request.objects.get(pk=request.pk).status == Status.CLOSED


# -- units ---------------------------------------------------------------------------------------------


def test_the_inbox_has_new_in_progress_overdue_and_returned_tabs(as_user, submit, dispatcher_li, street_chen):
    waiting, working, late, bounced = (
        submit(category="01.01.01", description=f"乱堆乱放{i}") for i in range(4)
    )
    orders = {
        r.pk: actions.accept_suggestion(r, actor=dispatcher_li)[0] for r in (waiting, working, late, bounced)
    }
    actions.sign_order(orders[working.pk], actor=street_chen)
    actions.sign_order(orders[late.pk], actor=street_chen)
    Order.objects.filter(pk=orders[late.pk].pk).update(finish_due=timezone.now() - timedelta(hours=2))
    actions.return_order(orders[bounced.pk], reason="不在本街道", actor=street_chen)
    client = as_user(street_chen)
    tabs = {
        tab: client.get(f"/hotline/inbox/?tab={tab}").content.decode()
        for tab in ("new", "in_progress", "overdue", "returned")
    }
    assert waiting.tracking_no in tabs["new"] and working.tracking_no not in tabs["new"]
    assert working.tracking_no in tabs["in_progress"] and late.tracking_no in tabs["in_progress"]
    assert late.tracking_no in tabs["overdue"] and working.tracking_no not in tabs["overdue"]
    assert bounced.tracking_no in tabs["returned"] and "不在本街道" in tabs["returned"]
    overdue = client.get("/hotline/inbox/overdue/").content.decode()
    assert late.tracking_no in overdue and working.tracking_no not in overdue


def test_a_citizen_and_a_dispatcher_have_no_inbox(as_user, city, citizen_wang, dispatcher_li):
    assert as_user(citizen_wang).get("/hotline/inbox/").status_code == 403
    assert as_user(dispatcher_li).get("/hotline/inbox/").status_code == 403


def test_the_unit_signs_and_replies_from_its_pages(as_user, submit, dispatcher_li, street_chen):
    request = submit(category="01.01.01")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    client = as_user(street_chen)
    client.post(f"/hotline/orders/{order.pk}/sign/", {"next": "inbox"})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SIGNED
    client.post(
        f"/hotline/orders/{order.pk}/contact/",
        {f"o{order.pk}-contact-channel": "phone", f"o{order.pk}-contact-summary": "约好明天上门"},
    )
    client.post(f"/hotline/orders/{order.pk}/note/", {f"o{order.pk}-note-text": "已清理一半"})
    client.post(
        f"/hotline/orders/{order.pk}/reply/",
        {
            f"o{order.pk}-reply-outcome": "resolved",
            f"o{order.pk}-reply-text": "已清理完毕",
            "send_anyway": "1",
        },
    )
    request.refresh_from_db()
    assert request.status == Status.REPLIED and request.first_response_at is not None
    assert list(request.events.values_list("kind", flat=True))[-4:] == [
        "signed",
        "contact",
        "note",
        "replied",
    ]


def test_a_return_without_a_reason_shows_the_field_error(as_user, submit, dispatcher_li, street_chen):
    request = submit(category="01.01.01")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    response = as_user(street_chen).post(
        f"/hotline/orders/{order.pk}/return/", {f"o{order.pk}-return-reason": " "}
    )
    assert response.status_code == 400 and _errors_of(response.content.decode(), f"o{order.pk}-return-reason")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


def test_another_street_cannot_see_or_sign_the_order(as_user, submit, dispatcher_li, street_chen, city):
    from cityloop.core.actions import add_user
    from cityloop.org.models import Jurisdiction
    from tests.conftest import PERSONA_PASSWORD

    street_he = add_user(
        username="street_he",
        password=PERSONA_PASSWORD,
        role="street",
        full_name="何街道",
        actor=SYSTEM,
        check_password=False,
        street=Jurisdiction.objects.get(city=city, code="D2S1"),
    )
    request = submit(category="01.01.01")
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    client = as_user(street_he)
    assert client.get(f"/hotline/requests/{request.pk}/").status_code == 404
    assert client.post(f"/hotline/orders/{order.pk}/sign/").status_code == 404
    assert request.tracking_no not in client.get("/hotline/inbox/").content.decode()
    # The dispatcher sees the request but is not the receiving unit: refused.
    assert as_user(dispatcher_li).post(f"/hotline/orders/{order.pk}/sign/").status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING


# -- search, export, navigation, language --------------------------------------------------------------


def test_search_filters_within_what_the_person_may_see(as_user, submit, dispatcher_li, street_chen):
    here = submit(category="01.01.01", description="金融街乱堆乱放")
    there = submit(place="D2S1", category="01.01.01", description="朝阳门乱堆乱放")
    water = submit(description='=HYPERLINK("x")停水')
    client = as_user(dispatcher_li)
    page = client.get("/hotline/search/", {"street": "D1S1", "category": "01"}).content.decode()
    assert here.tracking_no in page and there.tracking_no not in page and water.tracking_no not in page
    page = client.get("/hotline/search/", {"q": "朝阳门"}).content.decode()
    assert there.tracking_no in page and here.tracking_no not in page
    street_page = as_user(street_chen).get("/hotline/search/").content.decode()
    assert here.tracking_no in street_page and there.tracking_no not in street_page


def test_the_csv_export_has_the_filtered_rows_and_no_formulas(as_user, submit, dispatcher_li):
    water = submit(description='=HYPERLINK("x")停水')
    other = submit(place="D2S1", category="01.01.01")
    response = as_user(dispatcher_li).get("/hotline/search/", {"category": "02", "format": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    lines = body.strip().splitlines()
    assert lines[0].startswith("tracking_no,created_at,status") and len(lines) == 2
    assert water.tracking_no in lines[1] and other.tracking_no not in body
    assert "'=HYPERLINK" in lines[1]


def test_a_date_range_that_ends_before_it_starts_is_refused(as_user, city, dispatcher_li):
    response = as_user(dispatcher_li).get("/hotline/search/", {"since": "2024-05-02", "until": "2024-05-01"})
    assert response.status_code == 400 and _errors_of(response.content.decode(), "until")


def test_the_import_page_lists_kept_rows_and_bad_rows_with_their_lines(as_user, city, dispatcher_li):
    upload = io.BytesIO(
        "description,address,caller_phone\n井盖丢了,金融街购物中心,13812345678\n,,\n".encode()
    )
    upload.name = "calls.csv"
    page = as_user(dispatcher_li).post("/hotline/import/", {"file": upload}).content.decode()
    assert Request.objects.get().channel == "csv"
    assert re.search(r'<tr data-line="3"><td>3</td><td class="error">[^<]*description', page)


def test_each_role_gets_its_hotline_navigation(
    as_user, city, citizen_wang, dispatcher_li, street_chen, leader_sun
):
    expectations = {
        citizen_wang: ({"/hotline/submit/", "/hotline/track/", "/hotline/mine/"}, "/hotline/dispatch/"),
        dispatcher_li: (
            {
                "/hotline/intake/",
                "/hotline/dispatch/",
                "/hotline/follow-ups/",
                "/hotline/arbitrations/",
                "/hotline/search/",
                "/hotline/import/",
            },
            "/hotline/inbox/",
        ),
        street_chen: ({"/hotline/inbox/", "/hotline/search/"}, "/hotline/dispatch/"),
        leader_sun: ({"/hotline/search/"}, "/hotline/inbox/"),
    }
    for user, (shown, hidden) in expectations.items():
        nav = re.search(
            r"<nav aria-label=[^>]*>(.*?)</nav>", as_user(user).get("/").content.decode(), re.S
        ).group(1)
        links = set(re.findall(r'href="(/hotline/[^"]*)"', nav))
        assert shown <= links and hidden not in links, user.username


def test_the_pages_speak_chinese_by_default_and_english_on_request(client, city):
    assert "提交" in client.get("/hotline/submit/").content.decode()
    client.cookies["django_language"] = "en"
    page = client.get("/hotline/track/").content.decode()
    assert "Track a request" in page and 'lang="en"' in page


@pytest.mark.parametrize("pack", ["nyc", "beijing"])
def test_the_demo_city_gets_requests_in_every_state_once(pack):
    from cityloop.hotline.models import IdempotencyKey
    from cityloop.org import demo

    def ours():
        return Request.objects.filter(
            pk__in=IdempotencyKey.objects.filter(scope__startswith="demo:").values("request")
        )

    demo.load(pack)
    assert ours().count() == 60
    assert {"new", "dispatched", "in_progress", "replied", "closed"} <= set(
        ours().values_list("status", flat=True)
    )
    assert Extension.objects.filter(approved__isnull=True, order__request__in=ours()).exists()
    assert Order.objects.filter(status=OrderStatus.RETURNED, request__in=ours()).exists()
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in ours().first().description)
    assert chinese == (pack == "beijing")
    demo.load(pack)
    assert ours().count() == 60


def test_the_demo_prints_a_tracking_number_access_code_and_rating_link_that_work(client):
    import io

    from cityloop.org import demo

    out = io.StringIO()
    demo.load("beijing", stdout=out)
    found = re.search(
        r"track (R\S+) with access code (\S+) at /hotline/track/, rate it at (/hotline/rate/\S+/)",
        out.getvalue(),
    )
    assert found, out.getvalue()
    number, code, link = found.groups()
    tracked = client.post("/hotline/track/", {"tracking_no": number, "code": code}, follow=True)
    assert tracked.redirect_chain[-1][0] == f"/hotline/track/{number}/"
    assert client.post(link, {"resolved": "yes", "satisfaction": "satisfied"}).status_code == 200
    assert Request.objects.get(tracking_no=number).status == Status.CLOSED


def test_a_dispatchers_internal_note_never_reaches_the_public_tracking_page(
    client, as_user, submit, dispatcher_li
):
    """Issue 10 #9: the dispatcher's "newcomer test" note showed on the citizen's tracking page."""
    request = submit()
    actions.dispatch_request(
        request, units=[("street", request.street, "street")], actor=dispatcher_li, note="newcomer test"
    )
    page = _track(client, request).content.decode()
    assert 'data-event="dispatched"' in page and "newcomer test" not in page
    api = Client().get(f"/api/v1/track/{request.tracking_no}", {"code": request.access_code}).content.decode()
    assert "newcomer test" not in api
    for feed in (
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{request.tracking_no}.json",
        "/open311/v2/servicerequestupdates.json",
    ):
        assert "newcomer test" not in Client().get(feed).content.decode()
    staff = as_user(dispatcher_li).get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "newcomer test" in staff


def test_every_note_form_says_whether_the_citizen_sees_it(as_user, submit, dispatcher_li, dept_water_zhao):
    from cityloop.hotline.forms import STAFF_ONLY

    request = submit()
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    with translation.override("zh-hans"):  # the pages' language, whatever an earlier test left active
        internal = str(STAFF_ONLY)
    unit_page = as_user(dept_water_zhao).get(f"/hotline/requests/{request.pk}/").content.decode()
    for form in ("return", "contact", "extension"):
        block = re.search(rf'data-form="{form}".*?</form>', unit_page, re.S).group(0)
        assert internal in block, form
    note = re.search(r'data-form="note".*?</form>', unit_page, re.S).group(0)
    assert "公开进度页" in note
    reply = re.search(r'data-form="reply".*?</form>', unit_page, re.S).group(0)
    assert "公开进度页" in reply
    fresh = submit()
    dispatcher_page = as_user(dispatcher_li).get(f"/hotline/requests/{fresh.pk}/").content.decode()
    dispatch = re.search(r'action="/hotline/requests/\d+/dispatch/".*?</form>', dispatcher_page, re.S).group(
        0
    )
    assert internal in dispatch


def test_dispatch_notes_stored_before_the_fix_become_internal(submit, dispatcher_li):
    import importlib

    from django.apps import apps

    from cityloop.hotline.models import Event

    request = submit()
    actions.dispatch_request(request, units=[("street", request.street, "street")], actor=dispatcher_li)
    Event.objects.filter(request=request, kind="dispatched").update(text="newcomer test")  # the old shape
    migration = importlib.import_module("cityloop.hotline.migrations.0005_dispatch_notes_internal")
    migration.notes_internal(apps, None)
    dispatched = Event.objects.get(request=request, kind="dispatched")
    note = Event.objects.get(request=request, kind="dispatch_note")
    assert dispatched.public and dispatched.text == ""
    assert not note.public and note.text == "newcomer test" and note.order_id == dispatched.order_id


def test_a_confidential_caller_is_fully_hidden_from_the_units_page(
    as_user, submit, dispatcher_li, dept_water_zhao
):
    """Issue 11 #6: the unit's page showed 王** 138****5678 for a caller the form promised to hide."""
    from django.contrib.auth.models import Permission

    request = submit(confidential=True)
    actions.accept_suggestion(request, actor=dispatcher_li)
    dept_water_zhao.user_permissions.add(Permission.objects.get(codename="contact_citizen"))
    page = as_user(dept_water_zhao).get(f"/hotline/requests/{request.pk}/").content.decode()
    contact = re.search(r"<dd data-contact>(.*?)</dd>", page, re.S).group(1)
    assert "data-hidden-caller" in contact and "王" not in contact and "138" not in contact
    assert "/reveal/" not in page
    assert as_user(dept_water_zhao).post(f"/hotline/requests/{request.pk}/reveal/").status_code == 403
    dispatcher_page = as_user(dispatcher_li).get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "王*" in dispatcher_page and "/reveal/" in dispatcher_page


def test_a_pixel_bomb_through_the_anonymous_form_is_refused(client, city):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.hotline.images import pixel_bomb_png

    bomb = SimpleUploadedFile("bomb.png", pixel_bomb_png(7000, 7000), content_type="image/png")
    response = client.post("/hotline/submit/", {**GOOD, "photos": bomb})
    assert response.status_code == 200 and "bomb.png" in _errors_of(response.content.decode(), "photos")
    assert Request.objects.count() == 0


def test_anonymous_submits_from_one_address_are_throttled_in_the_shared_cache(
    as_user, city, settings, citizen_wang
):
    """Issue 11 #8: anonymous submits had no throttle."""
    settings.HOTLINE = {**settings.HOTLINE, "anonymous_submits_per_hour": 3}
    for i in range(3):
        # A fresh client (no session) per submit: the count is per address, not per browser.
        assert (
            Client(REMOTE_ADDR="10.2.0.1")
            .post("/hotline/submit/", {**GOOD, "description": f"路灯坏了 {i}"})
            .status_code
            == 302
        )
    blocked = Client(REMOTE_ADDR="10.2.0.1").post("/hotline/submit/", GOOD)
    assert blocked.status_code == 429 and Request.objects.count() == 3
    assert Client(REMOTE_ADDR="10.2.0.2").post("/hotline/submit/", GOOD).status_code == 302
    signed_in = as_user(citizen_wang)
    assert signed_in.post("/hotline/submit/", GOOD, REMOTE_ADDR="10.2.0.1").status_code == 302


@pytest.fixture
def photo_request(client, city, settings, tmp_path):
    """A request filed on the web form with one photo, by ``client`` (which thereby tracks it)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.hotline.images import pixel_bomb_png

    settings.MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("door.png", pixel_bomb_png(800, 600), content_type="image/png")
    assert client.post("/hotline/submit/", {**GOOD, "photos": photo}).status_code == 302
    return Request.objects.get()


def test_the_citizen_who_tracked_the_request_sees_its_photo_and_thumbnail(client, photo_request):
    [attachment] = photo_request.attachments.all()
    full = client.get(f"/hotline/photos/{attachment.pk}/")
    assert full.status_code == 200 and full["Content-Type"] == "image/png"
    assert "sandbox" in full["Content-Security-Policy"] and full["Cache-Control"].startswith("private")
    thumb = client.get(f"/hotline/photos/{attachment.pk}/thumbnail/")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    from PIL import Image

    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    page = client.get(f"/hotline/track/{photo_request.tracking_no}/").content.decode()
    assert f"/hotline/photos/{attachment.pk}/thumbnail/" in page


def test_photos_are_never_public_media(photo_request):
    [attachment] = photo_request.attachments.all()
    stranger = Client()
    for url in (
        f"/hotline/photos/{attachment.pk}/",
        f"/hotline/photos/{attachment.pk}/thumbnail/",
        f"/hotline/photos/{attachment.pk + 1}/",
        f"/{attachment.file.name}",
        f"/media/{attachment.file.name}",
    ):
        assert stranger.get(url).status_code == 404, url


def test_staff_see_a_photo_only_within_their_scope(
    as_user, photo_request, dispatcher_li, street_chen, dept_water_zhao, outsider_zhou
):
    """Issue 11 #15: another street's staff, another citizen, an unconcerned department get 404."""
    [attachment] = photo_request.attachments.all()
    url = f"/hotline/photos/{attachment.pk}/"
    assert as_user(dispatcher_li).get(url).status_code == 200
    detail = as_user(dispatcher_li).get(f"/hotline/requests/{photo_request.pk}/").content.decode()
    assert f'href="{url}"' in detail and attachment.file.name not in detail
    assert photo_request.street.code == "D1S1"
    assert as_user(street_chen).get(url).status_code == 200  # the request lies in 金融街
    Request.objects.filter(pk=photo_request.pk).update(street=None)  # now it is another street's request
    assert as_user(street_chen).get(url).status_code == 404
    assert as_user(dept_water_zhao).get(url).status_code == 404
    assert as_user(outsider_zhou).get(url).status_code == 404
    assert as_user(outsider_zhou).get(f"{url}thumbnail/").status_code == 404


def test_a_dispatcher_gives_a_caller_who_lost_the_code_a_new_one_and_the_old_one_stops(
    as_user, client, submit, dispatcher_li, street_chen
):
    request = submit()
    old = request.access_code
    dispatcher = as_user(dispatcher_li)
    response = dispatcher.post(f"/hotline/requests/{request.pk}/access-code/", follow=True)
    shown = re.search(r"访问码 ([2-9A-Z]{5}-[2-9A-Z]{5})", response.content.decode()).group(1)
    assert shown == texted_code(request.tracking_no)
    assert AuditRecord.objects.filter(
        action="request.access_code_reissue", actor_id=dispatcher_li.pk
    ).exists()
    assert as_user(street_chen).post(f"/hotline/requests/{request.pk}/access-code/").status_code == 403
    client.logout()
    assert (
        client.post("/hotline/track/", {"tracking_no": request.tracking_no, "code": old}).status_code == 404
    )
    assert _track(client, request, shown).redirect_chain[-1][0] == f"/hotline/track/{request.tracking_no}/"


def test_the_dispatcher_sees_who_was_told_with_contacts_masked_and_a_unit_does_not(
    as_user, submit, dispatcher_li, dept_water_zhao
):
    request = submit()
    actions.accept_suggestion(request, actor=dispatcher_li)
    page = as_user(dispatcher_li).get(f"/hotline/requests/{request.pk}/").content.decode()
    told = page[page.index("已告知") :]
    assert "诉求" in told and "sms 138****" in told and "13812345678" not in told
    unit_page = as_user(dept_water_zhao).get(f"/hotline/requests/{request.pk}/").content.decode()
    assert "已告知" not in unit_page
