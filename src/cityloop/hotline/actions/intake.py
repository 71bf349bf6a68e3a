"""Intake: every channel ends in ``submit_request``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cityloop.core import audit
from cityloop.hotline import photos, rules, suggest
from cityloop.hotline.actions.common import deadlines
from cityloop.hotline.models import (
    Attachment,
    Channel,
    DailyCounter,
    Event,
    IdempotencyKey,
    Request,
    Urgency,
)
from cityloop.org import queries as org_queries
from cityloop.org.models import Category

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
    urgency: str = Urgency.NORMAL
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


def validate(sub: Submission, *, city, channel: str) -> dict:
    """Check a submission; return the cleaned facts or raise naming every bad field."""
    errors: dict[str, str] = {}
    description = (sub.description or "").strip()
    if not description:
        errors["description"] = "say what happened"
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters (got {len(description)})"
    phone = (sub.caller_phone or "").strip()
    if phone and not PHONE.match(phone):
        errors["caller_phone"] = "digits only (with an optional +, spaces or dashes), 5 to 20 characters"
    elif not phone and channel in NEEDS_PHONE:
        errors["caller_phone"] = "a phone number is needed so the citizen can be reached and track the request"
    email = (sub.caller_email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["caller_email"] = "not a valid e-mail address"
    if sub.urgency not in Urgency.values:
        errors["urgency"] = f"must be one of {', '.join(Urgency.values)}"
    lon = _number(sub.lon, "lon", -180, 180, errors)
    lat = _number(sub.lat, "lat", -90, 90, errors)
    if (lon is None) != (lat is None) and "lon" not in errors and "lat" not in errors:
        errors["lat" if lat is None else "lon"] = "give both longitude and latitude, or neither"
    address = (sub.address or "").strip()
    placement = None
    if lon is not None and lat is not None:
        placement = org_queries.locate(city, lon, lat)
        if placement is None:
            errors["lon"] = org_queries.locator_for(city).describe_outside(lon, lat)
    elif not address and "lon" not in errors and "lat" not in errors:
        errors["address"] = "say where it happened: an address, or longitude and latitude"
    elif address:
        placement = org_queries.locate_text(city, address)
    category = None
    if sub.category_code:
        category = Category.objects.filter(city=city, code=sub.category_code).first()
        if category is None:
            errors["category"] = f"unknown category code {sub.category_code!r}"
    if len(sub.title or "") > 200:
        errors["title"] = "at most 200 characters"
    if errors:
        raise ValidationError(errors)
    return {"description": description, "phone": phone, "email": email, "lon": lon, "lat": lat,
            "address": address, "placement": placement, "category": category}


def _reserve_numbers(day_counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``n`` tracking numbers per day; returns the first sequence number of each range."""
    first = {}
    for day, count in day_counts.items():
        DailyCounter.objects.select_for_update().get_or_create(day=day)
        DailyCounter.objects.filter(day=day).update(value=F("value") + count)
        first[day] = DailyCounter.objects.values_list("value", flat=True).get(day=day) - count + 1
    return first


@dataclass
class Prepared:
    """A checked submission, ready to be written: everything but its number and its id."""

    request: Request
    photos: list
    actor: object
    channel: str
    idempotency: tuple[str, str] | None
    keep_photo_location: bool = False


def prepare(sub: Submission, *, city, channel: str, actor=None, citizen=None,
            idempotency: tuple[str, str] | None = None) -> Prepared:
    """Validate and build the request (raises ValidationError naming every bad field); writes nothing."""
    clean = validate(sub, city=city, channel=channel)
    cleaned_photos = [photos.clean_photo(name, data, keep_location=sub.keep_photo_location)
                      for name, data in sub.photos]
    category, confidence = clean["category"], None
    suggested = None
    if category is None:
        suggested, confidence = suggest.suggest(city, f"{sub.title}\n{clean['description']}")
    placement = clean["placement"]
    received = sub.received_at or timezone.now()
    request = Request(
        city=city, channel=channel, citizen=citizen, caller_name=sub.caller_name.strip()[:100],
        caller_phone=clean["phone"], caller_email=clean["email"], confidential=sub.confidential,
        title=(sub.title or clean["description"].splitlines()[0])[:200].strip(),
        description=clean["description"], address=clean["address"], lon=clean["lon"], lat=clean["lat"],
        district=placement.district if placement else None, street=placement.street if placement else None,
        community=placement.community if placement else None, category=category,
        suggested_category=suggested, suggestion_confidence=confidence, urgency=sub.urgency,
        complex=sub.complex, source_ref=sub.source_ref, attributes=sub.attributes, evidence=sub.evidence,
        created_at=received, updated_at=received,
    )
    request.response_due, request.finish_due = deadlines(city, category or suggested, sub.urgency, sub.complex,
                                                         received)
    return Prepared(request, cleaned_photos, actor, channel, idempotency, sub.keep_photo_location)


def existing_for(idempotency: tuple[str, str] | None) -> Request | None:
    if idempotency is None:
        return None
    found = IdempotencyKey.objects.filter(scope=idempotency[0], key=idempotency[1]).select_related("request").first()
    return found.request if found is not None else None


def store(items: list[Prepared]) -> list[tuple[Request, bool]]:
    """Write checked submissions in one transaction: numbers, rows, timeline, keys and audit trail.

    A key already used (earlier, or by an earlier item of the same batch) returns that request.
    """
    with transaction.atomic():
        scopes = {p.idempotency for p in items if p.idempotency is not None}
        known: dict[tuple[str, str], Request] = {}
        if scopes:
            keys = IdempotencyKey.objects.filter(key__in={k for _, k in scopes}).select_related("request")
            known = {(k.scope, k.key): k.request for k in keys if (k.scope, k.key) in scopes}
        fresh: list[Prepared] = []
        claimed: dict[tuple[str, str], Prepared] = {}
        for item in items:
            if item.idempotency is not None and (item.idempotency in known or item.idempotency in claimed):
                continue
            if item.idempotency is not None:
                claimed[item.idempotency] = item
            fresh.append(item)
        days: dict[str, int] = {}
        for item in fresh:
            day = f"{timezone.localtime(item.request.created_at):%Y%m%d}"
            days[day] = days.get(day, 0) + 1
        next_seq = _reserve_numbers(days)
        for item in fresh:
            local = timezone.localtime(item.request.created_at)
            day = f"{local:%Y%m%d}"
            item.request.tracking_no = rules.tracking_number(local, next_seq[day])
            next_seq[day] += 1
        Request.objects.bulk_create([item.request for item in fresh])
        for item in fresh:
            for content, kind in item.photos:
                Attachment.objects.create(request=item.request, file=content, content_type=kind, size=content.size,
                                          location_kept=item.keep_photo_location)
        IdempotencyKey.objects.bulk_create([
            IdempotencyKey(scope=item.idempotency[0], key=item.idempotency[1], request=item.request)
            for item in fresh if item.idempotency is not None])
        Event.objects.bulk_create([
            Event(request=item.request, at=item.request.created_at, kind="submitted", public=True,
                  actor=item.actor if getattr(item.actor, "is_authenticated", False) else None,
                  data={"channel": item.channel}) for item in fresh])
        audit.record_many([(item.actor, "request.submit", item.request,
                            {"after": "new", "channel": item.channel, "tracking_no": item.request.tracking_no})
                           for item in fresh])
    results = []
    for item in items:
        if item in fresh:
            results.append((item.request, True))
        else:
            first = known.get(item.idempotency) or claimed[item.idempotency].request
            results.append((first, False))
    return results


def submit_request(sub: Submission, *, city, channel: str, actor=None, citizen=None,
                   idempotency: tuple[str, str] | None = None) -> tuple[Request, bool]:
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
