"""One window: situations decide the checklist, consented fetches, validated uploads, one correction
notice."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.services import actions, catalogue, queries
from cityloop.services import actions as services_actions
from cityloop.services.models import Application, AppStatus, TaskStatus
from tests.services.conftest import HOLDER, JPEG, PDF, PNG


def start(citizen, item):
    return actions.start_application(
        applicant=citizen, holder_name="王小明", holder_id=HOLDER, items=[item], actor=citizen
    )


def need_keys(app):
    return {n.key for n in queries.needs_of(app)}


def test_only_the_situation_answers_decide_the_materials(citizen_wang, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    assert need_keys(app) == {"bundle_form", "holder_identity", "premises", "WATER-1.demand"}
    assert [n.name for n in queries.needs_of(app) if n.key == "premises"] == ["房屋租赁合同"]
    actions.answer_situations(app, {"premises": "owned"}, actor=citizen_wang)
    premises = [n for n in queries.needs_of(app) if n.key == "premises"][0]
    assert premises.name == "房屋所有权证明" and premises.fetchable


def test_an_answer_outside_the_options_is_refused_naming_the_question(citizen_wang, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    with pytest.raises(ValidationError) as exc:
        actions.answer_situations(app, {"premises": "borrowed"}, actor=citizen_wang)
    assert "answers.premises" in exc.value.message_dict


def test_nothing_is_fetched_without_consent(citizen_wang, items, records, monday):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "owned"}, actor=citizen_wang)
    assert {n.key for n in queries.fetchable_needs(app)} == {"holder_identity", "premises"}
    with pytest.raises(ValidationError) as exc:
        actions.fetch_records(app, consent=False, actor=citizen_wang)
    assert "consent" in exc.value.message_dict
    app.refresh_from_db()
    assert app.fetched == {} and app.consent_at is None
    actions.fetch_records(app, consent=True, actor=citizen_wang)
    app.refresh_from_db()
    assert set(app.fetched) == {"holder_identity", "premises"} and app.consent_at is not None


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("a.pdf", b"", "empty"),
        ("a.exe", b"MZ\x90\x00binary", "only PDF, JPEG and PNG"),
        ("a.png", PDF, "is named"),
        ("a.pdf", b"%PDF-1.4\nno trailer", "truncated"),
        ("a.jpg", JPEG[:-2], "truncated"),
        ("a.png", PNG[:20], "damaged"),
        ("a.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF", "10 MB"),
    ],
)
def test_uploads_are_checked_by_type_size_and_content(
    citizen_wang, items, monday, filename, content, message
):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    with pytest.raises(ValidationError) as exc:
        actions.upload_material(app, "premises", filename=filename, content=content, actor=citizen_wang)
    assert message in " ".join(exc.value.message_dict["materials.premises"])
    assert not app.uploads.exists()


def test_an_upload_for_something_not_on_the_checklist_is_refused(citizen_wang, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "owned"}, actor=citizen_wang)
    with pytest.raises(ValidationError) as exc:
        actions.upload_material(app, "WATER-1.lease", filename="a.pdf", content=PDF, actor=citizen_wang)
    assert "materials.WATER-1.lease" in exc.value.message_dict


def ready_to_submit(citizen, item):
    app = start(citizen, item)
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen)
    actions.fetch_records(app, consent=True, actor=citizen)
    for key, content, name in (
        ("bundle_form", PDF, "form.pdf"),
        ("premises", JPEG, "lease.jpg"),
        ("WATER-1.demand", PNG, "demand.png"),
    ):
        actions.upload_material(app, key, filename=name, content=content, actor=citizen)
    return app


def test_a_submission_with_missing_materials_is_refused_naming_each(citizen_wang, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    with pytest.raises(ValidationError) as exc:
        actions.submit_application(app, actor=citizen_wang)
    assert set(exc.value.message_dict) == {
        "materials.bundle_form",
        "materials.holder_identity",
        "materials.premises",
        "materials.WATER-1.demand",
    }


def test_the_window_accepts_and_approval_starts(citizen_wang, clerk_liu, items, records, monday):
    app = ready_to_submit(citizen_wang, items["WATER-1"])
    actions.submit_application(app, actor=citizen_wang)
    actions.accept_application(app, actor=clerk_liu)
    app.refresh_from_db()
    assert app.status == AppStatus.ACCEPTED
    task = app.tasks.get()
    assert task.status == TaskStatus.PENDING and task.due_at is not None
    assert AuditRecord.objects.filter(action="application.accept", object_id=str(app.pk)).exists()


def test_only_a_clerk_accepts(citizen_wang, dept_water_zhao, items, records, monday):
    app = ready_to_submit(citizen_wang, items["WATER-1"])
    actions.submit_application(app, actor=citizen_wang)
    for someone in (citizen_wang, dept_water_zhao):
        with pytest.raises(PermissionDenied):
            actions.accept_application(app, actor=someone)


def test_one_correction_notice_only_and_only_from_the_closed_list(
    citizen_wang, clerk_liu, items, records, monday
):
    app = ready_to_submit(citizen_wang, items["WATER-1"])
    actions.submit_application(app, actor=citizen_wang)
    with pytest.raises(ValidationError) as exc:
        actions.send_correction_notice(
            app, [{"key": "company_bank_statement", "reason": "需要"}], actor=clerk_liu
        )
    assert "items[0].key" in exc.value.message_dict
    actions.send_correction_notice(
        app, [{"key": "premises", "reason": "租赁合同缺少出租人签字"}], actor=clerk_liu
    )
    app.refresh_from_db()
    assert app.status == AppStatus.CORRECTION
    # the applicant is told, on their own account, what to correct and where
    from cityloop.notify.models import Message

    told = Message.objects.get(event="application.correction", channel="inbox", user=citizen_wang)
    assert "租赁合同缺少出租人签字" in told.body and f"/services/applications/{app.number}/" in told.body
    with pytest.raises(ValidationError, match="only the materials named"):
        actions.upload_material(app, "WATER-1.demand", filename="d.pdf", content=PDF, actor=citizen_wang)
    actions.upload_material(app, "premises", filename="lease2.pdf", content=PDF, actor=citizen_wang)
    actions.submit_application(app, actor=citizen_wang)
    app.refresh_from_db()
    assert app.status == AppStatus.SUBMITTED and app.resubmissions == 1
    with pytest.raises(ValidationError) as exc:
        actions.send_correction_notice(app, [{"key": "WATER-1.demand", "reason": "不清晰"}], actor=clerk_liu)
    assert "一次告知" in " ".join(exc.value.message_dict["items"])
    assert app.correction.resolved_at is not None


def test_an_application_keeps_the_version_it_started_under(citizen_wang, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    draft = services_actions.start_draft(items["WATER-1"], actor=SYSTEM)
    data = catalogue.editable_dict(draft)
    data["materials"] = [m for m in data["materials"] if m["key"] != "demand"]
    services_actions.update_draft(draft, data, actor=SYSTEM)
    services_actions.publish_version(draft, actor=SYSTEM)
    assert items["WATER-1"].current_version().number == 2
    assert queries.versions_of(app)[0].number == 1
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    assert "WATER-1.demand" in need_keys(app)


def test_a_published_version_is_frozen(items):
    published = items["WATER-1"].current_version()
    with pytest.raises(ValidationError) as exc:
        services_actions.update_draft(published, catalogue.editable_dict(published), actor=SYSTEM)
    assert "frozen" in " ".join(exc.value.message_dict["version"])
    with pytest.raises(ValidationError):
        services_actions.publish_version(published, actor=SYSTEM)


def test_another_citizen_cannot_touch_the_application(citizen_wang, outsider_zhou, items, monday):
    app = start(citizen_wang, items["WATER-1"])
    with pytest.raises(PermissionDenied):
        actions.answer_situations(app, {"premises": "owned"}, actor=outsider_zhou)
    with pytest.raises(PermissionDenied):
        queries.get_application_for(outsider_zhou, app.number)


def test_a_clerk_starting_at_the_window_counts_one_visit(citizen_wang, clerk_liu, items, monday):
    app = actions.start_application(
        applicant=citizen_wang,
        holder_name="王小明",
        holder_id=HOLDER,
        items=[items["SIGN-1"]],
        actor=clerk_liu,
        identity_checked=True,
    )
    assert app.channel == "window" and app.visits == 1
    started = AuditRecord.objects.filter(action="application.start").latest("seq")
    assert started.actor_id == clerk_liu.pk
    after = json.loads(started.summary)["after"]
    assert after["acting_for"] == "citizen_wang" and after["identity_checked_in_person"] is True


# --- issue 11 #4: anyone could read someone else's government records ---------------------------------


def test_a_citizen_applying_with_someone_elses_id_number_is_refused(citizen_wang, items, records, monday):
    with pytest.raises(PermissionDenied, match="only as yourself"):
        actions.start_application(
            applicant=citizen_wang,
            holder_name="李四",
            holder_id="110101198001017777",
            items=[items["WATER-1"]],
            actor=citizen_wang,
        )
    assert not Application.objects.exists()


def test_an_unverified_citizen_cannot_apply_online_at_all(outsider_zhou, items, records, monday):
    with pytest.raises(ValidationError) as exc:
        actions.start_application(
            applicant=outsider_zhou,
            holder_name="王小明",
            holder_id=HOLDER,
            items=[items["WATER-1"]],
            actor=outsider_zhou,
        )
    assert "holder_id" in exc.value.message_dict and "verify it once at a service window" in str(exc.value)


def test_the_holder_online_is_the_verified_identity_whatever_the_form_says(citizen_wang, items, monday):
    app = actions.start_application(
        applicant=citizen_wang, holder_name="别人", holder_id="", items=[items["WATER-1"]], actor=citizen_wang
    )
    assert (app.holder_id, app.holder_name) == (HOLDER, "王小明")


def test_nothing_about_held_records_is_shown_before_consent(citizen_wang, items, records, monday, client):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "owned"}, actor=citizen_wang)
    client.force_login(citizen_wang)
    page = client.get(f"/services/applications/{app.number}/").content.decode()
    assert "房屋所有权证明" in page  # the need is named
    for held in ("不动产权证书", "公安局"):  # the records' titles and issuers are not
        assert held not in page


def test_a_clerk_acting_for_a_citizen_must_confirm_the_identity_check(citizen_wang, clerk_liu, items, monday):
    with pytest.raises(ValidationError) as exc:
        actions.start_application(
            applicant=citizen_wang,
            holder_name="王小明",
            holder_id=HOLDER,
            items=[items["SIGN-1"]],
            actor=clerk_liu,
        )
    assert "identity_checked" in exc.value.message_dict


def test_only_a_window_clerk_verifies_an_identity_and_it_is_audited(
    outsider_zhou, clerk_liu, citizen_wang, items, monday
):
    with pytest.raises(PermissionDenied):
        actions.verify_identity(outsider_zhou, id_number=HOLDER, full_name="周路人", actor=citizen_wang)
    with pytest.raises(ValidationError) as exc:
        actions.verify_identity(outsider_zhou, id_number="12-34", full_name="周路人", actor=clerk_liu)
    assert "id_number" in exc.value.message_dict
    actions.verify_identity(
        outsider_zhou, id_number="11010119850101555x", full_name="周路人", actor=clerk_liu
    )
    outsider_zhou.refresh_from_db()
    assert outsider_zhou.id_number == "11010119850101555X" and outsider_zhou.id_verified_by == clerk_liu
    record = AuditRecord.objects.filter(action="user.verify_identity").latest("seq")
    assert (
        json.loads(record.summary)["after"]["id_number"] == "110*************5X"
    )  # the audit trail never holds the whole number
    app = actions.start_application(
        applicant=outsider_zhou, holder_name="", holder_id="", items=[items["SIGN-1"]], actor=outsider_zhou
    )
    assert app.holder_id == "11010119850101555X"
