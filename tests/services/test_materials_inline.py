"""The clerk and the approvers open every material in the browser; nobody else can."""

from __future__ import annotations

import pytest

from cityloop.services import actions
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
