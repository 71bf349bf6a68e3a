"""Fuzzing the Open311 endpoints: whatever a client sends, the answer is never a 5xx, always a well-formed
document in the format asked for, and an error is Open311's own list of {code, description}.

Hypothesis runs a bounded, derandomized number of examples (fixed seed: a failure is reproducible);
`make fuzz` runs many more (CITYLOOP_FUZZ_EXAMPLES). Values mix the attacks found by hand (dates
outside any calendar, '²' as a page, pages beyond an integer, control characters, huge fields, bad
coordinates) with arbitrary Unicode.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityloop.core.actors import SYSTEM
from cityloop.hotline.actions import Submission, submit_request

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("CITYLOOP_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same examples on every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ANSWERS = {200, 400, 403, 404, 429}

NASTY = [
    "",
    " ",
    "9999-12-31",
    "0001-01-01",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "2026-02-30",
    "2026-11-26T25:00:00Z",
    "2026-11-26T09:30:00",
    "²",
    "①",
    "１２",
    "٣",
    "99999999999999999999",
    "-1",
    "0",
    "100000",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "-0",
    "0x10",
    "\x00",
    "\x01",
    "a\x1bb",
    "\ufffe",
    "\U0010ffff",
    "true",
    "open,closed,,",
    ",".join(["x"] * 5000),
    "<![CDATA[]]>",
    "]]>&<'\"",
    "R000000-00000",
    "02.01.01",
    "02.01.01," * 200,
    "x" * 5000,
    "长" * 300_000,
]
# A valid value with a control character inside: it gets past the checks to the database and the XML.
spiked = st.builds(
    lambda good, bad, at: good[:at] + bad + good[at:],
    st.sampled_from(["三号楼停水", "02.01.01", "D1S1C1", "home", "weak", "fms-1", "open", "TC", "a@b.cn"]),
    st.sampled_from(["\x00", "\x01", "\x0b", "\x1b", "\x7f", "\x85", "\r", "\ufffe"]),
    st.integers(min_value=0, max_value=4),
)
values = st.one_of(
    st.sampled_from(NASTY),
    spiked,
    st.text(max_size=40),
    st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=0x3000, exclude_categories=["Cs"]), max_size=20
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
FORMATS = st.sampled_from(["json", "xml", "JSON", "xml ", "html", "json.xml"])

GET_PARAMS = [
    "jurisdiction_id",
    "service_request_id",
    "service_code",
    "status",
    "start_date",
    "end_date",
    "updated_after",
    "updated_before",
    "page",
    "page_size",
    "extensions",
]
POST_FIELDS = [
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
    "media_url",
    "attribute[FLOOR]",
    "attribute[KIND]",
    "attribute[SIGNS][]",
    "attribute[SINCE]",
    "attribute[NOTE]",
    "attribute[METER]",
    "attribute[NOPE]",
    "attribute[]",
    "attribute[FLOOR][x]",
]
UPDATE_FIELDS = [
    "jurisdiction_id",
    "service_request_id",
    "update_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
    "email",
    "first_name",
    "last_name",
    "account_id",
]


def _query(names):
    name = st.one_of(st.sampled_from(names), st.sampled_from(names), st.text(max_size=8))
    return st.dictionaries(name, values, max_size=6)


def check(response, fmt: str):
    """Never a server error; a document in the format asked for; an error is Open311's list."""
    assert response.status_code < 500 and response.status_code in ANSWERS, (
        response.status_code,
        response.content[:300],
    )
    as_json = fmt == "json"
    assert response["Content-Type"] == (
        "application/json; charset=utf-8" if as_json else "text/xml; charset=utf-8"
    ), response.content[:300]
    if as_json:
        body = json.loads(response.content.decode("utf-8"))
        if response.status_code != 200:
            assert body and all(set(e) == {"code", "description"} for e in body)
            assert all(e["code"] == response.status_code for e in body)
        return body
    root = ET.fromstring(response.content)  # raises on XML that is not well-formed
    if response.status_code != 200:
        assert root.tag == "errors" and root.findall("error")
        assert all(e.findtext("code") == str(response.status_code) for e in root.findall("error"))
    return root


def _answer_format(fmt: str) -> str:
    return "json" if fmt == "json" else "xml"


@pytest.fixture
def filed(city, tiny_places, dispatcher_li, dept_water_zhao):
    """A few published requests with public lines, so lists and updates have something to write."""
    from cityloop.hotline import actions

    lon, lat = tiny_places["D1S1C1"]
    numbers = []
    for text in ("楼里停水了 & <水> ]]>", "水很小\x01"):
        request, _ = submit_request(
            Submission(
                description=text, caller_phone="13812345678", lon=lon, lat=lat, category_code="02.01.01"
            ),
            city=city,
            channel="phone",
            actor=SYSTEM,
        )
        [order] = actions.accept_suggestion(request, actor=dispatcher_li)
        actions.sign_order(order, actor=dept_water_zhao)
        actions.reply_order(order, outcome="resolved", text="已恢复供水 <ok>", actor=dept_water_zhao)
        numbers.append(request.tracking_no)
    return numbers


@FUZZ
@given(path=st.sampled_from(["requests", "servicerequestupdates"]), fmt=FORMATS, query=_query(GET_PARAMS))
def test_fuzzed_list_queries_never_answer_5xx_or_a_broken_document(client, filed, path, fmt, query):
    answer = client.get(f"/open311/v2/{path}.{quote(fmt)}", query)
    check(answer, _answer_format(fmt))


@FUZZ
@given(
    resource=st.sampled_from(["requests", "services", "tokens"]),
    ident=st.one_of(values, st.sampled_from(["R", "01.01.01"])).filter(lambda v: v.strip(". ")),
    fmt=FORMATS,
    query=_query(["jurisdiction_id", "extensions"]),
)
def test_fuzzed_ids_never_answer_5xx_or_a_broken_document(client, filed, resource, ident, fmt, query):
    answer = client.get(f"/open311/v2/{resource}/{quote(ident[:2000], safe='')}.{quote(fmt)}", query)
    check(answer, _answer_format(fmt))


@FUZZ
@given(fields=_query(POST_FIELDS), fmt=FORMATS, key_in_query=st.booleans())
def test_fuzzed_posts_never_answer_5xx_and_what_is_stored_stays_valid_xml(
    client, city, api_key, tiny_places, fields, fmt, key_in_query
):
    lon, lat = tiny_places["D1S1C1"]
    body = {
        "service_code": "02.01.01",
        "lat": str(lat),
        "long": str(lon),
        "attribute[FLOOR]": "3",
        "attribute[KIND]": "home",
        **fields,
    }
    url = f"/open311/v2/requests.{quote(fmt)}"
    if key_in_query:
        url += "?" + urlencode({"api_key": api_key})
    else:
        body["api_key"] = api_key
    answer = client.post(url, urlencode(body), content_type="application/x-www-form-urlencoded")
    result = check(answer, _answer_format(fmt))
    if answer.status_code == 200 and fmt == "json":
        number = result[0].get("service_request_id")
        if number:
            check(client.get(f"/open311/v2/requests/{number}.xml"), "xml")
    check(client.get("/open311/v2/requests.xml"), "xml")


@FUZZ
@given(fields=_query(UPDATE_FIELDS), fmt=FORMATS)
def test_fuzzed_updates_never_answer_5xx_and_the_feed_stays_valid_xml(client, filed, api_key, fields, fmt):
    body = {
        "api_key": api_key,
        "service_request_id": filed[0],
        "update_id": "fms-1",
        "status": "open",
        "updated_datetime": "2026-11-26T10:00:00+08:00",
        "description": "还是没水",
        **fields,
    }
    answer = client.post(
        f"/open311/v2/servicerequestupdates.{quote(fmt)}",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
    )
    check(answer, _answer_format(fmt))
    check(client.get("/open311/v2/servicerequestupdates.xml"), "xml")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_huge_body_or_too_many_fields_is_an_open311_400_not_djangos_page(client, city, api_key, fmt):
    huge = client.post(
        f"/open311/v2/requests.{fmt}",
        urlencode({"api_key": api_key, "description": "长" * 2_000_000}),
        content_type="application/x-www-form-urlencoded",
    )
    many = client.get(f"/open311/v2/requests.{fmt}?" + "&".join(f"f{i}=1" for i in range(5000)))
    for answer in (huge, many):
        assert answer.status_code == 400
        check(answer, fmt)


@pytest.mark.parametrize("name", ["service_request_id", "service_code", "status"])
def test_a_list_of_70000_ids_is_an_open311_400_not_a_database_error(client, city, name):
    answer = client.get(f"/open311/v2/requests.json?{name}=" + ",".join(["R1"] * 70_000))
    assert answer.status_code == 400 and check(answer, "json")[0]["description"].startswith(name)
