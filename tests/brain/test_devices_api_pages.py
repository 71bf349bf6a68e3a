"""The device registry, the HTTP API (upload + NGSI-LD) and the pages."""

from __future__ import annotations

import io

import orjson
import pyarrow as pa
import pytest

from cityloop.brain.actions.devices import import_devices_csv
from cityloop.brain.models import Device
from cityloop.core.actors import SYSTEM

pytestmark = pytest.mark.django_db
HOUR = 1_780_000_000 // 3600 * 3600


def test_a_csv_import_locates_each_device_to_its_street_and_community(city, tiny_places):
    lon, lat = tiny_places["D1S1C2"]
    text = f"code,type,kind,lon,lat,department,interval_s\nA1,meter,water,{lon},{lat},WATER,900\n"
    report = import_devices_csv(city=city, text=text, actor=SYSTEM)
    assert report.ok
    device = Device.objects.select_related("street", "community", "district").get(code="A1")
    assert (device.district.code, device.street.code, device.community.code, device.idx) == (
        "D1",
        "D1S1",
        "D1S1C2",
        0,
    )


def test_a_csv_with_bad_lines_imports_nothing_and_names_every_bad_line(city, tiny_places):
    lon, lat = tiny_places["D2S1"]
    out_lon, out_lat = tiny_places["outside_city"]
    text = (
        "code,type,kind,lon,lat,department,interval_s\n"
        f"B1,meter,water,{lon},{lat},WATER,900\n"
        f"B2,meter,lava,{lon},{lat},WATER,900\n"
        f"B3,sensor,noise,{out_lon},{out_lat},CITYMGMT,60\n"
        f"B1,meter,water,{lon},{lat},NOPE,5\n"
    )
    report = import_devices_csv(city=city, text=text, actor=SYSTEM)
    assert not report.ok and not Device.objects.exists()
    assert "line 3: kind: must be one of" in report.errors[0]
    joined = "\n".join(report.errors)
    for expected in (
        "line 4: lon/lat: the point",
        "line 5: code: B1 is repeated (first on line 2)",
        "line 5: department: no department with code 'NOPE'",
        "line 5: interval_s: must be between 10",
    ):
        assert expected in joined


@pytest.fixture
def brain_token(admin_zhang):
    from cityloop.core.actions import create_token

    _, secret = create_token(
        user=admin_zhang, name="meters", scopes=["brain"], actor=admin_zhang, gateway="*"
    )
    return secret


def test_readings_upload_as_csv_and_arrow_and_the_device_answers_as_ngsi_ld(client, devices, brain_token):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {brain_token}"}
    csv = f"device,ts,value\nW1,{HOUR},10.0\nW1,{HOUR + 900},10.5\nGHOST,{HOUR},1\n".encode()
    got = client.post("/api/v1/brain/readings", csv, content_type="text/csv", **auth)
    assert got.status_code == 200, got.content
    assert got.json() | {"errors": []} == {
        "received": 3,
        "accepted": 2,
        "rejected": 1,
        "alarms": 0,
        "errors": [],
        "rejected_by_reason": {"unknown_device": 1},
    }
    sink = io.BytesIO()
    table = pa.table({"device": ["W1"], "ts": pa.array([HOUR + 1800], pa.int64()), "value": [11.0]})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    got = client.post(
        "/api/v1/brain/readings", sink.getvalue(), content_type="application/vnd.apache.arrow.stream", **auth
    )
    assert got.json()["accepted"] == 1
    entity = client.get("/api/v1/brain/devices/W1", **auth)
    assert entity["Content-Type"] == "application/ld+json"
    body = orjson.loads(entity.content)
    assert body["id"] == "urn:ngsi-ld:Device:W1" and body["type"] == "Device"
    assert body["kind"] == {"type": "Property", "value": "water"}
    assert body["location"]["value"]["type"] == "Point"
    assert body["latestReading"]["value"] == 11.0
    assert body["latestReading"]["observedAt"].endswith("Z")
    assert "@context" in body


def test_an_upload_without_a_brain_token_or_with_an_unknown_content_type_is_refused(
    client, devices, brain_token
):
    assert client.post("/api/v1/brain/readings", b"{}", content_type="application/json").status_code == 401
    got = client.post(
        "/api/v1/brain/readings",
        b"x",
        content_type="application/xml",
        HTTP_AUTHORIZATION=f"Bearer {brain_token}",
    )
    assert got.status_code == 400
    assert got.json()["detail"][0]["field"] == "Content-Type"


def test_the_pulse_and_device_pages_show_svg_charts_to_staff_and_refuse_citizens(
    client, devices, leader_sun, citizen_wang, persona_password
):
    from cityloop.brain import actions
    from cityloop.brain.ingest.codec import decode_json

    actions.upload_readings(
        decode_json(orjson.dumps({"d": ["W1", "W1"], "t": [HOUR, HOUR + 900], "v": [1.0, 2.0]})),
        source="test",
    )
    client.login(username="citizen_wang", password=persona_password)
    assert client.get("/brain/").status_code == 403
    client.login(username="leader_sun", password=persona_password)
    page = client.get("/brain/")
    assert page.status_code == 200 and b"<svg" in page.content
    device = client.get("/brain/devices/W1/")
    assert device.status_code == 200


def _token_for(user, gateway):
    from cityloop.core.actions import create_token

    return create_token(
        user=user, name=f"gateway {gateway}", scopes=["brain"], actor=SYSTEM, gateway=gateway
    )[1]


def test_a_brain_token_cannot_write_readings_for_another_device(client, devices, admin_zhang):
    from cityloop.core.models import AuditRecord

    water = {"HTTP_AUTHORIZATION": f"Bearer {_token_for(admin_zhang, 'GW-WATER')}"}
    own = client.post(
        "/api/v1/brain/readings",
        f"device,ts,value\nW1,{HOUR},10.0\n".encode(),
        content_type="text/csv",
        **water,
    )
    assert own.status_code == 200 and own.json()["accepted"] == 1
    # The noise sensor N1 belongs to gateway GW-NOISE: the water gateway's token may not write it.
    mixed = client.post(
        "/api/v1/brain/readings",
        f"device,ts,value\nW1,{HOUR + 900},11\nN1,{HOUR},99\n".encode(),
        content_type="text/csv",
        **water,
    )
    assert mixed.status_code == 403
    assert mixed.json()["detail"][0]["field"] == "d" and "N1" in mixed.json()["detail"][0]["message"]
    assert AuditRecord.objects.filter(action="brain.readings_refused").count() == 1
    from cityloop.brain.models import Device
    from cityloop.brain.queries import ngsi_ld

    assert ngsi_ld(Device.objects.get(code="W1"))["latestReading"]["value"] == 10.0  # nothing of it was kept


def test_a_brain_token_bound_to_no_gateway_writes_nothing(client, devices, admin_zhang):
    from cityloop.core.actions import create_token

    _, secret = create_token(user=admin_zhang, name="unbound", scopes=["brain"], actor=SYSTEM)
    got = client.post(
        "/api/v1/brain/readings",
        f"device,ts,value\nW1,{HOUR},10.0\n".encode(),
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert got.status_code == 403 and "--gateway" in got.json()["detail"][0]["message"]


def test_fake_readings_cannot_verify_a_leak_as_fixed(client, devices, admin_zhang):
    """A token for the noise gateway cannot send the 'normal' water readings that would close a leak case."""
    noise = {"HTTP_AUTHORIZATION": f"Bearer {_token_for(admin_zhang, 'GW-NOISE')}"}
    normal = "\n".join(f"W1,{HOUR + 900 * i},{10 + 0.01 * i}" for i in range(200))
    got = client.post(
        "/api/v1/brain/readings", f"device,ts,value\n{normal}\n".encode(), content_type="text/csv", **noise
    )
    assert got.status_code == 403


def test_a_nats_gateway_subject_carries_only_that_gateways_devices(devices):
    from cityloop.brain.ingest.codec import decode_json
    from cityloop.brain.worker import bound_to_subject

    batch = decode_json(
        orjson.dumps({"d": ["W1", "N1", "W2"], "t": [HOUR, HOUR, HOUR], "v": [1.0, 2.0, 3.0]})
    )
    kept = bound_to_subject("cityloop.readings.gw.GW-WATER", batch)
    assert kept.device.tolist() == ["W1", "W2"]
    assert [(row, field) for row, field, _why in kept.errors] == [(1, "not_bound")]
    assert bound_to_subject("cityloop.readings.all", batch) is batch


def test_a_gateway_token_needs_a_brain_scope_and_a_clean_name(admin_zhang):
    from django.core.exceptions import ValidationError

    from cityloop.core.actions import create_token

    with pytest.raises(ValidationError, match="only a token with the scope brain"):
        create_token(user=admin_zhang, name="x", scopes=["hotline"], actor=SYSTEM, gateway="G1")
    with pytest.raises(ValidationError, match="letters, digits"):
        create_token(user=admin_zhang, name="x", scopes=["brain"], actor=SYSTEM, gateway="a/b#")
