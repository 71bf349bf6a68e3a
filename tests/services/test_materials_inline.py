"""The clerk and the approvers open every material in the browser; nobody else can."""

from __future__ import annotations

import pytest

from cityloop.services import actions
from cityloop.services.models import Upload
from tests.services.test_applications import ready_to_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(citizen_wang, clerk_liu, items, records, monday):
    app = ready_to_submit(citizen_wang, items["WATER-1"])
    actions.submit_application(app, actor=citizen_wang)
    actions.accept_application(app, actor=clerk_liu)
    return app


def test_the_approver_sees_each_material_beside_the_task_and_opens_it_inline(client, accepted, departments):
    task = accepted.tasks.select_related("department").get()
    approver = _approver_of(task.department)
    client.force_login(approver)
    page = client.get("/services/tasks/").content.decode()
    upload = accepted.uploads.get(need_key="premises")
    assert f'href="/services/uploads/{upload.pk}/"' in page and "lease.jpg" in page
    answer = client.get(f"/services/uploads/{upload.pk}/")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/jpeg"
    assert answer["Content-Disposition"].startswith("inline;")
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["X-Frame-Options"] == "SAMEORIGIN"  # the site's DENY would blank the embedded viewer
    assert answer["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'; sandbox"
    assert answer["Cache-Control"].startswith("private")


def test_the_approver_reads_every_material_inline_above_the_approve_button(client, accepted, departments):
    task = accepted.tasks.select_related("department").get()
    client.force_login(_approver_of(task.department))
    page = client.get("/services/tasks/").content.decode()
    card = page[page.index(f'id="task-{task.pk}"') :]
    photo = accepted.uploads.get(need_key="premises")
    form = accepted.uploads.get(need_key="bundle_form")
    url, pdf = f"/services/uploads/{photo.pk}/", f"/services/uploads/{form.pk}/"
    # the photo scaled inside a link to its full size, the PDF embedded with a way out, the record's data
    assert f'<a href="{url}" data-material="{photo.pk}"' in card and f'<img src="{url}"' in card
    assert f'<object data="{pdf}" type="application/pdf"' in card
    assert "不动产权证书" in card or "居民身份证" in card
    approve = card.index('class="approve"')
    assert card.index('<img src="') < approve and card.index("<object") < approve


def test_the_clerk_reads_every_material_inline_where_the_application_is_accepted(
    client, citizen_wang, clerk_liu, items, records, monday
):
    app = ready_to_submit(citizen_wang, items["WATER-1"])
    actions.submit_application(app, actor=citizen_wang)
    client.force_login(clerk_liu)
    page = client.get(f"/services/applications/{app.number}/").content.decode()
    view = page[page.index('id="materials-view"') : page.index('id="accept"')]
    for upload in app.uploads.all():
        url = f"/services/uploads/{upload.pk}/"
        shown = f'<img src="{url}"' if upload.content_type.startswith("image/") else f'<object data="{url}"'
        assert shown in view, upload.filename
    for record in app.fetched.values():
        assert record["title"] in view and all(str(v) in view for v in record["data"].values())


@pytest.mark.parametrize(
    ("kind", "shown_as", "policy"),
    [
        ("application/pdf", "application/pdf", "default-src 'none'; frame-ancestors 'self'"),
        ("image/png", "image/png", "default-src 'none'; frame-ancestors 'self'; sandbox"),
        # never stored by the upload check; a row that got there otherwise is never rendered as a page
        ("image/svg+xml", "application/octet-stream", "default-src 'none'; sandbox"),
        ("text/html", "application/octet-stream", "default-src 'none'; sandbox"),
    ],
)
def test_a_material_is_served_as_its_stored_type_and_active_content_never_inline(
    client, accepted, clerk_liu, kind, shown_as, policy
):
    upload = accepted.uploads.get(need_key="premises")
    Upload.objects.filter(pk=upload.pk).update(content_type=kind)
    client.force_login(clerk_liu)
    answer = client.get(f"/services/uploads/{upload.pk}/")
    assert answer.status_code == 200 and answer["Content-Type"] == shown_as
    assert answer["Content-Security-Policy"] == policy
    assert answer["X-Content-Type-Options"] == "nosniff"
    inline = shown_as != "application/octet-stream"
    assert answer["Content-Disposition"].startswith("inline;" if inline else "attachment;")
    assert answer["X-Frame-Options"] == "SAMEORIGIN"


def test_an_anonymous_visitor_is_sent_to_log_in_and_never_gets_the_bytes(client, accepted):
    upload = accepted.uploads.first()
    answer = client.get(f"/services/uploads/{upload.pk}/")
    assert answer.status_code == 302 and "/login/" in answer["Location"]


def test_the_applicant_page_links_each_uploaded_material(client, accepted, citizen_wang):
    client.force_login(citizen_wang)
    page = client.get(f"/services/applications/{accepted.number}/").content.decode()
    for upload in accepted.uploads.all():
        assert f'href="/services/uploads/{upload.pk}/"' in page


def test_another_citizen_cannot_open_a_material(client, accepted):
    from cityloop.core.actions import add_user
    from cityloop.core.actors import SYSTEM
    from cityloop.core.permissions import Role

    stranger = add_user(
        username="citizen_zhao", password="x-long-password-1", role=Role.CITIZEN, actor=SYSTEM
    )
    client.force_login(stranger)
    upload = accepted.uploads.first()
    assert client.get(f"/services/uploads/{upload.pk}/").status_code in (403, 404)


def _approver_of(department):
    from cityloop.core.actions import add_user
    from cityloop.core.actors import SYSTEM
    from cityloop.core.permissions import Role

    return add_user(
        username=f"approver_{department.code.lower()}",
        password="x-long-password-1",
        role=Role.DEPARTMENT,
        department=department,
        actor=SYSTEM,
    )
