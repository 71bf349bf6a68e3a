"""The hotline's JSON API: intake, search, detail, track, CSV export; dispatch and unit work in api_*.py.

Mounted at the API root (/api/v1/requests, /api/v1/orders, ...). Each endpoint parses, looks the
object up within what the token's user may see (404 otherwise), calls one action or query, and
renders; ValidationError → 400 naming the fields, PermissionDenied → 403 (handlers in openapi/api.py).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from ninja import File, Form, Header, Query, Router, Status, UploadedFile
from ninja.renderers import JSONRenderer

from cityloop.core import permissions
from cityloop.core.actors import Actor
from cityloop.core.throttle import ClientAnonRateThrottle
from cityloop.hotline import actions, export, queries
from cityloop.hotline.api_common import (
    AUTH,
    RequestFilters,
    actor_of,
    contact_visible,
    event_out,
    filtered,
    order_out,
    request_out,
    visible_request,
)
from cityloop.hotline.intake import photos, throttle
from cityloop.hotline.intake import queue as intake_queue
from cityloop.hotline.intake.attachments import attach_photo
from cityloop.hotline.models import Channel, IdempotencyKey
from cityloop.hotline.schemas import (
    ERRORS,
    ContactOut,
    Errors,
    FollowUpIn,
    FollowUpOut,
    Page,
    PhotoOut,
    Problem,
    RequestDetail,
    RequestOut,
    RevealIn,
    SubmitIn,
    TrackOut,
)
from cityloop.org import queries as org_queries

router = Router(auth=AUTH, tags=["requests"])
_RENDERER = JSONRenderer()  # what the mounting API renders with (openapi/api.py sets no other)
KEY_MAX = IdempotencyKey._meta.get_field("key").max_length


# The deployment's city (with its pack) is read on every submit; keep it for a while per process, and
# forget it as soon as a city or pack row changes here (another process's import is seen after CITY_TTL).
CITY_TTL = 30.0
_city_cache: dict[str, tuple[object, float]] = {}


def _forget_city(**_kwargs) -> None:
    _city_cache.clear()


org_queries.on_city_change(_forget_city, uid="hotline-api-city")


_sqlite_writer = threading.Lock()


@contextmanager
def _one_writer():
    """On SQLite, one submitting thread per process at a time.

    SQLite has one writer; threads that queue for it inside SQLite wait in its busy handler, which
    sleeps in growing steps (up to 100 ms), so under load the p99 becomes seconds. Queuing on a
    Python lock wakes the next thread as soon as the lock is free; the GIL already runs one thread's
    Python at a time, so little parallelism is lost. PostgreSQL takes row locks and needs none of it.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield


_city_lock = threading.Lock()


def _city():
    cached = _city_cache.get("city")
    if cached is not None and time.monotonic() - cached[1] < CITY_TTL:
        return cached[0]
    # One thread builds the city's locator (seconds for a real city) while the others wait for it;
    # without the lock every thread of a fresh worker built its own copy at once.
    with _city_lock:
        cached = _city_cache.get("city")
        if cached is not None and time.monotonic() - cached[1] < CITY_TTL:
            return cached[0]
        city = org_queries.default_city()
        if city is None:
            raise ValidationError({"__all__": "no city is imported yet (cityloop city import CODE)"})
        org_queries.locator_for(city)
        _city_cache["city"] = (city, time.monotonic())
    return city


@router.post(
    "/requests",
    response={200: RequestOut, 201: RequestOut, 409: Problem, **ERRORS},
    summary="File a request",
    description="Take a citizen request in through the API channel. Located from lon/lat (or the "
    "address text), given deadlines in working time and a tracking number. With an "
    "`Idempotency-Key` header a retried submit returns the first request (200, header "
    "`Idempotency-Replayed: true`) instead of filing a second one (201); the same key "
    "with a different description is refused (409). A citizen's own token files the "
    "request as theirs. Photos are added afterwards with `POST /requests/{no}/photos`.",
)
def submit(
    request,
    response: HttpResponse,
    payload: SubmitIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="Any unique string up to 128 characters (e.g. a UUID) chosen by the client per request.",
    ),
):
    actor = actor_of(request)
    key = None
    if idempotency_key is not None:
        key = idempotency_key.strip()
        if not key or len(key) > KEY_MAX:
            raise ValidationError({"Idempotency-Key": f"1 to {KEY_MAX} characters"})
    sub = actions.Submission(
        description=payload.description,
        title=payload.title,
        caller_name=payload.caller_name,
        caller_phone=payload.caller_phone,
        caller_email=payload.caller_email,
        address=payload.address,
        lon=payload.lon,
        lat=payload.lat,
        category_code=payload.category,
        urgency=payload.urgency,
        kind=payload.kind,
        complex=payload.complex,
        confidential=payload.confidential,
        attributes=payload.attributes,
    )
    citizen = actor if actor.role == "citizen" else None
    idempotency = (f"api:user:{actor.pk}", key) if key else None
    if settings.HOTLINE["group_commit"]:
        found, created = intake_queue.submit(
            sub, city=_city(), channel=Channel.API, actor=actor, citizen=citizen, idempotency=idempotency
        )
    else:
        with _one_writer():
            found, created = actions.submit_request(
                sub, city=_city(), channel=Channel.API, actor=actor, citizen=citizen, idempotency=idempotency
            )
    if not created:
        if found.description != payload.description.strip():
            return Status(
                409,
                {
                    "detail": f"Idempotency-Key {key!r} was already used for {found.tracking_no}, "
                    "a request with another description"
                },
            )
        response["Idempotency-Replayed"] = "true"
    # Rendered straight from request_out's dict, which has RequestOut's fields in its order (a test holds
    # them together): validating our own output through the schema cost a quarter of a submit's Python.
    response.status_code = 201 if created else 200
    response.content = _RENDERER.render(
        request, request_out(actor, found, full_contact=contact_visible(actor, found)), response_status=201
    )
    return response


@router.post(
    "/requests/{tracking_no}/photos",
    response={201: PhotoOut, **ERRORS},
    summary="Add a photo",
    description="Multipart upload of one JPEG, PNG or WebP photo of at most 10 MB (the type is checked "
    "by content, not by name). Its EXIF GPS location is removed unless `keep_location` "
    "is true (the citizen agreed). At most 10 photos per request.",
)
def add_photo(
    request,
    tracking_no: str,
    photo: File[UploadedFile],
    keep_location: Form[Literal["true", "false"]] = "false",
):
    actor = actor_of(request)
    found = visible_request(actor, tracking_no)
    data = photo.read(photos.MAX_BYTES + 1)
    attachment = attach_photo(
        found, name=photo.name or "photo", data=data, keep_location=keep_location == "true", actor=actor
    )
    return Status(
        201,
        {
            "id": attachment.pk,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "location_kept": attachment.location_kept,
        },
    )


@router.get(
    "/requests",
    response={200: Page, **ERRORS},
    summary="Search requests",
    description="The requests the token's user may see (dispatchers and leaders: the city; a street or "
    "department: its own; a citizen: theirs), newest first. `category` includes its "
    "sub-categories; `q` searches the number, title, description and address.",
)
def list_requests(
    request,
    filters: Query[RequestFilters],
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=10_000_000),
):
    actor = actor_of(request)
    qs = filtered(actor, filters)
    rows = list(qs[offset : offset + limit])
    return {
        "count": qs.count(),
        "offset": offset,
        "limit": limit,
        "items": [request_out(actor, r) for r in rows],
    }


@router.get(
    "/requests.csv",
    response={200: str, **ERRORS},
    summary="Export requests as CSV",
    description="The same filters as `GET /requests`, every matching row (UTF-8 with BOM so "
    "spreadsheets read Chinese). Callers are masked unless the reader may see them.",
    openapi_extra={"responses": {200: {"description": "CSV", "content": {"text/csv": {}}}}},
)
def export_csv(request, filters: Query[RequestFilters]):
    actor = actor_of(request)
    return export.response(
        actor, filtered(actor, filters), filename=f"requests-{timezone.localdate():%Y%m%d}.csv"
    )


def _is_staff(actor: Actor) -> bool:
    return permissions.has_role(actor, permissions.STAFF)


@router.get(
    "/requests/{tracking_no}",
    response={200: RequestDetail, **ERRORS},
    summary="A request with its timeline",
    description="Staff see every event; a citizen sees the public ones. The caller is shown to "
    "dispatchers and to the citizen; anyone else sees it masked and may ask for it with "
    "`POST /requests/{no}/reveal-contact` (audited).",
)
def detail(request, tracking_no: str):
    actor = actor_of(request)
    found = visible_request(actor, tracking_no)
    staff = _is_staff(actor)
    events = found.events.select_related("actor")
    if not staff:
        events = events.filter(public=True)
    orders = found.orders.select_related("street", "department").order_by("dispatched_at", "id")
    body = request_out(actor, found)
    for order in orders:
        order.request = found
    body.update(
        orders=[order_out(o) for o in orders],
        timeline=[event_out(e) for e in events],
        photos=found.attachments.count(),
        resolved=found.resolved,
        satisfaction=found.satisfaction,
    )
    return body


@router.post(
    "/requests/{tracking_no}/reveal-contact",
    response={200: ContactOut, **ERRORS},
    summary="Reveal the caller's contact",
    description='For a dispatcher, the citizen, or a unit holding the "contact citizen" permission '
    "(never for a confidential caller); every reveal is written to the audit trail.",
)
def reveal(request, tracking_no: str, payload: RevealIn):
    actor = actor_of(request)
    return actions.reveal_contact(visible_request(actor, tracking_no), actor=actor, reason=payload.reason)


@router.post(
    "/requests/{tracking_no}/follow-up",
    response={201: FollowUpOut, **ERRORS},
    summary="Record the follow-up (回访)",
    description="A dispatcher records the citizen's answer given on the phone; a citizen answers for "
    "their own request with their own token (web channel). An unresolved or unsatisfied "
    "answer may reopen the case (configurable rules and limit).",
)
def follow_up(request, tracking_no: str, payload: FollowUpIn):
    actor = actor_of(request)
    found = visible_request(actor, tracking_no)
    channel = "phone" if queries.is_dispatcher(actor) else "web"
    answer = actions.record_follow_up(
        found,
        resolved=payload.resolved,
        satisfaction=payload.satisfaction,
        comment=payload.comment,
        channel=channel,
        actor=actor,
    )
    return Status(
        201,
        {
            "tracking_no": found.tracking_no,
            "channel": answer.channel,
            "resolved": answer.resolved,
            "satisfaction": answer.satisfaction,
            "reopened": answer.reopened,
        },
    )


@router.get(
    "/track/{tracking_no}",
    auth=None,
    response={200: TrackOut, 400: Errors, 404: Problem, 429: Problem},
    throttle=[ClientAnonRateThrottle("30/m")],
    tags=["track"],
    summary="Track a request (public)",
    description="No token: the tracking number plus the request's access code (10 letters and digits, "
    "given to the citizen when the request was filed) show the status and the public "
    "timeline. A wrong code and an unknown number get the same 404; after 20 failures in "
    "15 minutes from one address, or for one tracking number, the answer is 429.",
)
def track(
    request,
    tracking_no: str,
    code: str = Query(..., description="The request's access code", examples=["K7P2M-9XQ4T"], max_length=20),
):
    from cityloop.hotline.intake.views import TRACK_FAILURES, TRACK_WINDOW_S

    keys = throttle.keys_for("track", request, (tracking_no or "").strip().upper()[:20])
    if throttle.exceeded(keys, TRACK_FAILURES):
        return Status(429, {"detail": "too many failed attempts; wait a few minutes"})
    found = queries.find_tracked(tracking_no, code)
    if found is None:
        throttle.count(keys, TRACK_WINDOW_S)
        return Status(404, {"detail": "no request with that number and that access code"})
    events = queries.public_timeline(found)
    return {
        "tracking_no": found.tracking_no,
        "status": found.status,
        "title": found.title,
        "created_at": found.created_at,
        "street": found.street.label if found.street_id else None,
        "finish_due": found.finish_due,
        "timeline": [event_out(e, public_view=True) for e in events],
    }


def _mount() -> None:
    from cityloop.hotline.handling.api_dispatch import router as dispatch_router
    from cityloop.hotline.handling.api_orders import router as orders_router

    router.add_router("", dispatch_router)
    router.add_router("", orders_router)


_mount()
