"""Open311 writes: a new request goes through the hotline's ``submit_request``; a client's update
becomes a public line on the request's timeline. Each write is audited by the hotline or here."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction

from cityloop.core.actors import Actor
from cityloop.core.doors.forms import errors_in_english
from cityloop.hotline import published as queries
from cityloop.hotline.actions import Channel, Submission, add_citizen_comment, submit_request
from cityloop.openapi.open311 import definitions, params

if TYPE_CHECKING:
    from cityloop.hotline.models import Event, Request
from cityloop.openapi.open311.render import Open311Error
from cityloop.org import queries as org_queries

MAX_DESCRIPTION = 4000
MAX_SHORT = 200
# FixMyStreet's statuses (its "additional states" extension) besides GeoReport's open and closed.
CLIENT_STATUSES = {
    "open",
    "closed",
    "fixed",
    "in_progress",
    "action_scheduled",
    "investigating",
    "duplicate",
    "not_councils_responsibility",
    "no_further_action",
    "internal_referral",
}
# Hotline field → the Open311 parameter the client sent.
FIELD_NAMES = {
    "description": "description",
    "caller_phone": "phone",
    "caller_email": "email",
    "lon": "long",
    "lat": "lat",
    "address": "address_string",
    "category": "service_code",
    "title": "description",
}


@dataclass
class Filed:
    request: Request
    token: str | None
    service_notice: str


def _media_url(text: str, problems: list) -> str:
    if not text:
        return ""
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        problems.append(("media_url", "must be an http or https URL"))
        return ""
    if len(text) > 1000:
        problems.append(("media_url", "at most 1000 characters"))
    return text


def _coordinate(form, name: str, low: float, high: float, problems: list) -> float | None:
    text = params.value(form, name)
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not low <= number <= high:
        problems.append((name, f"must be a number between {low:g} and {high:g}, not {text!r}"))
        return None
    return number


def attribute_input(form) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2`` → {code: [values]}."""
    given: dict[str, list[str]] = {}
    for key in form.keys():
        if not (key.startswith("attribute[") and "]" in key):
            continue
        code = key[len("attribute[") : key.index("]")]
        rest = key[key.index("]") + 1 :]
        if rest not in ("", "[]") or not code:
            raise Open311Error(400, (key, "attributes are sent as attribute[code] or attribute[code][]"))
        given.setdefault(code, []).extend(form.getlist(key))
    return given


def file_request(city, service: definitions.Service, form, *, api_token, actor: Actor) -> Filed:
    """POST requests: check everything the client sent, then take the request in like any other channel."""
    problems: list[tuple[str, str]] = []
    lat = _coordinate(form, "lat", -90, 90, problems)
    lon = _coordinate(form, "long", -180, 180, problems)
    if (params.value(form, "lat") == "") != (params.value(form, "long") == ""):
        problems.append(("lat" if not params.value(form, "lat") else "long", "send lat and long together"))
    address_string = params.value(form, "address_string")
    address_id = params.value(form, "address_id")
    place = None
    if address_id:
        place = (
            org_queries.places(city, levels=["district", "street", "community"])
            .filter(code=address_id)
            .first()
        )
        if place is None:
            problems.append(
                ("address_id", f"{address_id!r} is not a district, street or community code of {city.code}")
            )
    if not (params.value(form, "lat") or params.value(form, "long") or address_string or address_id):
        problems.append(("location", "send lat and long, address_string or address_id"))
    description = (form.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        problems.append(("description", f"at most {MAX_DESCRIPTION} characters (got {len(description)})"))
    for name in ("first_name", "last_name", "device_id", "account_id", "phone", "email", "address_string"):
        if len(params.value(form, name)) > MAX_SHORT:
            problems.append((name, f"at most {MAX_SHORT} characters"))
    media_url = _media_url(params.value(form, "media_url"), problems)
    values, attribute_problems = definitions.clean_attributes(service.definition, attribute_input(form))
    problems += attribute_problems
    if problems:
        raise Open311Error(400, *problems)
    if not description:
        # The spec makes the description optional; the hotline's record needs words, so say what was chosen.
        lines = [service.name] + [
            f"{code}: {', '.join(v) if isinstance(v, list) else v}" for code, v in values.items()
        ]
        description = "\n".join(lines)
    if place is not None and lat is None:
        # The place's own name locates it exactly (the longest matching name wins).
        address = f"{place.name} {address_string}".strip()
    else:
        address = address_string
    batch_token = secrets.token_urlsafe(12) if service.definition.type == "batch" else None
    facts = {
        k: v
        for k, v in {
            "address_id": address_id,
            "media_url": media_url,
            "device_id": params.value(form, "device_id"),
            "account_id": params.value(form, "account_id"),
            "api_token": api_token.pk,
        }.items()
        if v
    }
    name = " ".join(p for p in (params.value(form, "first_name"), params.value(form, "last_name")) if p)
    submission = Submission(
        description=description,
        caller_name=name,
        caller_phone=params.value(form, "phone"),
        caller_email=params.value(form, "email"),
        address=address,
        lon=lon,
        lat=lat,
        category_code=service.code,
        attributes=values,
        evidence={"open311": facts},
        source_ref=queries.token_ref(batch_token) if batch_token else f"open311:{api_token.prefix}",
    )
    try:
        request, _ = submit_request(submission, city=city, channel=Channel.OPEN311, actor=actor)
    except ValidationError as exc:
        both = lat is not None and lon is not None
        raise Open311Error(
            400,
            *[
                (
                    "lat/long" if field in ("lon", "lat") and both else FIELD_NAMES.get(field, field),
                    " ".join(messages),
                )
                for field, messages in errors_in_english(exc).items()
            ],
        ) from exc
    return Filed(request, batch_token, service.definition.service_notice)


@transaction.atomic
def post_update(request: Request, form, *, api_token, actor: Actor) -> tuple[Event, bool]:
    """servicerequestupdates: a client's comment becomes a public line on the timeline.

    The client's status is recorded with the comment, never applied: only the handling unit's reply
    and the citizen's follow-up close a request in CityLoop, so a "closed" from an app cannot skip them.
    """
    problems: list[tuple[str, str]] = []
    update_id = params.value(form, "update_id")
    if not update_id:
        problems.append(("update_id", "required: the client's own id of this update"))
    elif len(update_id) > MAX_SHORT:
        problems.append(("update_id", f"at most {MAX_SHORT} characters"))
    status = params.value(form, "status").lower()
    if status not in CLIENT_STATUSES:
        problems.append(
            (
                "status",
                f"one of {', '.join(sorted(CLIENT_STATUSES))}"
                + (f", not {status!r}" if status else " (required)"),
            )
        )
    stamped = params.value(form, "updated_datetime")
    client_time = None
    if not stamped:
        problems.append(("updated_datetime", "required"))
    else:
        try:
            client_time = params.parse_w3(stamped, "updated_datetime", params.city_tz(request.city))
        except Open311Error as exc:
            problems.append(("", exc.errors[0]["description"]))
    text = (form.get("description") or "").strip()
    if not text:
        problems.append(("description", "required: the text of the update"))
    elif len(text) > MAX_DESCRIPTION:
        problems.append(("description", f"at most {MAX_DESCRIPTION} characters (got {len(text)})"))
    email = params.value(form, "email")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(("email", "not a valid e-mail address"))
    media_url = _media_url(params.value(form, "media_url"), problems)
    if problems:
        raise Open311Error(400, *problems)
    existing = queries.client_update(request, token_id=api_token.pk, update_id=update_id)
    if existing is not None:
        return existing, False
    author = " ".join(p for p in (params.value(form, "first_name"), params.value(form, "last_name")) if p)
    line = add_citizen_comment(
        request,
        text=text,
        actor=actor,
        source="open311",
        api_token=api_token.pk,
        client_update_id=update_id,
        client_status=status,
        client_updated_datetime=client_time.isoformat(),
        media_url=media_url,
        author=author,
        email=email,
        account_id=params.value(form, "account_id"),
        token=api_token.prefix,
    )
    return line, True
