"""The hash-chained audit trail: appending, verifying, and catching every kind of tampering."""

from __future__ import annotations

import itertools
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cityloop.cli.main import main as cityloop_main
from cityloop.core import actions, audit
from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditHead, AuditRecord

pytestmark = pytest.mark.django_db


def _write(count: int) -> list[AuditRecord]:
    return [audit.record(SYSTEM, "test.write", ("thing", str(n)), n=n) for n in range(1, count + 1)]


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_recorded_change_verifies_as_intact():
    entry = audit.record(SYSTEM, "test.write", ("thing", "7"), before={"a": 1}, after={"a": 2}, why="because")

    verdict = audit.verify()

    assert verdict.intact and verdict.checked == 1
    assert (entry.seq, entry.object_type, entry.object_id, entry.actor_label) == (1, "thing", "7", "system")
    assert entry.prev_digest == audit.GENESIS
    assert json.loads(entry.summary) == {"before": {"a": 1}, "after": {"a": 2}, "why": "because"}


def test_a_record_by_a_person_names_them(admin_zhang):
    entry = audit.record(admin_zhang, "test.write", admin_zhang)

    assert (entry.actor_id, entry.actor_label) == (admin_zhang.pk, "admin_zhang")
    assert (entry.object_type, entry.object_id) == ("core.user", str(admin_zhang.pk))


def test_many_records_form_one_chain_and_the_head_holds_its_last_link():
    entries = _write(40)

    assert [e.seq for e in entries] == list(range(1, 41))
    assert all(later.prev_digest == earlier.digest for earlier, later in itertools.pairwise(entries))
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.digest) == (40, entries[-1].digest)
    assert audit.verify().checked == 40 and audit.verify().intact


@pytest.mark.parametrize(
    "column, value",
    [
        ("summary", '{"n":999}'),
        ("action", "test.innocent"),
        ("actor_label", "someone_else"),
        ("object_id", "42"),
    ],
)
def test_editing_any_field_with_raw_sql_breaks_the_chain_at_that_record(column, value):
    _write(6)

    _raw(f"UPDATE core_audit_record SET {column} = %s WHERE seq = 3", [value])

    verdict = audit.verify()
    assert not verdict.intact
    assert verdict.first_break.seq == 3 and verdict.checked == 2
    assert "seq=3" in str(verdict.first_break) and "changed" in str(verdict.first_break)


def test_rewriting_a_record_with_a_freshly_computed_digest_breaks_the_next_link():
    entries = _write(5)
    forged = entries[2]
    forged_digest = audit.digest_of(
        forged.prev_digest,
        seq=3,
        at=forged.at,
        actor_id=None,
        actor_label="system",
        action=forged.action,
        object_type=forged.object_type,
        object_id=forged.object_id,
        summary='{"n":999}',
    )

    _raw("UPDATE core_audit_record SET summary = %s, digest = %s WHERE seq = 3", ['{"n":999}', forged_digest])

    verdict = audit.verify()
    assert verdict.first_break.seq == 4 and verdict.checked == 3
    assert "link to the previous record" in str(verdict.first_break)


def test_deleting_a_middle_record_is_caught_naming_the_missing_seq():
    _write(6)

    _raw("DELETE FROM core_audit_record WHERE seq = 3")

    verdict = audit.verify()
    assert verdict.first_break.seq == 3 and verdict.checked == 2
    assert "seq=3" in str(verdict.first_break) and "missing" in str(verdict.first_break)


def test_deleting_the_newest_records_is_caught_through_the_head():
    _write(6)

    _raw("DELETE FROM core_audit_record WHERE seq >= 5")

    verdict = audit.verify()
    assert not verdict.intact and verdict.checked == 4
    assert "newest records are missing" in str(verdict.first_break) and "seq=6" in str(verdict.first_break)


def test_deleting_every_record_is_caught_through_the_head():
    _write(3)

    _raw("DELETE FROM core_audit_record")

    assert not audit.verify().intact


def test_the_orm_refuses_to_update_or_delete_audit_records():
    entry = _write(2)[0]

    with pytest.raises(PermissionError):
        AuditRecord.objects.filter(seq=1).update(summary="{}")
    with pytest.raises(PermissionError):
        AuditRecord.objects.all().delete()
    with pytest.raises(PermissionError):
        entry.delete()
    entry.summary = "{}"
    with pytest.raises(PermissionError):
        entry.save()
    assert AuditRecord.objects.count() == 2 and audit.verify().intact


def test_the_audit_verify_command_says_intact_for_a_sound_chain():
    _write(3)
    out = StringIO()

    call_command("audit", "verify", stdout=out)

    assert "intact" in out.getvalue() and "3 record(s)" in out.getvalue()


def test_the_audit_verify_command_fails_naming_the_broken_record():
    _write(4)
    _raw("UPDATE core_audit_record SET summary = %s WHERE seq = 2", ['{"n":0}'])

    with pytest.raises(CommandError, match=r"seq=2"):
        call_command("audit", "verify")


@pytest.mark.django_db(transaction=True)  # Django closes every connection after a command run from argv
def test_the_cityloop_command_exits_1_on_a_broken_chain_and_0_on_a_sound_one(capsys):
    _write(3)
    cityloop_main(["audit", "verify"])  # returns normally: Django exits non-zero only on CommandError
    assert "intact" in capsys.readouterr().out

    _raw("DELETE FROM core_audit_record WHERE seq = 2")
    with pytest.raises(SystemExit) as exited:
        cityloop_main(["audit", "verify"])

    assert exited.value.code == 1
    assert "seq=2" in capsys.readouterr().err


def test_adding_a_user_creating_and_revoking_a_token_and_importing_a_city_are_all_audited(city, admin_zhang):
    token, _secret = actions.create_token(
        user=admin_zhang, name="bridge", scopes=["hotline"], actor=admin_zhang
    )
    actions.revoke_token(token, actor=admin_zhang)

    records = list(AuditRecord.objects.order_by("seq"))
    assert [r.action for r in records] == ["city.import", "user.add", "token.create", "token.revoke"]
    imported, added, created, revoked = records
    assert (imported.object_type, imported.object_id) == ("org.jurisdiction", str(city.pk))
    assert json.loads(imported.summary)["pack"] == "tc"
    assert (added.object_type, added.object_id) == ("core.user", str(admin_zhang.pk))
    assert json.loads(added.summary)["after"]["role"] == "admin"
    assert (created.object_id, created.actor_label) == (str(token.pk), "admin_zhang")
    assert json.loads(created.summary)["after"] == {"user": "admin_zhang", "scopes": "hotline"}
    assert json.loads(revoked.summary) == {"before": "active", "after": "revoked"}
    assert audit.verify().intact and audit.verify().checked == 4


def test_a_failed_change_leaves_no_audit_record(admin_zhang):
    from django.core.exceptions import ValidationError

    before = AuditRecord.objects.count()
    with pytest.raises(ValidationError):
        actions.add_user(
            username="admin_zhang", password="x", role="citizen", actor=SYSTEM, check_password=False
        )

    assert AuditRecord.objects.count() == before


def test_a_batch_of_records_continues_the_chain_and_moves_the_head(admin_zhang):
    first = audit.record(SYSTEM, "test.write", ("thing", "1"))
    base = first.seq

    last_seq = audit.record_many(
        [(admin_zhang, "test.batch", ("thing", str(n)), {"n": n}) for n in range(2, 6)]
        + [(SYSTEM, "test.batch", None, {})]
    )

    stored = list(AuditRecord.objects.filter(seq__gt=base).order_by("seq"))
    assert last_seq == base + 5 and [e.seq for e in stored] == [base + n for n in range(1, 6)]
    assert stored[0].prev_digest == first.digest
    assert (stored[0].actor_id, stored[0].actor_label, stored[0].object_id) == (
        admin_zhang.pk,
        "admin_zhang",
        "2",
    )
    assert json.loads(stored[1].summary) == {"n": 3} and stored[4].actor_label == "system"
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.digest) == (base + 5, stored[4].digest)
    assert audit.verify().intact and audit.verify().checked == base + 5
    assert audit.record(SYSTEM, "test.after", None).prev_digest == stored[4].digest


def test_a_batch_on_an_empty_trail_starts_from_the_genesis_link():
    assert audit.record_many([(SYSTEM, "test.batch", ("thing", "1"), {})]) == 1

    assert AuditRecord.objects.get().prev_digest == audit.GENESIS and audit.verify().intact
    assert audit.record_many([]) == 0


def test_a_record_without_an_actor_is_refused_and_nothing_is_written():
    with pytest.raises(TypeError, match="actor is required"):
        audit.record(None, "test.write", ("thing", "1"))
    with pytest.raises(TypeError, match="actor is required"):
        audit.record_many([(None, "test.batch", None, {})])
    assert not AuditRecord.objects.exists()


def test_the_trail_names_the_part_of_the_system_that_acted_and_an_anonymous_visitor(admin_zhang):
    from django.contrib.auth.models import AnonymousUser

    from cityloop.core import actors

    labels = [
        audit.record(actor, "test.write", None).actor_label
        for actor in (actors.SYSTEM, actors.BRAIN, actors.COMMAND, AnonymousUser(), admin_zhang)
    ]
    assert labels == ["system", "brain", "command", "anonymous", "admin_zhang"]
