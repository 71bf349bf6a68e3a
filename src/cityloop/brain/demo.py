"""Demo data: devices across the city's streets with their owning departments, and a few hours of
history so the pulse has something to show.  Registered in ``org.demo.DEMO_EXTENSIONS``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from django.db.models import Q

from cityloop.brain import rules
from cityloop.brain.models import Device
from cityloop.core import actors
from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Department, Jurisdiction

DEMO_PREFIX = "DEMO-"
DEMO_DEVICES = 2000
DEMO_HISTORY_HOURS = 6
# share of each kind, its type and its reporting intervals (s)
MIX = [
    ("water", "meter", 0.6, (900, 1800, 3600)),
    ("power", "meter", 0.24, (900, 3600)),
    ("gas", "meter", 0.13, (1800, 3600)),
    ("noise", "sensor", 0.01, (60,)),
    ("air", "sensor", 0.01, (60,)),
    ("manhole", "sensor", 0.01, (60,)),
]


def owner_for(city: Jurisdiction, kind: str) -> Department | None:
    departments = org_queries.departments(city, level="city")
    for needle in rules.OWNER_HINTS.get(kind, ()):
        found = (
            departments.filter(Q(name__contains=needle) | Q(name_en__contains=needle))
            .order_by("code")
            .first()
        )
        if found is not None:
            return found
    return departments.order_by("code").first()


def _points(city: Jurisdiction, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points that fall inside some street of the city."""
    streets = list(
        org_queries.places(city, level="street")
        .exclude(min_lon=None)
        .values_list("min_lon", "min_lat", "max_lon", "max_lat")
    )
    if not streets:
        raise ValueError(f"city: {city.code} has no streets with shapes to place devices in")
    box = np.array(streets, dtype=np.float64)
    locator = org_queries.locator_for(city)
    lon_out, lat_out = [], []
    got = 0
    for _ in range(50):
        pick = box[rng.integers(0, len(box), 2 * (n - got) + 16)]
        lon = rng.uniform(pick[:, 0], pick[:, 2])
        lat = rng.uniform(pick[:, 1], pick[:, 3])
        inside = locator.locate_many(lon, lat).street >= 0
        lon_out.append(lon[inside]), lat_out.append(lat[inside])
        got += int(inside.sum())
        if got >= n:
            break
    return np.concatenate(lon_out)[:n], np.concatenate(lat_out)[:n]


def register_demo_devices(city: Jurisdiction, n: int = DEMO_DEVICES, *, seed: int = 11) -> int:
    """Register demo devices until there are ``n``; returns how many were added."""
    from cityloop.brain.actions.devices import register_devices

    have = Device.objects.filter(code__startswith=DEMO_PREFIX).count()
    if have >= n:
        return 0
    rng = np.random.default_rng(seed + have)
    lon, lat = _points(city, n - have, rng)
    shares = np.array([m[2] for m in MIX])
    choice = rng.choice(len(MIX), size=len(lon), p=shares / shares.sum())
    owners = {kind: owner_for(city, kind) for kind, *_ in MIX}
    rows = []
    for i, (k, x, y) in enumerate(zip(choice, lon, lat, strict=True)):
        kind, type_, _, intervals = MIX[k]
        rows.append(
            {
                "code": f"{DEMO_PREFIX}{kind[:2].upper()}{have + i:06d}",
                "type": type_,
                "kind": kind,
                "lon": f"{x:.6f}",
                "lat": f"{y:.6f}",
                "department": owners[kind].code,
                "interval_s": str(intervals[rng.integers(0, len(intervals))]),
                "gateway": f"DEMO-GW{(have + i) % 8}",
            }
        )
    report = register_devices(city=city, rows=rows, actor=actors.DEMO)
    if not report.ok:
        raise ValueError("; ".join(report.errors[:5]))
    return len(report.created)


def simulator_for_demo(*, start: float, seed: int = 5, limit: int | None = None):
    from cityloop.brain.engine import city_utc_offset
    from cityloop.brain.ingest.simulator import Simulator

    rows = list(
        Device.objects.filter(code__startswith=DEMO_PREFIX, active=True)
        .order_by("idx")
        .values_list("code", "kind", "interval_s", "idx")[:limit]
    )
    codes, kinds, intervals, idxs = zip(*rows, strict=True) if rows else ((), (), (), ())
    sim = Simulator(
        np.array(codes, dtype=object),
        np.array(kinds, dtype=object),
        np.array(intervals),
        start=start,
        utc_offset_s=city_utc_offset(),
        seed=seed,
    )
    resume_counters(sim, np.array(idxs, dtype=np.int64))
    return sim


def resume_counters(sim, idxs: np.ndarray) -> int:
    """Start each simulated meter at its last accepted reading, so a restarted demo does not run its
    counters backwards (which the ingest rightly rejects as ``counter_backwards``). Returns how many."""
    from cityloop.brain.engine import session

    if len(idxs) == 0:
        return 0
    with session() as engine:
        if engine.bank is None:
            return 0
        last = np.asarray(engine.bank.state["last_value"], dtype=np.float64)
    known = idxs < len(last)
    seen = np.full(len(idxs), np.nan)
    seen[known] = last[idxs[known]]
    resume = sim.is_meter & np.isfinite(seen) & (seen > sim.counter)
    sim.counter[resume] = seen[resume]
    return int(resume.sum())


def load_history(hours: float = DEMO_HISTORY_HOURS, *, outages: int = 3) -> int:
    """Feed ``hours`` of simulated readings ending now through the ingest core; returns readings."""
    from cityloop.brain import actions
    from cityloop.brain.engine import session
    from cityloop.brain.ingest.pipeline import check_silent, ingest_batch

    now = time.time()
    sim = simulator_for_demo(start=now - hours * 3600)
    if len(sim.codes) == 0:
        return 0
    # a few devices fall silent an hour before now, so the alarm list and the loop have cases
    meters = np.flatnonzero(sim.is_meter)[:outages]
    sim.problems.outage_from[meters] = now - 4 * 3600  # silent for more than 3 intervals of even 1 h
    sim.problems.spike_p = 0.00003  # a couple of sensor spikes, not dozens of cases
    sim.problems.outage_to[meters] = now + 86400
    total = 0
    with session() as engine:
        step = 3600.0
        t = sim.clock
        while t < now:
            t = min(t + step, now)
            total += ingest_batch(sim.until(t), engine=engine, source="simulator", now=now).accepted
        check_silent(engine, now)
        actions.commit(engine)
        actions.verify_cases(engine)
    return total


def demo_extension(*, city, stdout=None) -> None:
    """Add the brain's demo data once: devices, then history if the pulse is still empty."""
    from cityloop.brain.models import Hourly

    added = register_demo_devices(city)
    if Hourly.objects.exists():
        return
    readings = load_history()
    if stdout is not None:
        stdout.write(f"brain: {added} demo devices, {readings} readings of history\n")
