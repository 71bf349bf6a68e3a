"""The services pillar's demo data for the Beijing pack: catalogue, bundles, registry, staff, history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from cityloop.core import actions as core_actions
from cityloop.core import actors
from cityloop.core import queries as core_queries
from cityloop.services import actions, clock, queries
from cityloop.services import actions as services_actions
from cityloop.services.models import Bundle, GovRecord, ServiceItem, WindowDepartment

FIXTURES = Path(__file__).resolve().with_name("fixtures")
DEMO_CATALOGUE = FIXTURES / "demo_catalogue.yaml"
HISTORY = FIXTURES / "catalogue_2018.yaml"
DEMO_ONLY_FIELDS = ("code", "department", "demo_hours")


def read(path: Path = DEMO_CATALOGUE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def item_definition(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in DEMO_ONLY_FIELDS}


@transaction.atomic
def load(*, city, stdout=None, password: str | None = None) -> bool:
    """Add the demo catalogue to ``city`` (idempotent); False when the city lacks its departments."""
    from cityloop.org.demo import DEMO_PASSWORD

    data = read()
    departments = {d.code: d for d in city.departments.all()}
    needed = {i["department"] for i in data["items"]} | set(data["window_departments"])
    if not needed <= set(departments):
        if stdout:
            stdout.write(
                f"services demo: skipped (the {city.code} pack lacks departments "
                f"{', '.join(sorted(needed - set(departments)))})"
            )
        return False
    for code in data["window_departments"]:
        WindowDepartment.objects.get_or_create(department=departments[code])
    for user in data["users"]:
        if not core_queries.users(username=user["username"]).exists():
            core_actions.add_user(
                username=user["username"],
                password=password or DEMO_PASSWORD,
                role="department",
                full_name=user["full_name"],
                department=departments[user["department"]],
                actor=actors.DEMO,
                check_password=False,
            )
    for who in data.get("verified_identities", []):
        citizen = core_queries.user_named(who["username"])
        if citizen is not None and not citizen.id_number:
            actions.verify_identity(
                citizen,
                id_number=who["id_number"],
                full_name=who["full_name"],
                actor=core_queries.users().get(username=who["clerk"]),
            )
    for record in data["records"]:
        GovRecord.objects.update_or_create(
            holder_id=record["holder_id"],
            record_type=record["record_type"],
            defaults={k: record[k] for k in ("title", "issuer", "data", "issued_on")},
        )
    published = 0
    for item in data["items"]:
        if ServiceItem.objects.filter(code=item["code"]).exists():
            continue
        created = services_actions.create_item(
            code=item["code"],
            department=departments[item["department"]],
            data=item_definition(item),
            actor=actors.DEMO,
        )
        services_actions.publish_version(created.draft(), actor=actors.DEMO)
        published += 1
    for bundle in data["bundles"]:
        if Bundle.objects.filter(code=bundle["code"]).exists():
            continue
        members = [
            (ServiceItem.objects.get(code=m["item"]), m.get("depends_on", [])) for m in bundle["members"]
        ]
        services_actions.create_bundle(
            code=bundle["code"],
            name=bundle["name"],
            name_en=bundle.get("name_en", ""),
            description=bundle.get("description", ""),
            members=members,
            actor=actors.DEMO,
        )
    history = read(HISTORY)
    taken_on = (
        history["taken_on"]
        if isinstance(history["taken_on"], dt.date)
        else dt.date.fromisoformat(history["taken_on"])
    )
    services_actions.take_snapshot(
        on=taken_on, label="history", data={"items": history["items"]}, actor=actors.DEMO
    )
    made = _demo_applications(data)
    if stdout:
        stdout.write(
            f"services demo: {published} items published, {Bundle.objects.count()} bundles, "
            f"snapshots 2018 history and {clock.now():%Y-%m-%d}, {made} demo applications"
        )
    return True


# Three of citizen_wang's applications, so every desk has work: one decided with its e-certificate,
# one waiting at the window, one with an approver.
DEMO_APPLICATIONS = (("BJ-GA-014", "decided"), ("BJ-RS-021", "submitted"), ("BJ-SW-011", "accepted"))
DEMO_PDF = b"%PDF-1.4\n1 0 obj <</Type/Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def _demo_applications(data) -> int:
    """Run the demo citizen's applications through the real actions (idempotent: once per database)."""
    from cityloop.services.models import Application

    citizen = core_queries.user_named("citizen_wang")
    clerk = core_queries.user_named("window_liu")
    if (
        citizen is None
        or clerk is None
        or not citizen.id_number
        or Application.objects.filter(applicant=citizen).exists()
    ):
        return 0
    approvers = {u["department"]: core_queries.users().get(username=u["username"]) for u in data["users"]}
    made = 0
    for code, stage in DEMO_APPLICATIONS:
        item = ServiceItem.objects.filter(code=code).first()
        if item is None:
            continue
        app = actions.start_application(
            applicant=citizen,
            holder_name=citizen.full_name,
            holder_id=citizen.id_number,
            items=[item],
            actor=citizen,
        )
        situations = queries.situations_of(app)
        if situations:
            actions.answer_situations(app, {s.key: s.options[0]["value"] for s in situations}, actor=citizen)
        actions.fetch_records(app, consent=True, actor=citizen)
        for need in queries.outstanding_of(app):
            if need.commitment:
                actions.sign_commitment(app, need.key, actor=citizen)
            else:
                actions.upload_material(
                    app, need.key, filename=f"{need.key}.pdf", content=DEMO_PDF, actor=citizen
                )
        actions.submit_application(app, actor=citizen)
        if stage in ("accepted", "decided"):
            actions.accept_application(app, actor=clerk)
        if stage == "decided":
            for task in app.tasks.select_related("department"):
                actions.approve_task(task, actor=approvers[task.department.code], note="材料齐全，准予办理")
        made += 1
    return made
