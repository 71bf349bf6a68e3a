"""An independent client, the ``georeport`` package from PyPI, reads this server over HTTP.

georeport only GETs (it has no POST); it builds ``{root}/services.{fmt}`` etc. from the root address,
raises on any HTTP error, parses JSON with ``requests`` and XML with ``xmltodict``.
"""

from __future__ import annotations

import pytest
from georeport import GeoReport
from requests import HTTPError

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission


@pytest.fixture
def filed(transactional_db, city, dispatcher_li, dept_water_zhao):
    request, _ = actions.submit_request(
        Submission(
            description="楼里停水了",
            caller_phone="13812345678",
            lon=116.02,
            lat=39.95,
            category_code="02.01.01",
        ),
        city=city,
        channel="phone",
        actor=SYSTEM,
    )
    [order] = actions.accept_suggestion(request, actor=dispatcher_li)
    actions.sign_order(order, actor=dept_water_zhao)
    actions.reply_order(order, outcome="resolved", text="已恢复供水", actor=dept_water_zhao)
    return request


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_services_definitions_and_requests(live_server, filed, fmt):
    client = GeoReport(f"{live_server.url}/open311/v2/", jurisdiction="tc", output_format=fmt)
    services = client.get_service_list()
    assert [s["service_code"] for s in services] == ["01.01.01", "01.01.02", "02.01.01", "02.01.02"]
    water = next(s for s in services if s["service_code"] == "02.01.01")
    assert water["group"] == "水务" and str(water["metadata"]).lower() == "true"

    definition = client.get_service_definition("02.01.01")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes][:2] == ["FLOOR", "KIND"]

    listed = client.get_service_requests(status="open", service_code="02.01.01")
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict gives a dict for one element
    assert [r["service_request_id"] for r in listed] == [filed.tracking_no]

    one = client.get_service_request(filed.tracking_no)
    assert one["status"] == "open" and one["status_notes"] == "已恢复供水"
    assert one["agency_responsible"] == "市水务局" and one["requested_datetime"].endswith("+08:00")


def test_georeport_sees_the_errors_as_http_errors(live_server, filed):
    client = GeoReport(f"{live_server.url}/open311/v2", output_format="json")
    with pytest.raises(HTTPError) as caught:
        client.get_service_request("R000000-00000")
    assert caught.value.response.status_code == 404
    with pytest.raises(HTTPError) as caught:
        client.get_service_requests(start_date="2026-01-01T00:00:00Z", end_date="2026-12-31T00:00:00Z")
    assert caught.value.response.status_code == 400
