"""The /api/v1/services JSON API: the happy path, a refused input naming its field, the OpenAPI document."""

from __future__ import annotations

import base64

import pytest

from cityloop.core.actions import create_token
from tests.services.conftest import HOLDER, PDF


@pytest.fixture
def bearer():
    def make(user):
        _token, secret = create_token(user=user, name="test", scopes=["services"], actor=None)
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    return make


def test_the_services_api_is_in_the_openapi_document(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/services/catalogue" in paths and "/api/v1/services/applications/{number}/rating" in paths


def test_an_application_goes_through_the_api(client, bearer, citizen_wang, clerk_liu, dept_water_zhao, items, records,
                                             monday):
    assert {i["code"] for i in client.get("/api/v1/services/catalogue").json()} == {"WATER-1", "WATER-2", "SIGN-1"}
    citizen, clerk, water = bearer(citizen_wang), bearer(clerk_liu), bearer(dept_water_zhao)
    r = client.post("/api/v1/services/applications", {"holder_name": "王小明", "holder_id": HOLDER,
                                                      "items": ["WATER-1"]}, content_type="application/json", **citizen)
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    r = client.post(f"/api/v1/services/applications/{number}/answers", {"answers": {"premises": "owned"}},
                    content_type="application/json", **citizen)
    assert {n["key"] for n in r.json()["needs"]} == {"bundle_form", "holder_identity", "premises", "WATER-1.demand"}
    client.post(f"/api/v1/services/applications/{number}/consent", {"consent": True},
                content_type="application/json", **citizen)
    for key in ("bundle_form", "WATER-1.demand"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        r = client.post(f"/api/v1/services/applications/{number}/uploads",
                        {"need": key, "file": SimpleUploadedFile("m.pdf", PDF)}, **citizen)
        assert r.status_code == 200, r.content
    assert not any(n["missing"] for n in r.json()["needs"])
    assert client.post(f"/api/v1/services/applications/{number}/submit", **citizen).json()["status"] == "submitted"
    assert client.post(f"/api/v1/services/applications/{number}/accept", **clerk).json()["status"] == "accepted"
    task_id = client.get("/api/v1/services/tasks", **water).json()[0]["id"]
    r = client.post(f"/api/v1/services/tasks/{task_id}/approve", {"note": "同意"}, content_type="application/json",
                    **water)
    assert r.json()["status"] == "approved"
    assert client.get(f"/api/v1/services/applications/{number}", **citizen).json()["status"] == "delivered"
    r = client.post(f"/api/v1/services/applications/{number}/rating", {"score": 9},
                    content_type="application/json", **citizen)
    assert r.status_code == 400 and r.json()["detail"][0]["field"] == "score"
    r = client.post(f"/api/v1/services/applications/{number}/rating", {"score": 5, "comment": "很快"},
                    content_type="application/json", **citizen)
    assert r.status_code == 201 and r.json() == {"score": 5, "rectifications": 0}


def test_a_bad_upload_is_refused_naming_the_material(client, bearer, citizen_wang, items, monday):
    citizen = bearer(citizen_wang)
    number = client.post("/api/v1/services/applications", {"holder_name": "王小明", "holder_id": HOLDER,
                                                           "items": ["SIGN-1"]}, content_type="application/json",
                         **citizen).json()["number"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = client.post(f"/api/v1/services/applications/{number}/uploads",
                    {"need": "bundle_form", "file": SimpleUploadedFile("m.pdf", base64.b64encode(PDF))}, **citizen)
    assert r.status_code == 400
    assert r.json()["detail"][0]["field"] == "materials.bundle_form"


def test_the_api_needs_a_token(client, items):
    assert client.get("/api/v1/services/applications").status_code == 401
