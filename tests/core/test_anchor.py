"""Signed audit checkpoints outside the database catch the rewrites a self-consistent chain hides."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cityloop.core import anchor, audit, schedule
from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditHead, AuditRecord

pytestmark = pytest.mark.django_db


def _trail(n: int) -> None:
    for i in range(n):
        audit.record(SYSTEM, "test.event", None, after={"n": i})


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def test_deleting_the_newest_audit_rows_is_caught_by_a_checkpoint():
    _trail(6)
    anchor.write_checkpoint()
    assert audit.verify().intact
    # The rewrite: drop the two newest records and move the head back to the fourth.
    fourth = AuditRecord.objects.get(seq=4)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_quote(AuditRecord._meta.db_table)} WHERE seq > 4")  # noqa: S608
        cursor.execute(
            f"UPDATE {_quote(AuditHead._meta.db_table)} SET seq = 4, digest = %s WHERE id = 1",  # noqa: S608
            [fourth.digest],
        )
    verdict = audit.verify()
    assert not verdict.intact and "the newest records were deleted" in verdict.first_break.reason


def test_a_row_rewritten_with_every_later_digest_recomputed_is_caught_by_a_checkpoint():
    _trail(5)
    anchor.write_checkpoint()
    # The rewrite: change record 2's summary, then recompute its digest and every later one, and the head.
    rows = list(AuditRecord.objects.order_by("seq"))
    prev = rows[0].digest
    with connection.cursor() as cursor:
        for row in rows[1:]:
            summary = '{"after":{"n":99}}' if row.seq == 2 else row.summary
            digest = audit.digest_of(
                prev,
                seq=row.seq,
                at=row.at,
                actor_id=row.actor_id,
                actor_label=row.actor_label,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                summary=summary,
            )
            cursor.execute(
                f"UPDATE {_quote(AuditRecord._meta.db_table)} SET summary = %s, prev_digest = %s, "  # noqa: S608
                f"digest = %s WHERE seq = %s",
                [summary, prev, digest, row.seq],
            )
            prev = digest
        cursor.execute(f"UPDATE {_quote(AuditHead._meta.db_table)} SET digest = %s WHERE id = 1", [prev])  # noqa: S608
    verdict = audit.verify()
    assert not verdict.intact and "the chain was rewritten" in verdict.first_break.reason


def test_without_a_checkpoint_the_chain_alone_cannot_see_such_a_rewrite():
    """Why the anchor exists: the same deletion passes the chain check when nothing was signed."""
    _trail(3)
    second = AuditRecord.objects.get(seq=2)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_quote(AuditRecord._meta.db_table)} WHERE seq = 3")  # noqa: S608
        cursor.execute(
            f"UPDATE {_quote(AuditHead._meta.db_table)} SET seq = 2, digest = %s WHERE id = 1",  # noqa: S608
            [second.digest],
        )
    assert audit.verify().intact


def test_a_forged_checkpoint_line_is_refused():
    _trail(2)
    point = anchor.write_checkpoint()
    forged = json.loads(point.line())
    forged["seq"], forged["digest"] = 1, AuditRecord.objects.get(seq=1).digest
    with anchor.checkpoint_path().open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(forged) + "\n")
    verdict = audit.verify()
    assert not verdict.intact and "not signed by the anchor key" in verdict.first_break.reason


def test_the_command_signs_prints_and_verifies(capsys):
    _trail(3)
    call_command("audit", "checkpoint")
    line = json.loads(capsys.readouterr().out.strip())
    assert line["seq"] == 3 and line["digest"] == AuditHead.objects.get().digest
    assert (anchor.key_dir() / anchor.KEY_FILE).stat().st_mode & 0o077 == 0
    call_command("audit", "verify")
    assert "1 signed checkpoint(s) match" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {_quote(AuditRecord._meta.db_table)} SET summary = '{{}}' WHERE seq = 3")  # noqa: S608
    with pytest.raises(CommandError, match="contents were changed"):
        call_command("audit", "verify")


def test_the_tick_writes_a_checkpoint_only_when_the_chain_grew_and_the_period_passed(_pinned_clock, settings):
    settings.AUDIT_CHECKPOINT_MINUTES = 10
    _trail(1)
    assert schedule.run_now("audit.checkpoint")[0].startswith("signed")
    _trail(1)
    assert schedule.run_now("audit.checkpoint")[0] == "not due"
    _pinned_clock.shift(11 * 60)
    assert schedule.run_now("audit.checkpoint")[0] == "signed seq=2"
    _pinned_clock.shift(11 * 60)
    assert schedule.run_now("audit.checkpoint")[0] == "not due"  # nothing new
    assert len(anchor.read_checkpoints()) == 2
