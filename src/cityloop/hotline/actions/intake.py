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
from cityloop.hotline.actions.common import deadlines, event
from cityloop.hotline.models import Attachment, Channel, DailyCounter, IdempotencyKey, Request, Urgency
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


def _next_tracking_number(now: datetime) -> str:
    local = timezone.localtime(now)
    day = f"{local:%Y%m%d}"
    counter, _ = DailyCounter.objects.select_for_update().get_or_create(day=day)
    DailyCounter.objects.filter(day=day).update(value=F("value") + 1)
    counter.refresh_from_db(fields=["value"])
    return rules.tracking_number(local, counter.value)


def submit_request(sub: Submission, *, city, channel: str, actor=None, citizen=None,
                   idempotency: tuple[str, str] | None = None) -> tuple[Request, bool]:
    """Take a request in. Returns (request, created); a repeated idempotency key returns the first."""
    if idempotency is not None:
        found = IdempotencyKey.objects.filter(scope=idempotency[0], key=idempotency[1]).select_related("request").first()
        if found is not None:
            return found.request, False
    clean = validate(sub, city=city, channel=channel)
    cleaned_photos = [photos.clean_photo(name, data, keep_location=sub.keep_photo_location)
                      for name, data in sub.photos]
    category, confidence = clean["category"], None
    suggested = None
    if category is None:
        suggested, confidence = suggest.suggest(city, f"{sub.title}\n{clean['description']}")
    placement = clean["placement"]
    received = sub.received_at or timezone.now()
    try:
        with transaction.atomic():
            request = Request(
                city=city, channel=channel, citizen=citizen, caller_name=sub.caller_name.strip()[:100],
                caller_phone=clean["phone"], caller_email=clean["email"], confidential=sub.confidential,
                title=(sub.title or clean["description"].splitlines()[0])[:200].strip(),
                description=clean["description"], address=clean["address"], lon=clean["lon"], lat=clean["lat"],
                district=placement.district if placement else None, street=placement.street if placement else None,
                community=placement.community if placement else None, category=category,
                suggested_category=suggested, suggestion_confidence=confidence, urgency=sub.urgency,
                complex=sub.complex, source_ref=sub.source_ref, attributes=sub.attributes, evidence=sub.evidence,
                created_at=received,
            )
            request.response_due, request.finish_due = deadlines(city, category or suggested, sub.urgency,
                                                                 sub.complex, received)
            request.tracking_no = _next_tracking_number(received)
            request.save()
            for content, kind in cleaned_photos:
                Attachment.objects.create(request=request, file=content, content_type=kind, size=content.size,
                                          location_kept=sub.keep_photo_location)
            if idempotency is not None:
                IdempotencyKey.objects.create(scope=idempotency[0], key=idempotency[1], request=request)
            event(request, "submitted", actor=actor, public=True, at=received, channel=channel)
            audit.record(actor, "request.submit", request, after="new", channel=channel,
                         tracking_no=request.tracking_no)
    except IntegrityError:
        if idempotency is None:
            raise
        # Two retries raced; the first one won and its request is the answer for both.
        found = IdempotencyKey.objects.filter(scope=idempotency[0], key=idempotency[1]).select_related("request").first()
        if found is None:
            raise
        return found.request, False
    return request, True
