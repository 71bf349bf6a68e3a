"""Realistic synthetic request histories, for the demo's dashboard and the dashboard benchmark.

Rows are written in bulk like replayed history (channel ``replay``), one audit record per run;
they are not a substitute for real requests going through the actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone

from cityloop.core import audit
from cityloop.hotline.models import Channel, FollowUp, Order, OrderStatus, Request, Status
from cityloop.org.models import Category, Jurisdiction, Responsibility


@dataclass
class Generated:
    requests: int
    months: int


def generate(city, *, n: int, months: int = 12, seed: int = 7, end: datetime | None = None,
             batch: int = 5000, progress=None) -> Generated:
    """``n`` requests spread over the last ``months`` months, in every state a real city has."""
    rng = np.random.default_rng(seed)
    end = end or timezone.now()
    start = end - timedelta(days=30.4 * months)
    streets = list(Jurisdiction.objects.filter(city=city, level="street").select_related("parent"))
    if not streets:
        raise ValueError("the city has no streets; import a city pack first")
    leaves = list(Category.objects.filter(city=city, children__isnull=True))
    duties = _duties(city)
    # Some streets and categories are busier and some units better than others: that is what a
    # ranking is for.
    street_weight = rng.pareto(2.0, len(streets)) + 0.2
    street_weight /= street_weight.sum()
    street_skill = rng.beta(6, 3, len(streets))
    points = _points_in(streets, rng)
    span = (end - start).total_seconds()
    prefix = f"S{seed % 100:02d}"
    existing = Request.objects.filter(tracking_no__startswith=prefix).count()
    made = 0
    with transaction.atomic():
        while made < n:
            size = min(batch, n - made)
            s_idx = rng.choice(len(streets), size=size, p=street_weight)
            c_idx = rng.integers(0, len(leaves), size=size)
            offsets = np.sort(rng.random(size)) * span
            # months later in the period get slightly better: the reform at work
            progress_share = offsets / span
            skill = np.clip(street_skill[s_idx] + 0.15 * progress_share, 0, 0.98)
            responded = rng.random(size) < 0.7 + 0.28 * skill
            finished = rng.random(size) < 0.97
            age = (span - offsets) / 3600
            close_hours = rng.gamma(2.0, 40.0, size)
            closed = finished & (close_hours < age)
            followed = closed & (rng.random(size) < 0.85)
            resolved = rng.random(size) < 0.35 + 0.55 * skill
            sat_draw = rng.random(size)
            satisfied = sat_draw < 0.45 + 0.45 * skill
            basic = ~satisfied & (sat_draw < 0.65 + 0.3 * skill)
            returned = rng.random(size) < 0.06
            rows, orders = [], []
            for i in range(size):
                created = start + timedelta(seconds=float(offsets[i]))
                street = streets[s_idx[i]]
                category = leaves[c_idx[i]]
                department_id, route = duties.get(category.pk, (None, "street"))
                first_response = created + timedelta(hours=float(rng.uniform(0.2, 20 if responded[i] else 60)))
                response_due = created + timedelta(hours=24)
                finish_due = created + timedelta(days=9)
                closed_at = created + timedelta(hours=float(close_hours[i])) if closed[i] else None
                lon, lat = points[s_idx[i]]
                rows.append(Request(
                    city=city, tracking_no=f"{prefix}-{existing + made + i:09d}", channel=Channel.REPLAY,
                    status=Status.CLOSED if closed[i] else Status.IN_PROGRESS, title=category.name,
                    description=category.name, lon=lon, lat=lat, district=street.parent, street=street,
                    category=category, created_at=created, response_due=response_due, finish_due=finish_due,
                    first_response_at=first_response if first_response < end else None,
                    replied_at=closed_at, closed_at=closed_at, resolved=bool(resolved[i]) if followed[i] else None,
                    satisfaction=("satisfied" if satisfied[i] else "basic" if basic[i] else "unsatisfied")
                    if followed[i] else "", return_count=int(returned[i]),
                    lead_department_id=department_id if route == "direct" else None,
                    lead_street=street if route != "direct" else None))
            Request.objects.bulk_create(rows, batch_size=2000)
            for request, was_returned in zip(rows, returned, strict=True):
                department_id, route = duties.get(request.category_id, (None, "street"))
                common = {"request_id": request.pk, "route": route, "dispatched_at": request.created_at,
                          "response_due": request.response_due, "finish_due": request.finish_due}
                if was_returned and department_id:
                    orders.append(Order(**common, department_id=department_id, status=OrderStatus.RETURNED,
                                        lead=True, returned_at=request.created_at + timedelta(hours=2),
                                        returned_reason="不属于本单位职责"))
                unit = {"department_id": department_id} if route == "direct" and department_id \
                    else {"street_id": request.street_id}
                orders.append(Order(**common, **unit, lead=True,
                                    status=OrderStatus.REPLIED if request.closed_at else OrderStatus.SIGNED,
                                    signed_at=request.first_response_at, replied_at=request.closed_at))
            Order.objects.bulk_create(orders, batch_size=2000)
            FollowUp.objects.bulk_create([
                FollowUp(request_id=r.pk, at=r.closed_at + timedelta(hours=24), channel="phone",
                         resolved=r.resolved, satisfaction=r.satisfaction)
                for r in rows if r.resolved is not None], batch_size=2000)
            made += size
            if progress:
                progress(size)
        audit.record(None, "request.synthesize", city, count=n, months=months, seed=seed)
    return Generated(n, months)


def _duties(city) -> dict[int, tuple[int, str]]:
    """Leaf category → (responsible department, route), walking up the tree."""
    rows = {r.category_id: (r.department_id, r.route) for r in Responsibility.objects.filter(category__city=city)}
    parents = dict(Category.objects.filter(city=city).values_list("id", "parent_id"))
    result = {}
    for cat in parents:
        node = cat
        while node and node not in rows:
            node = parents.get(node)
        if node:
            result[cat] = rows[node]
    return result


def _points_in(streets, rng) -> list[tuple[float | None, float | None]]:
    points = []
    for street in streets:
        if not street.geometry:
            points.append((None, None))
            continue
        point = shapely.from_geojson(street.geometry).representative_point()
        points.append((round(point.x, 6), round(point.y, 6)))
    return points
