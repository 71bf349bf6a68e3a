"""The /api/v1/services JSON API: the happy path, a refused input naming its field, the OpenAPI document."""

from __future__ import annotations

import base64

import pytest

from cityloop.core.actions import create_token
from cityloop.core.actors import SYSTEM
from tests.services.conftest import HOLDER, PDF


@pytest.fixture
def bearer():
    def make(user):
        _token, secret = create_token(user=user, name="test", scopes=["services"], actor=SYSTEM)
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    return make


def test_the_services_api_is_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/services/catalogue" in paths and "/api/v1/services/applications/{number}/rating" in paths


def test_an_application_goes_through_the_api(
    client, bearer, citizen_wang, clerk_liu, dept_water_zhao, items, records, monday
):
    assert {i["code"] for i in client.get("/api/v1/services/catalogue").json()} == {
        "WATER-1",
        "WATER-2",
        "SIGN-1",
    }
    citizen, clerk, water = bearer(citizen_wang), bearer(clerk_liu), bearer(dept_water_zhao)
    r = client.post(
        "/api/v1/services/applications",
        {"holder_name": "王小明", "holder_id": HOLDER, "items": ["WATER-1"]},
        content_type="application/json",
        **citizen,
    )
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    r = client.post(
        f"/api/v1/services/applications/{number}/answers",
        {"answers": {"premises": "owned"}},
        content_type="application/json",
        **citizen,
    )
    assert {n["key"] for n in r.json()["needs"]} == {
        "bundle_form",
        "holder_identity",
        "premises",
        "WATER-1.demand",
    }
    client.post(
        f"/api/v1/services/applications/{number}/consent",
        {"consent": True},
        content_type="application/json",
        **citizen,
    )
    for key in ("bundle_form", "WATER-1.demand"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        r = client.post(
            f"/api/v1/services/applications/{number}/uploads",
            {"need": key, "file": SimpleUploadedFile("m.pdf", PDF)},
            **citizen,
        )
        assert r.status_code == 200, r.content
    assert not any(n["missing"] for n in r.json()["needs"])
    assert (
        client.post(f"/api/v1/services/applications/{number}/submit", **citizen).json()["status"]
        == "submitted"
    )
    assert (
        client.post(f"/api/v1/services/applications/{number}/accept", **clerk).json()["status"] == "accepted"
    )
    task_id = client.get("/api/v1/services/tasks", **water).json()[0]["id"]
    r = client.post(
        f"/api/v1/services/tasks/{task_id}/approve",
        {"note": "同意"},
        content_type="application/json",
        **water,
    )
    assert r.json()["status"] == "approved"
    assert client.get(f"/api/v1/services/applications/{number}", **citizen).json()["status"] == "delivered"
    r = client.post(
        f"/api/v1/services/applications/{number}/rating",
        {"score": 9},
        content_type="application/json",
        **citizen,
    )
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "score"
    r = client.post(
        f"/api/v1/services/applications/{number}/rating",
        {"score": 5, "comment": "很快"},
        content_type="application/json",
        **citizen,
    )
    assert r.status_code == 201 and r.json() == {"score": 5, "rectifications": 0}


def test_a_bad_upload_is_refused_naming_the_material(client, bearer, citizen_wang, items, monday):
    citizen = bearer(citizen_wang)
    number = client.post(
        "/api/v1/services/applications",
        {"holder_name": "王小明", "holder_id": HOLDER, "items": ["SIGN-1"]},
        content_type="application/json",
        **citizen,
    ).json()["number"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = client.post(
        f"/api/v1/services/applications/{number}/uploads",
        {"need": "bundle_form", "file": SimpleUploadedFile("m.pdf", base64.b64encode(PDF))},
        **citizen,
    )
    assert r.status_code == 400
    assert r.json()["detail"][0]["field"] == "materials.bundle_form"


def test_the_api_needs_a_token(client, items):
    assert client.get("/api/v1/services/applications").status_code == 401


def test_an_administrator_edits_lints_and_publishes_an_item_through_the_api(
    client, bearer, admin_zhang, items, citizen_wang
):
    admin = bearer(admin_zhang)
    draft = client.post("/api/v1/services/catalogue/WATER-1/draft", **admin)
    assert draft.status_code == 200 and draft.json()["status"] == "draft" and draft.json()["findings"] == []
    data = draft.json()["data"]
    data["materials"] = [*data["materials"], {**data["materials"][0], "key": "extra", "name": "其他材料"}]
    edited = client.put(
        "/api/v1/services/catalogue/WATER-1/draft", {"data": data}, content_type="application/json", **admin
    )
    assert edited.status_code == 200, edited.content
    assert "CL101" in {f["code"] for f in edited.json()["findings"]}
    refused = client.post("/api/v1/services/catalogue/WATER-1/publish", **admin)
    assert refused.status_code == 400 and any("CL101" in d["message"] for d in refused.json()["detail"])
    data["materials"] = data["materials"][:-1]
    client.put(
        "/api/v1/services/catalogue/WATER-1/draft", {"data": data}, content_type="application/json", **admin
    )
    published = client.post("/api/v1/services/catalogue/WATER-1/publish", **admin)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert client.post("/api/v1/services/catalogue/WATER-1/draft", **bearer(citizen_wang)).status_code == 403


def test_the_reduction_report_is_served_to_staff_and_names_a_missing_snapshot(
    client, bearer, leader_sun, items
):
    from django.utils import timezone

    leader = bearer(leader_sun)
    today = timezone.localdate().isoformat()
    report = client.get("/api/v1/services/reductions", {"from": today, "to": today}, **leader)
    assert report.status_code == 200, report.content
    assert report.json()[-1]["department"] == "TOTAL"
    missing = client.get("/api/v1/services/reductions", {"from": "1999-01-01"}, **leader)
    assert missing.status_code == 400 and missing.json()["detail"][0]["field"] == "from"


def _application(client, citizen) -> str:
    return client.post(
        "/api/v1/services/applications",
        {"holder_name": "王小明", "holder_id": HOLDER, "items": ["SIGN-1"]},
        content_type="application/json",
        **citizen,
    ).json()["number"]


def test_the_services_api_refuses_an_oversized_material_before_reading_it(
    client, bearer, citizen_wang, items, monday, monkeypatch
):
    from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

    from cityloop.services.models import Upload

    citizen = bearer(citizen_wang)
    number = _application(client, citizen)
    reads = []
    monkeypatch.setattr(TemporaryUploadedFile, "read", lambda self, *a: reads.append(a) or b"")
    big = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024) + b"%%EOF"
    r = client.post(
        f"/api/v1/services/applications/{number}/uploads",
        {"need": "bundle_form", "file": SimpleUploadedFile("m.pdf", big)},
        **citizen,
    )
    assert r.status_code == 400
    assert r.json()["detail"][0] == {
        "field": "materials.bundle_form",
        "message": "the file is 11.0 MB; the limit is 10 MB",
    }
    assert reads == [] and not Upload.objects.exists()


def test_a_small_material_still_goes_through_the_upload_cap(client, bearer, citizen_wang, items, monday):
    from django.core.files.uploadedfile import SimpleUploadedFile

    citizen = bearer(citizen_wang)
    number = _application(client, citizen)
    r = client.post(
        f"/api/v1/services/applications/{number}/uploads",
        {"need": "bundle_form", "file": SimpleUploadedFile("m.pdf", PDF)},
        **citizen,
    )
    assert r.status_code == 200, r.content
