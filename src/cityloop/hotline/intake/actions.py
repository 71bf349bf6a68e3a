"""Intake: every channel ends in ``submit_request``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.core.sql import bound_cursor
from cityloop.core.text import clean_line, clean_text
from cityloop.hotline import rules
from cityloop.hotline.events import deadlines
from cityloop.hotline.followup.citizen import access_code_note
from cityloop.hotline.intake import access, photos, suggest
from cityloop.hotline.models import (
    Attachment,
    Channel,
    DailyCounter,
    Event,
    IdempotencyKey,
    Request,
    RequestKind,
    Urgency,
)
from cityloop.notify import actions as notify
from cityloop.org import queries as org_queries

PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
MAX_DESCRIPTION = 4000
NEEDS_PHONE = {Channel.PHONE, Channel.WEB}


@dataclass
class Submission:
    description: str
    title: str = ""
    caller_name: str = ""
    caller_phone: str = ""
    caller_email: str = ""
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    category_code: str = ""
    street_code: str = ""  # the street a citizen chose without a point; a point, when given, decides
    urgency: str = Urgency.NORMAL
    kind: str = ""  # 诉求类型 (RequestKind); blank when the door does not ask
    complex: bool = False
    confidential: bool = False
    attributes: dict = field(default_factory=dict)
    photos: list[tuple[str, bytes]] = field(default_factory=list)
    keep_photo_location: bool = False
    source_ref: str = ""
    evidence: dict = field(default_factory=dict)
    received_at: datetime | None = None


def _number(value, name: str, low: float, high: float, errors: dict) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[name] = f"must be a number, not {value!r}"
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors[name] = f"must be between {low:g} and {high:g}"
        return None
    return number


def _storable(value):
    """Attributes and evidence as storable JSON: every string cleaned (a NUL breaks PostgreSQL's jsonb)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_line(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def clean_submission(sub: Submission) -> None:
    """Apply the stored-text rule (core/text.py) to every text of ``sub``, in place. Every intake door
    (web form, API, Open311, CSV, the brain) reaches the database through ``validate``, so a control
    character never gets as far as a batch of other people's submits."""
    sub.description = clean_text(sub.description)
    for name in (
        "title",
        "caller_name",
        "caller_phone",
        "caller_email",
        "address",
        "category_code",
        "street_code",
        "source_ref",
    ):
        setattr(sub, name, clean_line(getattr(sub, name) or ""))
    sub.attributes = _storable(sub.attributes or {})
    sub.evidence = _storable(sub.evidence or {})


def validate(sub: Submission, *, city, channel: str) -> dict:
    """Check a submission; return the cleaned facts or raise naming every bad field."""
    clean_submission(sub)
    errors: dict[str, object] = {}  # English, or a lazy translation the page renders in its language
    description = (sub.description or "").strip()
    if not description:
        errors["description"] = gettext_lazy("say what happened")
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters (got {len(description)})"
    phone = (sub.caller_phone or "").strip()
    if phone and not PHONE.match(phone):
        errors["caller_phone"] = gettext_lazy(
            "digits only (with an optional +, spaces or dashes), 5 to 20 characters"
        )
    elif not phone and channel in NEEDS_PHONE:
        errors["caller_phone"] = gettext_lazy(
            "a phone number is needed so the citizen can be reached and track the request"
        )
    email = (sub.caller_email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["caller_email"] = gettext_lazy("not a valid e-mail address")
    if sub.urgency not in Urgency.values:
        errors["urgency"] = f"must be one of {', '.join(Urgency.values)}"
    if sub.kind and sub.kind not in RequestKind.values:
        errors["kind"] = f"must be one of {', '.join(RequestKind.values)}, or left out"
    lon = _number(sub.lon, "lon", -180, 180, errors)
    lat = _number(sub.lat, "lat", -90, 90, errors)
    if (lon is None) != (lat is None) and "lon" not in errors and "lat" not in errors:
        errors["lat" if lat is None else "lon"] = gettext_lazy("give both longitude and latitude, or neither")
    address = (sub.address or "").strip()
    placement = None
    if lon is not None and lat is not None:
        placement = org_queries.locate(city, lon, lat)
        if placement is None:
            errors["lon"] = org_queries.locator_for(city).describe_outside(lon, lat)
    elif not address and not sub.street_code and "lon" not in errors and "lat" not in errors:
        errors["address"] = gettext_lazy("say where it happened: an address, or longitude and latitude")
    elif address:
        placement = org_queries.locate_text(city, address)
    if sub.street_code and lon is None and lat is None and "lon" not in errors and "lat" not in errors:
        placement = _in_street(city, sub.street_code, placement, errors)
    category = None
    if sub.category_code:
        category = org_queries.category(city, sub.category_code)
        if category is None:
            errors["category"] = f"unknown category code {sub.category_code!r}"
    if len(sub.title or "") > 200:
        errors["title"] = "at most 200 characters"
    if errors:
        raise ValidationError(errors)
    return {
        "description": description,
        "phone": phone,
        "email": email,
        "lon": lon,
        "lat": lat,
        "address": address,
        "placement": placement,
        "category": category,
    }


def _in_street(city, code: str, by_address, errors: dict):
    """The chosen street, with the community the address names when it lies in that street."""
    street = org_queries.place(city, level="street", code=code)
    if street is None:
        errors["street"] = f"unknown street code {code!r}"
        return by_address
    if by_address is not None and by_address.street == street:
        return by_address
    return org_queries.Placement(street.parent, street, None)


@dataclass
class Prepared:
    """A checked submission, ready to be written: everything but its number and its id."""

    request: Request
    photos: list
    actor: object
    channel: str
    idempotency: tuple[str, str] | None
    keep_photo_location: bool = False


def prepare(
    sub: Submission,
    *,
    city,
    channel: str,
    actor: Actor,
    citizen=None,
    idempotency: tuple[str, str] | None = None,
) -> Prepared:
    """Validate and build the request (raises ValidationError naming every bad field); writes nothing."""
    clean = validate(sub, city=city, channel=channel)
    cleaned_photos = [
        photos.clean_photo(name, data, keep_location=sub.keep_photo_location) for name, data in sub.photos
    ]
    category, confidence = clean["category"], None
    suggested = None
    if category is None:
        suggested, confidence = suggest.suggest(city, f"{sub.title}\n{clean['description']}")
    placement = clean["placement"]
    received = sub.received_at or timezone.now()
    request = Request(
        city=city,
        channel=channel,
        citizen=citizen,
        caller_name=sub.caller_name.strip()[:100],
        caller_phone=clean["phone"],
        caller_email=clean["email"],
        confidential=sub.confidential,
        title=(sub.title or clean["description"].splitlines()[0])[:200].strip(),
        description=clean["description"],
        address=clean["address"],
        lon=clean["lon"],
        lat=clean["lat"],
        district=placement.district if placement else None,
        street=placement.street if placement else None,
        community=placement.community if placement else None,
        category=category,
        suggested_category=suggested,
        suggestion_confidence=confidence,
        urgency=sub.urgency,
        kind=sub.kind,
        complex=sub.complex,
        source_ref=sub.source_ref,
        attributes=sub.attributes,
        evidence=sub.evidence,
        created_at=received,
        updated_at=received,
        language=translation.get_language() or "",
    )
    request.response_due, request.finish_due = deadlines(
        city, category or suggested, sub.urgency, sub.complex, received
    )
    # Only the hash is stored; the code itself rides on this object to the confirmation page and the
    # citizen's text message, and is gone when the request is read back.
    code = access.new_code()
    request.access_code_hash = access.code_hash(code, purpose="track")
    request.access_code = code  # type: ignore[attr-defined]
    return Prepared(request, cleaned_photos, actor, channel, idempotency, sub.keep_photo_location)


def existing_for(idempotency: tuple[str, str] | None) -> Request | None:
    if idempotency is None:
        return None
    found = (
        IdempotencyKey.objects.filter(scope=idempotency[0], key=idempotency[1])
        .select_related("request")
        .first()
    )
    return found.request if found is not None else None


def _insert_sql(model, fields, rows: int = 1, returning: str = "") -> str:
    quote = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
        f"VALUES {', '.join([row] * rows)}{returning}"
    )


def _prep(fields, values) -> tuple:
    return tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True))


def _request_fields() -> list:
    return [f for f in Request._meta.concrete_fields if not f.primary_key]


def _field(model, name: str):
    return model._meta.get_field(name)


def _known_keys(cursor, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The request id behind every key of ``wanted`` that is already stored."""
    if not wanted:
        return {}
    quote = connection.ops.quote_name
    scopes, keys = sorted({s for s, _ in wanted}), sorted({k for _, k in wanted})
    # Both columns, so the (scope, key) unique index answers it: on ``key`` alone PostgreSQL read the
    # whole table for every batch, a cost that grew with every request ever taken.
    cursor.execute(
        f"SELECT {quote('scope')}, {quote('key')}, {quote('request_id')} "  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
        f"FROM {quote(IdempotencyKey._meta.db_table)} "
        f"WHERE {quote('scope')} IN ({', '.join(['%s'] * len(scopes))}) "
        f"AND {quote('key')} IN ({', '.join(['%s'] * len(keys))})",
        [*scopes, *keys],
    )
    return {
        (scope, key): request_id for scope, key, request_id in cursor.fetchall() if (scope, key) in wanted
    }


def _reserve_numbers(cursor, day_counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``n`` tracking numbers per day in one statement each; the first sequence number of each range.

    The upsert takes the counter row's lock (PostgreSQL) inside the batch's transaction, so two writers
    never get overlapping ranges; SQLite's IMMEDIATE transaction already lets one writer in at a time.
    """
    quote = connection.ops.quote_name
    table, day_col, value = quote(DailyCounter._meta.db_table), quote("day"), quote("value")
    first = {}
    for day, count in day_counts.items():
        cursor.execute(
            f"INSERT INTO {table} ({day_col}, {value}) VALUES (%s, %s) ON CONFLICT ({day_col}) "  # noqa: S608 (identifiers from Django model meta, values bound as parameters)
            f"DO UPDATE SET {value} = {table}.{value} + excluded.{value} RETURNING {value}",
            [day, count],
        )
        first[day] = cursor.fetchone()[0] - count + 1
    return first


def _days(fresh: list[Prepared]) -> dict[str, int]:
    """How many tracking numbers each day (city time) of ``fresh`` needs."""
    days: dict[str, int] = {}
    for item in fresh:
        day = f"{timezone.localtime(item.request.created_at):%Y%m%d}"
        days[day] = days.get(day, 0) + 1
    return days


def _reserve_apart(items: list[Prepared]) -> dict[str, int]:
    """PostgreSQL: reserve the tracking numbers of ``items``' new submits in a short transaction of
    their own, before the batch's.

    Inside the batch's transaction the day counter's row lock was held from the first statement to
    the commit, so the batches of every worker process ran one after another, each through its
    dozen round trips (a py-spy profile of bench_intake: the writer waited on that lock 45 % of its
    time). Apart, the lock is held for one upsert and a commit that does not wait for the WAL flush
    (``synchronous_commit = off``; the batch's own commit, later in the WAL, flushes it). A batch that
    fails afterwards, or a retried key (stored earlier), leaves its numbers unused: a day's tracking
    numbers may have gaps, never repeats."""
    # Keys already stored are not looked up first (one round trip less): a retried submit is rare,
    # and the numbers reserved for it stay unused.
    days = _days(_fresh(items, {})[0])
    with transaction.atomic(), bound_cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        return _reserve_numbers(cursor, days)


def _fresh(
    items: list[Prepared], known_ids: dict[tuple[str, str], int]
) -> tuple[list[Prepared], dict[tuple[str, str], Prepared]]:
    """The items to write (a key neither stored nor used by an earlier item), and each new key's item."""
    fresh: list[Prepared] = []
    claimed: dict[tuple[str, str], Prepared] = {}
    for item in items:
        if item.idempotency is not None and (item.idempotency in known_ids or item.idempotency in claimed):
            continue
        if item.idempotency is not None:
            claimed[item.idempotency] = item
        fresh.append(item)
    return fresh, claimed


def _write_fresh(cursor, fresh: list[Prepared], reserved: dict[str, int] | None = None) -> None:
    """Numbers, request rows, photos, keys, timeline and audit trail of new submits: a handful of
    statements. ``reserved``: the first number of each day's range, already reserved by
    :func:`_reserve_apart` (enough for ``fresh``, a subset of the items it reserved for); otherwise
    they are reserved here."""
    if reserved is None:
        reserved = _reserve_numbers(cursor, _days(fresh))
    next_seq = dict(reserved)
    for item in fresh:
        local = timezone.localtime(item.request.created_at)
        day = f"{local:%Y%m%d}"
        item.request.tracking_no = rules.tracking_number(local, next_seq[day])
        next_seq[day] += 1
    fields = _request_fields()
    values: list = []
    for item in fresh:
        values.extend(_prep(fields, [f.pre_save(item.request, True) for f in fields]))
    # Map the new ids by tracking number: neither backend promises RETURNING rows in VALUES order.
    cursor.execute(_insert_sql(Request, fields, len(fresh), " RETURNING id, tracking_no"), values)
    ids = dict((number, pk) for pk, number in cursor.fetchall())
    for item in fresh:
        item.request.pk = ids[item.request.tracking_no]
        item.request._state.adding, item.request._state.db = False, connection.alias
    for item in fresh:
        for content, kind in item.photos:
            Attachment.objects.create(
                request=item.request,
                file=content,
                content_type=kind,
                size=content.size,
                location_kept=item.keep_photo_location,
            )
    key_fields = [_field(IdempotencyKey, n) for n in ("scope", "key", "request", "created_at")]
    now = timezone.now()
    keyed = [
        _prep(key_fields, (*item.idempotency, item.request.pk, now)) for item in fresh if item.idempotency
    ]
    if keyed:
        cursor.executemany(_insert_sql(IdempotencyKey, key_fields), keyed)
    event_fields = [
        _field(Event, n) for n in ("request", "order", "at", "actor", "kind", "public", "text", "data")
    ]
    cursor.executemany(
        _insert_sql(Event, event_fields),
        [
            _prep(
                event_fields,
                (
                    item.request.pk,
                    None,
                    item.request.created_at,
                    item.actor.pk if getattr(item.actor, "is_authenticated", False) else None,
                    "submitted",
                    True,
                    "",
                    {"channel": item.channel},
                ),
            )
            for item in fresh
        ],
    )
    notes = [
        access_code_note(item.request, item.request.access_code)
        for item in fresh
        if getattr(item.request, "access_code", "")
    ]
    notify.queue_many([n for n in notes if n is not None])
    audit.record_many(
        [
            (
                item.actor,
                "request.submit",
                item.request,
                {"after": "new", "channel": item.channel, "tracking_no": item.request.tracking_no},
            )
            for item in fresh
        ]
    )


def store(items: list[Prepared]) -> list[tuple[Request, bool]]:
    """Write checked submissions in one transaction: numbers, rows, timeline, keys and audit trail.

    A key already used (earlier, or by an earlier item of the same batch) returns that request. Raw
    statements built from the model's own fields (one INSERT per table, executemany for the small
    rows) keep a batch to a handful of statements: the ORM's compiler cost more than the writes.
    """
    # Only as a transaction of its own: inside a caller's transaction it would be a savepoint, its
    # lock held to the caller's commit, and SET LOCAL would reach that commit too.
    apart = connection.vendor == "postgresql" and not connection.in_atomic_block
    reserved = _reserve_apart(items) if apart else None
    with transaction.atomic(), bound_cursor() as cursor:
        # again: another worker may have stored one of the keys since the numbers were reserved
        known_ids = _known_keys(cursor, {p.idempotency for p in items if p.idempotency is not None})
        fresh, claimed = _fresh(items, known_ids)
        if fresh:
            _write_fresh(cursor, fresh, reserved)
        by_id = Request.objects.in_bulk(set(known_ids.values())) if known_ids else {}
    known = {key: by_id[pk] for key, pk in known_ids.items()}
    fresh_ids = {id(item) for item in fresh}
    results = []
    for item in items:
        if id(item) in fresh_ids:
            results.append((item.request, True))
        else:
            first = known.get(item.idempotency) or claimed[item.idempotency].request
            results.append((first, False))
    return results


def submit_request(
    sub: Submission,
    *,
    city,
    channel: str,
    actor: Actor,
    citizen=None,
    idempotency: tuple[str, str] | None = None,
) -> tuple[Request, bool]:
    """Take a request in. Returns (request, created); a repeated idempotency key returns the first."""
    found = existing_for(idempotency)
    if found is not None:
        return found, False
    item = prepare(sub, city=city, channel=channel, actor=actor, citizen=citizen, idempotency=idempotency)
    try:
        [(request, created)] = store([item])
    except IntegrityError:
        # Two retries raced in different processes; the first one won and its request is the answer.
        found = existing_for(idempotency)
        if found is None:
            raise
        return found, False
    return request, created
