"""hotline/rules.py as plain tables: no database, no client, only what goes in and what comes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from cityloop.hotline import rules
from cityloop.hotline.models import OrderStatus, Status

ALL_TRANSITIONS = [(a, b) for a in Status.values for b in Status.values]
ALL_ORDER_TRANSITIONS = [(a, b) for a in OrderStatus.values for b in OrderStatus.values]

# The request lifecycle as the centre works it, written out once (the table in rules.py must match it).
ALLOWED = {
    ("new", "dispatched"),
    ("new", "merged"),
    ("new", "closed"),
    ("dispatched", "in_progress"),
    ("dispatched", "new"),  # every order came back: to the dispatcher's queue
    ("dispatched", "merged"),
    ("dispatched", "replied"),
    ("dispatched", "awaiting_verification"),
    ("in_progress", "replied"),
    ("in_progress", "awaiting_verification"),
    ("in_progress", "new"),
    ("in_progress", "dispatched"),
    ("replied", "closed"),
    ("replied", "dispatched"),  # reopened by the follow-up
    ("awaiting_verification", "closed"),
    ("awaiting_verification", "dispatched"),
    ("closed", "dispatched"),  # reopened, or the sensor problem came back
}
ORDER_ALLOWED = {
    ("pending", "signed"),
    ("pending", "returned"),
    ("pending", "cancelled"),
    ("signed", "replied"),
    ("signed", "returned"),
    ("signed", "cancelled"),
}


@pytest.mark.parametrize(("current", "target"), ALL_TRANSITIONS)
def test_a_request_changes_status_only_along_the_lifecycle(current, target):
    if (current, target) in ALLOWED:
        rules.check_transition(current, target)
    else:
        with pytest.raises(ValidationError) as raised:
            rules.check_transition(current, target)
        assert "status" in raised.value.message_dict
        assert repr(current) in raised.value.message_dict["status"][0]


@pytest.mark.parametrize(("current", "target"), ALL_ORDER_TRANSITIONS)
def test_an_order_changes_status_only_along_its_lifecycle(current, target):
    if (current, target) in ORDER_ALLOWED:
        rules.check_order_transition(current, target)
    else:
        with pytest.raises(ValidationError):
            rules.check_order_transition(current, target)


def test_merged_returned_replied_and_cancelled_are_final():
    assert rules.TRANSITIONS[Status.MERGED] == set()
    for final in (OrderStatus.RETURNED, OrderStatus.REPLIED, OrderStatus.CANCELLED):
        assert rules.ORDER_TRANSITIONS[final] == set()


@pytest.mark.parametrize(
    ("department", "route_kind", "street", "expected"),
    [
        (None, "street", 7, []),  # no responsibility: the dispatcher chooses
        (None, "direct", None, []),
        (3, "street", 7, [("street", 7, "street")]),  # a local matter goes to its street
        (3, "street", None, [("department", 3, "first_receiver")]),  # ... without a street, to the dept
        (3, "direct", 7, [("department", 3, "direct")]),  # 直派, wherever it is
        (3, None, None, [("department", 3, "direct")]),
    ],
)
def test_the_responsibility_list_routes_a_request(department, route_kind, street, expected):
    targets = rules.route(responsible_department_id=department, route_kind=route_kind, street_id=street)
    assert [(t.kind, t.pk, t.route) for t in targets] == expected
    assert all(t.reason for t in targets)


@pytest.mark.parametrize(
    ("history", "limit", "expected"),
    [([], 2, False), (["D1"], 2, False), (["D1", "D2"], 2, True), (["D1", "D1"], 2, True), (["D1"], 1, True)],
)
def test_returns_go_to_arbitration_at_the_limit(history, limit, expected):
    assert rules.returns_need_arbitration(history, limit=limit) is expected


@pytest.mark.parametrize(
    ("resolved", "satisfaction", "count", "reopen_on", "limit", "expected"),
    [
        (False, "satisfied", 0, {"unresolved"}, 2, True),
        (True, "unsatisfied", 0, {"unresolved"}, 2, False),
        (True, "unsatisfied", 0, {"unsatisfied"}, 2, True),
        (True, "basic", 0, {"unresolved", "unsatisfied"}, 2, False),
        (False, "unsatisfied", 2, {"unresolved", "unsatisfied"}, 2, False),  # the limit wins
        (False, "unsatisfied", 1, set(), 2, False),  # the city reopens on nothing
    ],
)
def test_a_follow_up_answer_reopens_by_the_citys_rules_up_to_the_limit(
    resolved, satisfaction, count, reopen_on, limit, expected
):
    assert (
        rules.reopen_allowed(
            resolved=resolved, satisfaction=satisfaction, reopen_count=count, reopen_on=reopen_on, limit=limit
        )
        is expected
    )


@pytest.mark.parametrize(
    ("a", "b", "metres"),
    [
        ((116.0, 39.9), (116.0, 39.9), 0),
        ((116.0, 39.9), (116.0, 40.0), 11_119.5),  # 0.1° of latitude
        ((0.0, 0.0), (1.0, 0.0), 111_195.1),  # 1° of longitude on the equator
        ((116.397, 39.908), (121.473, 31.230), 1_068_104),  # Tian'anmen to the Bund, about 1,068 km
    ],
)
def test_distances_are_great_circle_metres(a, b, metres):
    assert rules.distance_m(*a, *b) == pytest.approx(metres, rel=1e-3, abs=0.5)


@pytest.mark.parametrize(
    ("lon", "lat", "metres"), [(116.4, 39.9, 200), (0.0, 0.0, 1000), (18.95, 69.65, 200), (-74.0, 40.7, 5000)]
)
def test_the_degree_box_contains_every_point_within_the_radius(lon, lat, metres):
    west, south, east, north = rules.degree_box(lon, lat, metres)
    for bearing_lon, bearing_lat in ((east, lat), (west, lat), (lon, north), (lon, south)):
        assert rules.distance_m(lon, lat, bearing_lon, bearing_lat) >= metres


@pytest.mark.parametrize(
    ("day", "seq", "expected"),
    [
        (datetime(2026, 11, 26, tzinfo=UTC), 42, "R261126-00042"),
        (datetime(2027, 1, 1, tzinfo=UTC), 1, "R270101-00001"),
        (datetime(2026, 12, 31, tzinfo=UTC), 99_999, "R261231-99999"),
    ],
)
def test_tracking_numbers_are_date_and_daily_sequence(day, seq, expected):
    assert rules.tracking_number(day, seq) == expected


@pytest.mark.parametrize(
    ("phone", "shown"),
    [
        ("13912345678", "139****"),
        ("139-1234-5678", "139****"),
        ("010-65123456", "****"),  # a landline: nothing of it
        ("(212) 555-0100", "****"),
        ("", ""),
        ("no number", ""),
    ],
)
def test_a_phone_shows_only_the_carrier_prefix_of_a_mobile(phone, shown):
    assert rules.mask_phone(phone) == shown


@pytest.mark.parametrize(
    ("name", "shown"), [("王小明", "王**"), ("王", "王*"), ("  Li Na ", "L****"), ("", ""), ("   ", "")]
)
def test_a_name_shows_only_its_first_character(name, shown):
    assert rules.mask_name(name) == shown


@pytest.mark.parametrize(("confidential", "expected"), [(False, ("王**", "139****")), (True, ("", ""))])
def test_a_confidential_caller_is_hidden_entirely(confidential, expected):
    assert rules.masked_contact("王小明", "13912345678", confidential=confidential) == expected


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("due", "state"),
    [
        (None, "none"),
        (NOW - timedelta(seconds=1), "overdue"),
        (NOW, "nearly_overdue"),
        (NOW + timedelta(hours=4), "nearly_overdue"),
        (NOW + timedelta(hours=4, seconds=1), "ok"),
    ],
)
def test_the_timer_warns_within_the_window_and_turns_overdue_after_the_deadline(due, state):
    assert rules.timer_state(NOW, due, warn=timedelta(hours=4)) == state


def test_the_default_limits_are_the_citys_published_ones():
    assert rules.DEFAULT_LIMITS["urgent"].respond_hours == 2
    assert rules.DEFAULT_LIMITS["normal"].respond_hours == 24
    assert {limit.finish_days for limit in rules.DEFAULT_LIMITS.values()} == {7}
