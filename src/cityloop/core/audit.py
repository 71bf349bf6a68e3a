"""The hash-chained audit trail: ``record`` appends, ``verify`` walks the chain.

Each record's digest is SHA-256 over the previous digest and a canonical JSON of its own fields,
so editing any field, deleting a record in the middle, or deleting the newest records (the head
row keeps the last link) is caught by ``cityloop audit verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from cityloop.core.actors import SystemActor, checked
from cityloop.core.models import AuditHead, AuditRecord
from cityloop.core.sql import bound_cursor

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return f"{value._meta.label}:{value.pk}"
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def digest_of(
    prev_digest: str,
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    summary: str,
) -> str:
    body = json.dumps(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            summary,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_digest + body).encode("utf-8")).hexdigest()


def _describe_object(obj: Any) -> tuple[str, str]:
    if obj is None:
        return "", ""
    if isinstance(obj, models.Model):
        return obj._meta.label_lower, str(obj.pk)
    if isinstance(obj, tuple) and len(obj) == 2:
        return str(obj[0]), str(obj[1])
    return type(obj).__name__, str(obj)


def record(
    actor: Any, action: str, obj: Any = None, *, before: Any = None, after: Any = None, **details: Any
) -> AuditRecord:
    """Append one record. Call inside the transaction of the change it describes."""
    object_type, object_id = _describe_object(obj)
    summary: dict[str, Any] = {}
    if before is not None:
        summary["before"] = before
    if after is not None:
        summary["after"] = after
    summary.update(details)
    summary_text = json.dumps(_canonical(summary), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    actor_id, actor_label = _actor(actor)
    with transaction.atomic():
        # The head row is the chain's lock: on PostgreSQL select_for_update serialises appenders;
        # SQLite's IMMEDIATE transactions already allow one writer at a time.
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = AuditHead.objects.create(pk=1, seq=0, digest=GENESIS)
        at = timezone.now()
        seq = head.seq + 1
        digest = digest_of(
            head.digest,
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            summary=summary_text,
        )
        entry = AuditRecord(
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            summary=summary_text,
            prev_digest=head.digest,
            digest=digest,
        )
        entry.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(seq=seq, digest=digest)
    return entry


def record_many(entries: list[tuple[Any, str, Any, dict[str, Any]]]) -> int:
    """Append several records (actor, action, object, details) with one read and one write of the head.

    The group-commit intake uses it: one transaction writes a whole batch of submits and their trail,
    so the rows go in with one statement rather than through the ORM. Returns the last seq.
    """
    if not entries:
        return 0
    # Everything but the links is worked out before the head is locked: its lock is what writers wait for.
    described = []
    for actor, action, obj, details in entries:
        object_type, object_id = _describe_object(obj)
        summary = json.dumps(_canonical(details), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        described.append((*_actor(actor), action, object_type, object_id, summary))
    fields = [AuditRecord._meta.get_field(name) for name in _RECORD_COLUMNS]
    # No savepoint: its release was one more round trip while the head row is locked, and the head's
    # lock is what every writer of every process waits for. A failure here fails the caller's change.
    with transaction.atomic(savepoint=False):
        head = _locked_head()
        seq, prev = head
        at = timezone.now()
        rows = []
        for actor_id, actor_label, action, object_type, object_id, summary in described:
            seq += 1
            digest = digest_of(
                prev,
                seq=seq,
                at=at,
                actor_id=actor_id,
                actor_label=actor_label,
                action=action,
                object_type=object_type,
                object_id=object_id,
                summary=summary,
            )
            values = (seq, at, actor_id, actor_label, action, object_type, object_id, summary, prev, digest)
            rows.append(tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)))
            prev = digest
        quote = connection.ops.quote_name
        with bound_cursor() as cursor:
            # Identifiers from Django's model meta; every value is bound as a parameter.
            columns = ", ".join(quote(f.column) for f in fields)
            placeholders = f"({', '.join(['%s'] * len(fields))})"
            insert = f"INSERT INTO {quote(AuditRecord._meta.db_table)} ({columns}) VALUES "  # noqa: S608
            update = (
                f"UPDATE {quote(AuditHead._meta.db_table)} SET {quote('seq')} = %s, "  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
                f"{quote('digest')} = %s WHERE id = 1"
            )
            if connection.vendor == "postgresql":
                # The records and the new head in one statement: one round trip between reading the
                # locked head and the commit, instead of two.
                cursor.execute(
                    f"WITH appended AS ({insert}{', '.join([placeholders] * len(rows))}) {update}",
                    [value for row in rows for value in row] + [seq, prev],
                )
            else:
                cursor.executemany(insert + placeholders, rows)
                cursor.execute(update, [seq, prev])
    return seq


_RECORD_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "summary",
    "prev_digest",
    "digest",
)


def _locked_head() -> tuple[int, str]:
    """(seq, digest) of the chain's head, locked for this transaction (created on the first record)."""
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with bound_cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('seq')}, {quote('digest')} FROM {quote(AuditHead._meta.db_table)} "  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
            f"WHERE id = 1{lock}"
        )
        row = cursor.fetchone()
    if row is None:
        AuditHead.objects.create(pk=1, seq=0, digest=GENESIS)
        return _locked_head()
    return int(row[0]), row[1]


def _actor(actor: Any) -> tuple[int | None, str]:
    """The person's id and name, or no id and the system part's name (``system``, ``system:brain``)."""
    if isinstance(actor, SystemActor):
        return None, actor.label
    if isinstance(actor, str):
        return None, actor
    checked(actor)
    if getattr(actor, "is_authenticated", False):
        return actor.pk, actor.get_username()
    return None, "anonymous"


@dataclass(frozen=True)
class Break:
    seq: int
    record_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"record seq={self.seq}" + (f" (id {self.record_id})" if self.record_id is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Verdict:
    checked: int
    first_break: Break | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def _records() -> Iterator[AuditRecord]:
    return AuditRecord.objects.order_by("seq").iterator(chunk_size=2000)


def verify() -> Verdict:
    """Walk the chain from the first record; stop at the first broken link."""
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    for entry in _records():
        if entry.seq != expected_seq:
            return Verdict(
                checked,
                Break(
                    expected_seq,
                    None,
                    f"record missing (next stored record is seq={entry.seq}, id {entry.pk})",
                ),
            )
        if entry.prev_digest != expected_prev:
            return Verdict(checked, Break(entry.seq, entry.pk, "link to the previous record does not match"))
        recomputed = digest_of(
            entry.prev_digest,
            seq=entry.seq,
            at=entry.at,
            actor_id=entry.actor_id,
            actor_label=entry.actor_label,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            summary=entry.summary,
        )
        if recomputed != entry.digest:
            return Verdict(
                checked, Break(entry.seq, entry.pk, "contents were changed after they were written")
            )
        expected_prev, expected_seq, checked = entry.digest, expected_seq + 1, checked + 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != checked or head.digest != expected_prev):
        return Verdict(
            checked,
            Break(
                head.seq,
                None,
                f"the newest records are missing: the chain ends at seq={checked} "
                f"but the head says seq={head.seq}",
            ),
        )
    # The chain is consistent with itself; the signed checkpoints outside the database say whether it is
    # still the chain that was written (a rewrite with recomputed digests is consistent too).
    from cityloop.core import anchor

    problem = anchor.check(_digests_at)
    if problem:
        return Verdict(checked, Break(checked, None, problem))
    return Verdict(checked, None)


def _digests_at(seqs: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    ordered = sorted(seqs)
    for start in range(0, len(ordered), 500):
        found.update(
            AuditRecord.objects.filter(seq__in=ordered[start : start + 500]).values_list("seq", "digest")
        )
    return found
