"""Reads about requests, scoped to the person asking; and the permission checks actions use."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Case, Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, When
from django.utils import timezone

from cityloop.core import calendars, permissions
from cityloop.core.actors import Actor, is_system
from cityloop.core.permissions import Role
from cityloop.core.queries import scope_of
from cityloop.hotline import rules
from cityloop.hotline.intake import access
from cityloop.hotline.models import Event, FollowUp, Order, OrderStatus, Request, Status, TimeLimit, Urgency


def is_dispatcher(actor: Actor) -> bool:
    return permissions.has_role(actor, permissions.DISPATCH)


def require_dispatcher(actor: Actor) -> None:
    if is_system(actor):  # imports, the city brain and commands act on the city's behalf
        return
    if not is_dispatcher(actor):
        raise PermissionDenied("only a hotline dispatcher may do this")


def is_unit_member(actor: Actor, order: Order) -> bool:
    if not actor.is_authenticated:
        return False
    if order.street_id is not None:
        return actor.role == Role.STREET and actor.street_id == order.street_id
    return actor.role == Role.DEPARTMENT and actor.department_id == order.department_id


def require_unit_member(actor: Actor, order: Order) -> None:
    if is_system(actor):
        return
    if not is_unit_member(actor, order):
        raise PermissionDenied("only the receiving unit may act on this order")


def requests_for(actor: Actor) -> QuerySet[Request]:
    """Requests a person may see: the city for dispatchers and leaders, a unit's own, a citizen's own."""
    qs = Request.objects.all()
    scope = scope_of(actor)
    if scope.citywide:
        return qs
    if scope.street_id is not None:
        return qs.filter(Q(orders__street_id=scope.street_id) | Q(street_id=scope.street_id)).distinct()
    if scope.department_id is not None:
        return qs.filter(orders__department_id=scope.department_id).distinct()
    if scope.user_id is not None:
        return qs.filter(citizen_id=scope.user_id)
    return qs.none()


def orders_for_unit(actor: Actor) -> QuerySet[Order]:
    scope = scope_of(actor)
    if scope.street_id is not None:
        return Order.objects.filter(street_id=scope.street_id)
    if scope.department_id is not None:
        return Order.objects.filter(department_id=scope.department_id)
    return Order.objects.none()


def can_see_contact(actor: Actor, request: Request) -> bool:
    """Dispatchers see callers; confidential callers only them; units need the contact permission."""
    if not actor.is_authenticated:
        return False
    if is_dispatcher(actor):
        return True
    if request.confidential:
        return False
    if request.citizen_id is not None and request.citizen_id == actor.pk:
        return True
    return actor.has_perm("hotline.contact_citizen") and requests_for(actor).filter(pk=request.pk).exists()


def case(request_id: int) -> Request | None:
    """A case another app opened (a brain alarm's request), or None when it is gone."""
    return Request.objects.filter(pk=request_id).first()


def case_status(request_id: int) -> str:
    """The status of a case (the city brain polls this for its own cases)."""
    return Request.objects.values_list("status", flat=True).get(pk=request_id)


@lru_cache(maxsize=32)
def _calendar_for(kind: str, tz: str):
    return calendars.for_city(kind, tz=tz)


def calendar_of(city):
    pack = getattr(city, "pack", None)
    if pack is None:
        return _calendar_for("weekday", settings.TIME_ZONE)
    return _calendar_for(pack.calendar, pack.timezone)


# Whether any per-category time limit exists, as this process last looked (time.monotonic(), answer).
# Most cities have none, and asking the chain for every submit was a quarter of a PostgreSQL submit's
# request-thread time (py-spy of bench_intake, 2026-12-05). Another process's first override is seen
# within this many seconds; this process's own at once (the signals below).
OVERRIDES_RECHECK_SECONDS = 5.0
_overrides: list = [float("-inf"), True]
_overrides_lock = threading.Lock()


def forget_limits(**_signal) -> None:
    """Look at the time-limit table again at the next submit (a receiver of its save and delete)."""
    with _overrides_lock:
        _overrides[0] = float("-inf")


def _any_override() -> bool:
    with _overrides_lock:
        looked, answer = _overrides
    now = time.monotonic()
    if now - looked < OVERRIDES_RECHECK_SECONDS:
        return answer
    answer = TimeLimit.objects.exists()
    with _overrides_lock:
        _overrides[:] = [now, answer]
    return answer


def limits_for(category, urgency: str) -> rules.Limits:
    """Per-category override (nearest on the category's chain), else the configured defaults.

    One statement walks the chain (a recursive CTE, on SQLite and PostgreSQL alike): every submit asks,
    and walking it through the ORM took a query per level plus one per parent (up to five round trips
    and ~20 % of a PostgreSQL submit's request-thread time in a py-spy profile of bench_intake). When
    the city has no override at all, no statement (:data:`OVERRIDES_RECHECK_SECONDS`).
    """
    if category is not None and _any_override():
        quote = connection.ops.quote_name
        category_model = TimeLimit._meta.get_field("category").related_model
        categories, limits = quote(category_model._meta.db_table), quote(TimeLimit._meta.db_table)
        with connection.cursor() as cursor:
            # Identifiers from Django's model meta; the values are bound as parameters.
            cursor.execute(
                f"WITH RECURSIVE chain(id, parent_id, depth) AS ("  # noqa: S608
                f"SELECT id, parent_id, 0 FROM {categories} WHERE id = %s "
                f"UNION ALL SELECT c.id, c.parent_id, chain.depth + 1 FROM {categories} c "
                f"JOIN chain ON c.id = chain.parent_id WHERE chain.depth < 32) "
                f"SELECT t.respond_hours, t.finish_days, t.complex_finish_days FROM {limits} t "
                f"JOIN chain ON t.category_id = chain.id WHERE t.urgency = %s ORDER BY chain.depth LIMIT 1",
                [category.pk, urgency],
            )
            row = cursor.fetchone()
        if row is not None:
            return rules.Limits(float(row[0]), int(row[1]), int(row[2]))
    cfg = settings.HOTLINE
    return rules.Limits(cfg["respond_hours"][urgency], cfg["finish_days"], cfg["complex_finish_days"])


# The dispatch queue's three orders: oldest first (fair), urgent first, and the soonest response
# deadline first (so the overdue ones lead).
QUEUE_ORDERS = ("oldest", "urgent", "due")


def dispatch_queue(city=None, *, order: str = "oldest") -> QuerySet[Request]:
    """Undispatched requests, oldest first, or urgent first, or by the nearest response deadline."""
    qs = Request.objects.filter(status=Status.NEW).select_related(
        "category", "suggested_category", "street", "district"
    )
    if city is not None:
        qs = qs.filter(city=city)
    if order == "urgent":
        urgent_first = Case(When(urgency=Urgency.URGENT, then=0), default=1, output_field=IntegerField())
        return qs.order_by(urgent_first, F("response_due").asc(nulls_last=True), "created_at", "id")
    if order == "due":
        return qs.order_by(F("response_due").asc(nulls_last=True), "created_at", "id")
    return qs.order_by("created_at", "id")


def _answered_reply():
    """Whether the request's current reply already has its answer (online or by phone)."""
    return Exists(FollowUp.objects.filter(request=OuterRef("pk"), replied_at=OuterRef("replied_at")))


def follow_up_queue(city=None) -> QuerySet[Request]:
    """Replied requests whose reply nobody has answered yet: a citizen who rated online is not called."""
    qs = Request.objects.filter(
        Q(status=Status.REPLIED) | Q(status=Status.MERGED, replied_at__isnull=False, closed_at__isnull=True)
    ).exclude(_answered_reply())
    if city is not None:
        qs = qs.filter(city=city)
    return qs.order_by("replied_at", "id")


def duplicate_candidates(request: Request, actor: Actor) -> list[Request]:
    """Open requests in the same category within the radius and window (both configurable), among the
    requests ``actor`` may see: the list never shows anyone a request outside their scope."""
    cfg = settings.HOTLINE
    if request.lon is None or request.lat is None or request.category_id is None:
        return []
    min_lon, min_lat, max_lon, max_lat = rules.degree_box(request.lon, request.lat, cfg["duplicate_radius_m"])
    since = request.created_at - timedelta(hours=cfg["duplicate_window_hours"])
    nearby = (
        requests_for(actor)
        .filter(
            category_id=request.category_id,
            created_at__gte=since,
            lon__range=(min_lon, max_lon),
            lat__range=(min_lat, max_lat),
        )
        .exclude(pk=request.pk)
        .exclude(status__in=[Status.CLOSED, Status.MERGED])
        .order_by("created_at")
    )
    return [
        r
        for r in nearby
        if rules.distance_m(request.lon, request.lat, r.lon, r.lat) <= cfg["duplicate_radius_m"]
    ]


def overdue_orders(now=None) -> QuerySet[Order]:
    now = now or timezone.now()
    active = [OrderStatus.PENDING, OrderStatus.SIGNED]
    return (
        Order.objects.filter(status__in=active)
        .filter(Q(finish_due__lt=now) | Q(status=OrderStatus.PENDING, response_due__lt=now))
        .select_related("request", "street", "department")
    )


# -- reads behind the pages (added with the hotline's pages) ----------------------------------------


def find_tracked(tracking_no: str, code: str) -> Request | None:
    """The request behind a tracking number, only with its access code (hotline/intake/access.py).

    A wrong number and a wrong code give the same ``None``, so the status page cannot be used to
    learn which numbers exist; the sequential number alone opens nothing.
    """
    found = Request.objects.filter(tracking_no=(tracking_no or "").strip().upper()[:20]).first()
    if found is None or not access.matches(code, found.access_code_hash, purpose="track"):
        return None
    return found


def public_timeline(request: Request) -> QuerySet:
    """The lines of the timeline a citizen (or an Open311 client) may see."""
    return (
        request.events.filter(public=True)
        .select_related("order__street", "order__department")
        .order_by("at", "id")
    )


def pending_extensions(city=None) -> QuerySet:
    from cityloop.hotline.models import Extension

    qs = Extension.objects.filter(approved__isnull=True).select_related(
        "order", "order__request", "order__street", "order__department", "requested_by"
    )
    if city is not None:
        qs = qs.filter(order__request__city=city)
    return qs.order_by("requested_at", "id")


def open_arbitrations(city=None) -> QuerySet:
    from cityloop.hotline.models import Arbitration

    qs = Arbitration.objects.filter(decided_at__isnull=True).select_related("request")
    if city is not None:
        qs = qs.filter(request__city=city)
    return qs.order_by("opened_at", "id")


INBOX_TABS = ("new", "in_progress", "overdue", "returned")


def inbox_orders(actor: Actor, tab: str, now=None) -> QuerySet[Order]:
    """A unit's orders on one tab of its inbox: new, in progress, overdue or returned."""
    if tab not in INBOX_TABS:
        raise ValueError(f"unknown inbox tab {tab!r}")
    now = now or timezone.now()
    qs = orders_for_unit(actor).select_related(
        "request", "request__category", "request__street", "street", "department"
    )
    if tab == "new":
        return qs.filter(status=OrderStatus.PENDING).order_by("response_due", "id")
    if tab == "in_progress":
        return qs.filter(status=OrderStatus.SIGNED).order_by("finish_due", "id")
    if tab == "returned":
        return qs.filter(status=OrderStatus.RETURNED).order_by("-returned_at", "-id")
    overdue = overdue_orders(now).values("pk")
    return qs.filter(pk__in=overdue).order_by("finish_due", "id")


def search_requests(
    actor: Actor,
    *,
    status: str = "",
    category=None,
    street=None,
    district=None,
    channel: str = "",
    since=None,
    until=None,
    text: str = "",
) -> QuerySet[Request]:
    """Requests the actor may see, narrowed by the search form's filters (a category includes its
    children)."""
    qs = requests_for(actor).select_related("category", "street", "district")
    if status:
        qs = qs.filter(status=status)
    if category is not None:
        qs = qs.filter(
            Q(category=category) | Q(category__parent=category) | Q(category__parent__parent=category)
        )
    if street is not None:
        qs = qs.filter(street=street)
    if district is not None:
        qs = qs.filter(district=district)
    if channel:
        qs = qs.filter(channel=channel)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    text = (text or "").strip()
    if text:
        qs = qs.filter(
            Q(tracking_no__iexact=text)
            | Q(title__icontains=text)
            | Q(description__icontains=text)
            | Q(address__icontains=text)
        )
    return qs.order_by("-created_at", "-id")


def awaits_follow_up(request: Request) -> bool:
    """Whether the citizen can answer the follow-up now (the request is in the follow-up queue)."""
    waiting = request.status == Status.REPLIED or (
        request.status == Status.MERGED and request.replied_at is not None and request.closed_at is None
    )
    return waiting and answer_to_reply(request) is None


def answer_to_reply(request: Request) -> FollowUp | None:
    """The answer already given to the request's current reply (online or by phone), if any."""
    if request.replied_at is None:
        return None
    return (
        FollowUp.objects.filter(request=request, replied_at=request.replied_at)
        .select_related("operator")
        .first()
    )


def answers(request: Request) -> QuerySet[FollowUp]:
    """The request's follow-up answers, oldest first, each with the operator who took it by phone."""
    return request.follow_ups.select_related("operator").order_by("at", "id")


def follow_up_replies(requests: list[Request]) -> dict[int, list[Order]]:
    """The units' replies each request of the follow-up list answers (a merged duplicate: its primary's)."""
    case_of = {r.pk: r.merged_into_id or r.pk for r in requests}
    cases = set(case_of.values())
    # A reopened case keeps the earlier round's replies: only the orders sent since the last reopening count.
    reopened = dict(
        Event.objects.filter(request_id__in=cases, kind="reopened")
        .order_by()
        .values_list("request_id")
        .annotate(last=Max("at"))
    )
    found: dict[int, list[Order]] = {}
    for order in (
        Order.objects.filter(request_id__in=cases, status=OrderStatus.REPLIED)
        .select_related("street", "department")
        .order_by("-lead", "replied_at", "id")
    ):
        since = reopened.get(order.request_id)
        if since is None or order.dispatched_at >= since:
            found.setdefault(order.request_id, []).append(order)
    return {pk: found.get(case, []) for pk, case in case_of.items()}


def request_counts() -> dict[tuple[str, str], int]:
    """Requests stored, by (channel, status) (the metrics endpoint)."""
    rows = Request.objects.order_by().values("channel", "status").annotate(n=Count("id"))
    return {(row["channel"], row["status"]): row["n"] for row in rows}


def overdue_order_counts(now) -> dict[str, int]:
    """Orders past their response deadline (not signed) and their finish deadline (signed, not replied)."""
    return {
        "response": Order.objects.filter(status=OrderStatus.PENDING, response_due__lt=now).count(),
        "finish": Order.objects.filter(status=OrderStatus.SIGNED, finish_due__lt=now).count(),
    }


# 这也是我的问题: a citizen about to report sees the open requests around the chosen point first. The
# radius and the window are the page's promise ("within 300 m, reported in the last 30 days").
NEARBY_RADIUS_M = 300
NEARBY_WINDOW_DAYS = 30
NEARBY_LIMIT = 10


@dataclass(frozen=True)
class Nearby:
    """What a stranger may see of an open request near them: never the citizen's words or contact."""

    pk: int
    category: str
    place: str
    status: str
    distance_m: int
    reported: datetime
    supporters: int


def nearby_open(city, lon: float, lat: float, *, category_code: str = "", now=None) -> list[Nearby]:
    """Open requests of ``city`` within NEARBY_RADIUS_M of the point, filed in the last NEARBY_WINDOW_DAYS,
    nearest first; with ``category_code``, only those filed (or, unclassified, suggested) under it.
    Confidential callers' requests are left out: a 举报 must not be pointed at from the public form."""
    now = now or timezone.now()
    min_lon, min_lat, max_lon, max_lat = rules.degree_box(lon, lat, NEARBY_RADIUS_M)
    qs = (
        Request.objects.filter(
            city=city,
            confidential=False,
            created_at__gte=now - timedelta(days=NEARBY_WINDOW_DAYS),
            lon__range=(min_lon, max_lon),
            lat__range=(min_lat, max_lat),
        )
        .exclude(status__in=[Status.CLOSED, Status.MERGED])
        .select_related("category", "suggested_category", "street", "community")
        .annotate(supporter_count=Count("supporters"))
    )
    if category_code:
        qs = qs.filter(
            Q(category__code=category_code) | Q(category__isnull=True, suggested_category__code=category_code)
        )
    found = []
    for r in qs.order_by("-created_at")[:500]:
        distance = rules.distance_m(lon, lat, r.lon, r.lat)
        if distance > NEARBY_RADIUS_M:
            continue
        category = r.category or r.suggested_category
        place = r.community or r.street
        found.append(
            Nearby(
                pk=r.pk,
                category=category.label if category else "",
                place=place.label if place else "",
                status=r.get_status_display(),
                distance_m=round(distance),
                reported=r.created_at,
                supporters=r.supporter_count,
            )
        )
    found.sort(key=lambda n: (n.distance_m, -n.reported.timestamp()))
    return found[:NEARBY_LIMIT]


def supporter_count(request: Request) -> int:
    """How many other citizens said this request is their problem too."""
    return request.supporters.count()


def request_in_city(city, pk: str) -> Request | None:
    """A request of ``city`` by its id as a page posted it (the nearby list's buttons), or None."""
    return Request.objects.filter(city=city, pk=int(pk)).first() if pk.isdigit() else None
