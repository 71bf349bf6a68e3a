"""Sealed results, the reduction report, the CLI and the pages."""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from django.core.management import CommandError, call_command

from cityloop.core.actors import SYSTEM
from cityloop.services import actions, catalogue, reductions
from cityloop.services import actions as services_actions
from tests.services.test_bundles import accepted  # noqa: F401 - the fixture

needs_seal = pytest.mark.skipif(
    importlib.util.find_spec("cityloop.seal") is None,
    reason="the one-seal app cityloop.seal is not installed",
)


def approve_all(app, dept_water_zhao, housing_he):
    for code, who in (("WATER-1", dept_water_zhao), ("SIGN-1", housing_he), ("WATER-2", dept_water_zhao)):
        actions.approve_task(app.tasks.get(version__item__code=code), actor=who)


@needs_seal
def test_each_result_is_a_sealed_certificate_that_verifies(
    accepted,  # noqa: F811 (the imported fixture)
    dept_water_zhao,
    housing_he,
    tmp_path,
    capsys,
):
    from cityloop.seal.models import Certificate
    from cityloop.seal.verify import verify_text

    approve_all(accepted, dept_water_zhao, housing_he)
    results = list(accepted.results.all())
    assert len(results) == 3 and all(r.serial and r.url and r.pdf_url for r in results)
    from cityloop.notify.models import Message

    told = Message.objects.filter(event="certificate.issued", channel="inbox", user=accepted.applicant)
    assert sorted(m.link for m in told) == sorted(r.url for r in results)
    assert all(m.link in m.body for m in told)
    cert = Certificate.objects.get(serial=results[0].serial)
    assert cert.source_ref.startswith(f"services:{accepted.number}:")
    assert verify_text(cert.payload).ok
    path = tmp_path / "payload.txt"
    path.write_text(cert.payload, encoding="utf-8")
    call_command("services", "verify", str(path))
    assert "VALID" in capsys.readouterr().out
    tampered = cert.payload[:-3] + ("A" if cert.payload[-3] != "A" else "B") + cert.payload[-2:]
    with pytest.raises(CommandError, match="NOT VALID"):
        call_command("services", "verify", tampered)


def test_the_reduction_report_counts_what_was_removed_per_department():
    old = {
        "items": [
            {
                "code": "a",
                "department": "W",
                "department_name": "水务",
                "visits": 3,
                "materials": [
                    {"name": "申请表"},
                    {"name": "房产证复印件", "is_certificate": True},
                    {"name": "其他材料"},
                ],
            },
            {
                "code": "b",
                "department": "W",
                "department_name": "水务",
                "visits": 1,
                "materials": [{"name": "x"}],
            },
            {
                "code": "c",
                "department": "T",
                "department_name": "税务",
                "visits": 1,
                "materials": [{"name": "y"}],
            },
        ]
    }
    new = {
        "items": [
            {
                "code": "a",
                "department": "W",
                "department_name": "水务",
                "visits": 0,
                "materials": [
                    {"name": "申请表"},
                    {"name": "不动产权证书", "source": "data_sharing", "is_certificate": True},
                ],
            },
            {
                "code": "c",
                "department": "T",
                "department_name": "税务",
                "visits": 1,
                "materials": [{"name": "y"}],
            },
        ]
    }
    rows = {r.department: r for r in reductions.compare(old, new)}
    water, total = rows["W"], rows["TOTAL"]
    assert (water.removed("items"), water.percent("items")) == (1, 50.0)
    assert (water.before["materials"], water.after["materials"]) == (4, 1)
    assert water.percent("certificates") == 100.0 and water.percent("visits") == 100.0
    assert rows["T"].percent("materials") == 0.0
    assert total.before == {"items": 3, "materials": 5, "certificates": 1, "visits": 5}
    assert total.after == {"items": 2, "materials": 2, "certificates": 0, "visits": 1}


def test_the_reductions_command_compares_the_snapshots_on_two_dates(items, capsys):
    services_actions.take_snapshot(
        on=dt.date(2018, 6, 1),
        label="history",
        actor=SYSTEM,
        data={
            "items": [
                {
                    "code": "old",
                    "department": "WATER",
                    "department_name": "市水务局",
                    "visits": 2,
                    "materials": [
                        {"name": "a"},
                        {"name": "b"},
                        {"name": "c"},
                        {"name": "d"},
                        {"name": "e"},
                        {"name": "f"},
                        {"name": "g"},
                        {"name": "h"},
                    ],
                }
            ]
        },
    )
    call_command("services", "reductions", "--from", "2018-06-01", "--to", "2025-03-01")
    out = capsys.readouterr().out
    assert "2018-06-01 (history)" in out and "2025-02-24 (publish)" in out
    total = [line for line in out.splitlines() if line.startswith("TOTAL")][0]
    assert "8 → 7" in total and "12.5%" in total and "1 → 3" in total
    with pytest.raises(CommandError, match="no snapshot"):
        call_command("services", "reductions", "--from", "2001-01-01")


def test_the_pages_render_for_each_role(
    client, persona_password, citizen_wang, clerk_liu, admin_zhang, leader_sun, dept_water_zhao, bundle, items
):
    assert client.get("/services/").status_code == 200
    assert "开店一件事" in client.get("/services/bundles/OPEN-SHOP/").content.decode()
    client.login(username="citizen_wang", password=persona_password)
    response = client.post(
        "/services/apply/",
        {"bundle": "OPEN-SHOP", "holder_name": "王小明", "holder_id": "110101199001011234"},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'name="answers.premises"' in page
    assert client.get("/services/editor/").status_code == 403
    for who, url in (
        ("clerk_liu", "/services/window/"),
        ("dept_water_zhao", "/services/tasks/"),
        ("admin_zhang", "/services/editor/"),
        ("admin_zhang", "/services/editor/WATER-1/"),
        ("leader_sun", "/services/report/"),
    ):
        client.login(username=who, password=persona_password)
        assert client.get(url).status_code == 200, url


def test_the_editor_shows_findings_inline_and_refuses_to_publish(
    client, persona_password, admin_zhang, items
):
    client.login(username="admin_zhang", password=persona_password)
    client.post("/services/editor/WATER-1/", {"action": "draft"})
    draft = items["WATER-1"].draft()
    data = catalogue.editable_dict(draft)
    data["materials"][-1]["name"] = "用水需求说明等材料"
    import yaml

    client.post(
        "/services/editor/WATER-1/",
        {"action": "save", "definition": yaml.safe_dump(data, allow_unicode=True)},
    )
    page = client.get("/services/editor/WATER-1/").content.decode()
    # next to the material's name, by the rule's name in the page's language, not by the internal key
    assert "CL104 开放式列举" in page and "materials.demand.name" not in page
    client.post("/services/editor/WATER-1/", {"action": "publish"})
    assert items["WATER-1"].current_version().number == 1
