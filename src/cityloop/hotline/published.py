"""What the hotline publishes through an open door (Open311): the requests it may show with what
their records need, the requests a batch token filed, and the public updates."""

from __future__ import annotations

import re
from collections import defaultdict

from django.db.models import Prefetch, QuerySet

from cityloop.hotline.models import Event, Order, OrderStatus, Request
from cityloop.hotline.models import Status as Status  # re-exported: the status vocabulary a door renders
from cityloop.org import queries as org_queries

CLOSED = (Status.CLOSED, Status.MERGED)
POSTCODE = re.compile(r"^\d{5,6}$")


def token_ref(token: str) -> str:
    """The source_ref a request filed for a batch service carries, so ``tokens/{token}`` finds it."""
    return f"open311-token:{token}"


# Timeline lines in citizens' or apps' own words: never published (records.py says the change instead).
CITIZEN_KINDS_PREFIX = "_update"
NEVER_AN_UPDATE = ("submitted", "photo")


def base(city, published: dict[str, str]) -> QuerySet[Request]:
    """The requests Open311 may show: filed under a published service, caller not confidential."""
    return (
        Request.objects.filter(city=city, confidential=False, category__code__in=list(published))
        .select_related("category", "lead_department", "lead_street", "street", "community", "district")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=Event.objects.filter(public=True).order_by("at", "id"),
                to_attr="public_events",
            ),
            Prefetch(
                "orders",
                queryset=Order.objects.filter(
                    lead=True, status__in=[OrderStatus.PENDING, OrderStatus.SIGNED]
                ).order_by("-id"),
                to_attr="active_lead_orders",
            ),
        )
    )


def by_ids(city, tracking_numbers: list[str], published: dict[str, str]) -> list[Request]:
    found = {r.tracking_no: r for r in base(city, published).filter(tracking_no__in=tracking_numbers)}
    return [found[n] for n in dict.fromkeys(tracking_numbers) if n in found]


def one(city, tracking_no: str, published: dict[str, str]) -> Request | None:
    return base(city, published).filter(tracking_no=tracking_no).first()


def one_for_update(city, tracking_no: str) -> Request | None:
    """A request an app may comment on (POST servicerequestupdates): any of the city's, published or not."""
    return Request.objects.filter(city=city, tracking_no=tracking_no).first()


def search(
    city,
    *,
    published: dict[str, str],
    service_codes: list[str],
    statuses: list[str],
    start,
    end,
    updated_after,
    updated_before,
    page: int,
    page_size: int,
) -> list[Request]:
    """Newest first; each filter narrows, the window applies to the requested datetime."""
    qs = base(city, published)
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if set(statuses) == {"open"}:
        qs = qs.exclude(status__in=CLOSED)
    elif set(statuses) == {"closed"}:
        qs = qs.filter(status__in=CLOSED)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lte=end)
    if updated_after is not None:
        qs = qs.filter(updated_at__gte=updated_after)
    if updated_before is not None:
        qs = qs.filter(updated_at__lte=updated_before)
    offset = (page - 1) * page_size
    return list(qs.order_by("-created_at", "-id")[offset : offset + page_size])


def by_token(city, token: str) -> Request | None:
    return Request.objects.filter(city=city, source_ref=token_ref(token)).first()


def updates(city, *, published: dict[str, str], start, end, page: int, page_size: int) -> list[Event]:
    qs = (
        Event.objects.filter(
            request__city=city,
            public=True,
            request__confidential=False,
            request__category__code__in=list(published),
        )
        .exclude(kind__in=NEVER_AN_UPDATE)
        .exclude(kind__endswith=CITIZEN_KINDS_PREFIX)
        .select_related("request", "request__category")
    )
    if start is not None:
        qs = qs.filter(at__gte=start)
    if end is not None:
        qs = qs.filter(at__lte=end)
    offset = (page - 1) * page_size
    return list(qs.order_by("at", "id")[offset : offset + page_size])


def state_changes(events: list[Event]) -> dict[int, list[Event]]:
    """Per request of ``events``: its closing and reopening lines, oldest first."""
    found: dict[int, list[Event]] = defaultdict(list)
    kinds = ["followed_up", "verified", "merged", "reopened"]
    for event in Event.objects.filter(request_id__in={e.request_id for e in events}, kind__in=kinds).order_by(
        "at", "id"
    ):
        found[event.request_id].append(event)
    return found


def client_update(request: Request, *, token_id: int, update_id: str) -> Event | None:
    """The update a client already posted under its own ``update_id`` (a retry returns it)."""
    return (
        Event.objects.filter(
            request=request, kind="open311_update", data__api_token=token_id, data__client_update_id=update_id
        )
        .order_by("id")
        .first()
    )


def postcodes(city) -> dict[int, list[str]]:
    """Gazetteer postcodes per jurisdiction (ZIP codes in New York, 邮编 in Beijing)."""
    found: dict[int, list[str]] = defaultdict(list)
    for name, jurisdiction_id in org_queries.place_names(city).values_list("name", "jurisdiction_id"):
        if POSTCODE.match(name):
            found[jurisdiction_id].append(name)
    return found


def open_or_closed(status: str) -> str:
    return "closed" if status in CLOSED else "open"
