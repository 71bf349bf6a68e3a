"""Rows → Open311 fields. Every datetime carries the city's offset; every id is a string."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from cityloop.hotline import published as queries
from cityloop.hotline.published import Status
from cityloop.openapi.open311 import publication

if TYPE_CHECKING:
    from cityloop.hotline.models import Event, Request

# The latest public line of these kinds, with text, is the request's status_notes: what the city said.
# (Not "reopened" or "followed_up": their text is the citizen's own words, which are never published.)
NOTE_KINDS = {"note", "replied", "merged", "verified", "dispatched"}
CITIZEN_WORDS = {"followed_up", "reopened"}
# The status a request has after each kind of timeline line.
CLOSING_KINDS = {"followed_up", "verified", "merged"}
POSTCODE_IN_TEXT = re.compile(r"(?<!\d)(\d{5,6})(?!\d)")
UPDATE_WORDS = {
    "dispatched": "sent to {unit}",
    "signed": "accepted by the handling unit",
    "followed_up": "closed after follow-up",
    "verified": "readings back to normal",
    "merged": "merged into {text}",
    "reopened": "reopened",
    "replied": "the handling unit replied",
}


def w3(moment: datetime | None, tz) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment is not None else None


def _note_text(event: Event) -> str:
    return f"merged into {event.text}" if event.kind == "merged" else event.text


def status_notes(request: Request) -> str | None:
    notes = [e for e in request.public_events if e.kind in NOTE_KINDS and e.text.strip()]
    return _note_text(notes[-1]) if notes else None


def agency(request: Request) -> str | None:
    unit = request.lead_department or request.lead_street
    return unit.label if unit is not None else None


def _narrowest(request: Request):
    return request.community or request.street or request.district


def address(request: Request, level: str = "full") -> str | None:
    if request.address and level == "full":
        return request.address
    parts = [j.label for j in (request.community, request.street, request.district) if j is not None]
    return ", ".join(parts) or None


def zipcode(request: Request, postcodes: dict[int, list[str]], level: str = "full") -> str | None:
    """The postcode in the address text; else the only postcode the gazetteer has for the place."""
    for match in POSTCODE_IN_TEXT.findall(request.address if level == "full" else ""):
        if any(match in codes for codes in postcodes.values()):
            return match
    for place in (request.community, request.street):
        if place is not None and len(postcodes.get(place.pk, [])) == 1:
            return postcodes[place.pk][0]
    return None


def client_facts(request: Request) -> dict:
    return (request.evidence or {}).get("open311", {}) if isinstance(request.evidence, dict) else {}


def request_record(
    request: Request,
    *,
    tz,
    services: dict,
    postcodes: dict,
    published: dict[str, str],
    extensions: bool = False,
) -> dict:
    """One request as the city chose to publish it (``publication``: full or summary)."""
    level = published[request.category.code]
    service = services[request.category.code]
    facts = client_facts(request)
    orders = getattr(request, "active_lead_orders", [])
    expected = orders[0].finish_due if orders else request.finish_due
    closed = request.status in queries.CLOSED
    place = _narrowest(request)
    record = {
        "service_request_id": request.tracking_no,
        "status": queries.open_or_closed(request.status),
        "status_notes": status_notes(request),
        "service_name": service.name,
        "service_code": service.code,
        "description": request.description if level == "full" else None,
        "agency_responsible": agency(request),
        "service_notice": service.definition.service_notice or None,
        "requested_datetime": w3(request.created_at, tz),
        "updated_datetime": w3(
            (request.closed_at or request.updated_at) if closed else request.updated_at, tz
        ),
        "expected_datetime": None if closed else w3(expected, tz),
        "address": address(request, level),
        "address_id": (facts.get("address_id") if level == "full" else None)
        or (place.code if place else None),
        "zipcode": zipcode(request, postcodes, level),
        "lat": publication.rounded(request.lat, level),
        "long": publication.rounded(request.lon, level),
        "media_url": (facts.get("media_url") or None) if level == "full" else None,
    }
    if extensions:
        record["cityloop_status"] = request.status
        record["cityloop_status_name"] = str(Status(request.status).label)
        record["notes"] = [
            {"datetime": w3(e.at, tz), "kind": e.kind, "text": _note_text(e)}
            for e in request.public_events
            if e.kind in NOTE_KINDS and e.text.strip()
        ]
    return record


def status_after(event: Event, state_changes: list[Event]) -> str:
    """open or closed just after ``event``: the latest closing or reopening line up to it decides."""
    status = "open"
    for change in state_changes:
        if (change.at, change.pk) > (event.at, event.pk):
            break
        status = "closed" if change.kind in CLOSING_KINDS else "open"
    return status


def update_record(event: Event, *, tz, state_changes: list[Event], level: str = "full") -> dict:
    """One public timeline line; in a ``summary`` category only what happened, not the unit's own text."""
    request = event.request
    status = status_after(event, state_changes)
    words = UPDATE_WORDS.get(event.kind, "") or event.kind.replace("_", " ")
    own_words = (
        level == "full" and event.text.strip() and event.kind not in CITIZEN_WORDS and event.kind != "merged"
    )
    description = (
        event.text if own_words else words.format(unit=(event.data or {}).get("unit", ""), text=event.text)
    )
    return {
        "update_id": str(event.pk),
        "service_request_id": request.tracking_no,
        "status": status,
        "updated_datetime": w3(event.at, tz),
        "description": description,
        "media_url": ((event.data or {}).get("media_url") or None) if level == "full" else None,
    }
