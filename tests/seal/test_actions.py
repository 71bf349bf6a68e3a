"""Issuing and revoking: who may, what is refused, what is audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.seal import actions
from cityloop.seal.models import Certificate, Counter


def test_serials_and_status_indexes_count_up_without_gaps(issue):
    first, second = issue(), issue()
    assert int(second.serial[-6:]) == int(first.serial[-6:]) + 1
    assert second.status_index == first.status_index + 1


def test_issuing_is_audited_with_the_serial_and_kid(issue):
    cert = issue()
    record = AuditRecord.objects.get(action="certificate.issue")
    assert record.object_id == str(cert.pk)
    assert cert.serial in record.summary and cert.kid in record.summary


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("holder_name", "  ", "must not be empty"),
        ("title", "", "must not be empty"),
        ("holder_id", "x" * 41, "at most 40"),
        ("fields", {"名称": 3}, "every label and value must be text"),
        ("fields", ["a"], "must be a mapping"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(issue, field, value, message):
    with pytest.raises(ValidationError) as caught:
        issue(**{field: value})
    assert message in " ".join(caught.value.message_dict[field])
    assert Certificate.objects.count() == 0
    assert not Counter.objects.exists()


def test_department_staff_issue_for_their_own_department_only(issue, water, dept_water_zhao, city):
    from cityloop.org.models import Department

    assert issue(issuer_department=water, actor=dept_water_zhao).issuer_department == water
    with pytest.raises(PermissionDenied):
        issue(issuer_department=Department.objects.get(city=city, code="CITYMGMT"), actor=dept_water_zhao)


def test_a_citizen_cannot_issue(issue, citizen_wang):
    with pytest.raises(PermissionDenied):
        issue(actor=citizen_wang)


def test_a_revocation_needs_a_reason(issue):
    cert = issue()
    with pytest.raises(ValidationError) as caught:
        actions.revoke_certificate(cert, reason="   ", actor=SYSTEM)
    assert "reason" in caught.value.message_dict
    cert.refresh_from_db()
    assert cert.revoked_at is None


def test_revoking_is_audited_and_cannot_be_done_twice(issue):
    cert = issue()
    actions.revoke_certificate(cert, reason="issued in error", actor=SYSTEM)
    assert AuditRecord.objects.filter(action="certificate.revoke", object_id=str(cert.pk)).count() == 1
    with pytest.raises(ValidationError, match="already revoked"):
        actions.revoke_certificate(cert, reason="again", actor=SYSTEM)


def test_another_departments_staff_cannot_revoke(issue, dept_water_zhao, city):
    from cityloop.org.models import Department

    cert = issue(issuer_department=Department.objects.get(city=city, code="CITYMGMT"))
    with pytest.raises(PermissionDenied):
        actions.revoke_certificate(cert, reason="x", actor=dept_water_zhao)
