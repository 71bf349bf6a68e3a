"""Bulk import of call-centre records (CSV): good rows are kept, bad rows come back with line and reason.

Every row goes through ``submit_request`` with channel ``csv``, so it is validated, located,
classified and audited exactly like a phone call; a bad row stores nothing. A ``ref`` column makes
a re-import of the same file return the rows already taken in instead of creating them twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.hotline import queries
from cityloop.hotline.intake.actions import Submission, submit_request, validate
from cityloop.hotline.models import Channel, Request, Urgency

REQUIRED = ("description",)
KNOWN = (
    "description",
    "title",
    "caller_name",
    "caller_phone",
    "caller_email",
    "address",
    "lon",
    "lat",
    "category",
    "urgency",
    "complex",
    "confidential",
    "received_at",
    "ref",
)
TRUE = {"1", "true", "yes", "y", "是"}
FALSE = {"", "0", "false", "no", "n", "否"}
FUTURE_SLACK = timedelta(minutes=5)
# The oldest call an import takes: older dates are typing errors (0001-01-01 is a spreadsheet's empty date),
# and dates near year 1 cannot even be moved to UTC.
EARLIEST = datetime(2000, 1, 1)
# csv's default field limit (131,072 characters) stops the whole reader on one long cell; read any cell
# the 20 MB upload can hold, and let the intake rules refuse it by name.
FIELD_LIMIT = 32 * 1024 * 1024


@dataclass
class ImportResult:
    kept: list[tuple[int, Request]] = field(default_factory=list)
    already: list[tuple[int, Request]] = field(default_factory=list)  # same ref imported before
    bad: list[tuple[int, str]] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


def _flag(value: str, name: str, errors: dict) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text not in FALSE:
        errors[name] = f"{value!r} is not yes/no (use 1/0, true/false, yes/no)"
    return False


def _received(value: str, errors: dict, now: datetime) -> datetime | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors["received_at"] = f"{text!r} is not a date and time like 2024-05-01 09:30"
        return None
    if moment.replace(tzinfo=None) < EARLIEST:
        errors["received_at"] = (
            f"{text} is before {EARLIEST:%Y-%m-%d}: not a date the hotline received a call"
        )
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > now + FUTURE_SLACK:
        errors["received_at"] = f"{text} is in the future"
        return None
    return moment


def _submission(row: dict[str, str], extra: list[str], now: datetime, city) -> Submission:
    errors: dict[str, str] = {}
    urgency = (row.get("urgency") or "").strip().lower() or Urgency.NORMAL
    if urgency not in Urgency.values:
        errors["urgency"] = f"{urgency!r} is not one of {', '.join(Urgency.values)}"
    complex_case = _flag(row.get("complex", ""), "complex", errors)
    confidential = _flag(row.get("confidential", ""), "confidential", errors)
    received = _received(row.get("received_at", ""), errors, now)
    sub = Submission(
        description=row.get("description") or "",
        title=(row.get("title") or "").strip(),
        caller_name=row.get("caller_name") or "",
        caller_phone=row.get("caller_phone") or "",
        caller_email=row.get("caller_email") or "",
        address=row.get("address") or "",
        lon=(row.get("lon") or "").strip() or None,
        lat=(row.get("lat") or "").strip() or None,
        category_code=(row.get("category") or "").strip(),
        urgency=urgency,
        complex=complex_case,
        confidential=confidential,
        received_at=received,
        source_ref=(row.get("ref") or "").strip()[:120],
        attributes={name: row[name] for name in extra if row.get(name)},
    )
    if errors:
        sub.urgency = Urgency.NORMAL
        try:  # name the intake's complaints about the same row too, so one pass fixes the whole row
            validate(sub, city=city, channel=Channel.CSV)
        except ValidationError as exc:
            errors = {**{name: " ".join(messages) for name, messages in exc.message_dict.items()}, **errors}
        raise ValidationError(errors)
    return sub


def _reason(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    return "; ".join(exc.messages)


def _text(source) -> str:
    data = source.read() if hasattr(source, "read") else source
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            {"file": f"not UTF-8 text (bad byte at position {exc.start}); save the export as UTF-8 CSV"}
        ) from exc


def import_requests(source, *, city, actor: Actor) -> ImportResult:
    """Import every good row of a call-centre CSV; a file without the needed columns imports nothing."""
    queries.require_dispatcher(actor)
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(_text(source), newline=""))
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    if not header:
        raise ValidationError({"file": "the file is empty: it needs a header row naming its columns"})
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValidationError(
            {
                "file": f"missing column(s) {', '.join(missing)}; the header has "
                f"{', '.join(header)}; known columns: {', '.join(KNOWN)}"
            }
        )
    reader.fieldnames = header
    extra = [name for name in header if name not in KNOWN and name]
    result = ImportResult(extra_columns=extra)
    idempotency_scope = f"csv:{city.pk}"
    now = timezone.now()
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a row the csv module cannot read: list it and go on with the next
            result.bad.append((line, f"not readable as CSV: {exc}"))
            line = reader.line_num + 1
            continue
        if None in row:
            result.bad.append((line, f"{len(row[None])} more value(s) than the header has columns"))
        else:
            try:
                sub = _submission(row, extra, now, city)
                ref = sub.source_ref
                request, created = submit_request(
                    sub,
                    city=city,
                    channel=Channel.CSV,
                    actor=actor,
                    idempotency=(idempotency_scope, ref) if ref else None,
                )
            except ValidationError as exc:
                result.bad.append((line, _reason(exc)))
            except (ValueError, OverflowError) as exc:  # a value no rule above foresaw: this row only
                result.bad.append((line, f"could not be taken in: {exc}"))
            else:
                (result.kept if created else result.already).append((line, request))
        line = reader.line_num + 1
    with transaction.atomic():
        audit.record(
            actor,
            "request.import",
            None,
            kept=len(result.kept),
            already=len(result.already),
            bad=len(result.bad),
            bad_lines=[n for n, _reason in result.bad][:100],
        )
    return result
