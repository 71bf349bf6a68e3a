"""False alarms on a clean simulated city, and recall of injected faults (no database).

    python bench/bench_alarms.py [--meters 30800] [--sensors 400] [--days 7]
        [--fault-meters 3000] [--fault-sensors 400] [--fault-days 10]

Both parts feed the simulator's readings (``brain.ingest.simulator.Simulator``) straight into a
``DetectorBank`` (``brain.detect.detectors``) in steps of 5 minutes, with ``check_silent`` after
every step, exactly as a worker would; no database, no engine.

**Clean city.** Pudong's 3.08 M meters and 40 k sensors scaled down 100× (30,800 meters and 400
sensors): meters water 45 %, power 45 %, gas 10 % (as in bench_brain), each read every 15, 30 or
60 min; sensors noise, air, manhole and water level in equal shares, every minute. No injected
problem at all (the simulator's random sensor spikes are switched off too). Over ``--days``
simulated days every alarm is counted by alarm type and device kind, per 1,000 device-days.
The first day is included (the detectors' warm-up is part of a real start); the rate after the
first day is printed beside it.

**Faults.** A second, smaller city (``--fault-meters``/``--fault-sensors``) runs ``--fault-days``
days. Disjoint sets of devices each get one fault, starting at a random 5-minute step between the
end of day 1 and the end of day 4 (local time, seeded):

==============  =====================================================  ==========================
fault           injection                                              detected by
==============  =====================================================  ==========================
leak            simulator ``Problems.leak_from``/``leak_rate``: a       LEAK
                steady 0.01–0.06 m³/h day and night (water meters)
night flow      written here: 0.005–0.03 m³/h only between 00:00 and    LEAK
                06:00 local (a running cistern at night; water meters)
stuck counter   simulator ``Problems.stuck_from``: the counter freezes  STUCK or ZERO
                (every meter kind)
zero            written here: a sensor reads exactly 0 from then on     STUCK, SPIKE or ANOMALY
                (a dead transducer)
spike (meter)   written here: one interval carries 100× the            SPIKE
                household's mean hourly use (a burst), then normal
spike (sensor)  written here: one reading +20 sd + 10 (the             SPIKE or ANOMALY
                simulator's own spike shape)
drift (sensor)  written here: the value drifts by +1 sd every 6 h      SPIKE or ANOMALY
silence         simulator ``Problems.outage_from``/``outage_to``:      SILENT
                12 h without readings (meters and sensors)
reversed meter  written here: the meter counts down by the household's  reading rejected as
                use from then on (fitted backwards)                      COUNTER_BACKWARDS
==============  =====================================================  ==========================

A fault is detected when its device raises one of the listed alarms at or after the start
(for "reversed meter" there is no alarm type: the first reading the bank rejects as
COUNTER_BACKWARDS counts). Recall and hours from start to detection (median, p90) are printed per
fault kind.

Prints ``RESULT false_alarms_per_1000_device_days_max=… recall_min=…`` and one line per kind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))

from cityloop.brain.detect.detectors import (  # noqa: E402
    AlarmType,
    DetectorBank,
    Kind,
    RejectReason,
)
from cityloop.brain.ingest.simulator import Simulator  # noqa: E402

STEP = 300  # seconds of readings per process() call
DAY = 86400
START = 1_767_225_600  # 2026-01-01 00:00 UTC
UTC_OFFSET = 8 * 3600
METER_KINDS = ("water", "power", "gas")
SENSOR_KINDS = ("noise", "air", "manhole", "water_level")


def make_city(n_meter: int, n_sensor: int, seed: int):
    rng = np.random.default_rng(seed)
    kinds = np.concatenate(
        [
            rng.choice(np.array(METER_KINDS, dtype=object), n_meter, p=[0.45, 0.45, 0.10]),
            np.array(SENSOR_KINDS, dtype=object)[np.arange(n_sensor) % len(SENSOR_KINDS)],
        ]
    )
    meter = np.isin(kinds, METER_KINDS)
    intervals = np.where(meter, rng.choice([900, 1800, 3600], len(kinds)), 60).astype(np.int64)
    return kinds, intervals, meter


def _sim(kinds, intervals, seed: int) -> Simulator:
    codes = np.arange(len(kinds), dtype=np.int64).astype(object)  # the code is the bank index
    sim = Simulator(codes, kinds, intervals, START, utc_offset_s=UTC_OFFSET, seed=seed)
    sim.problems.spike_p = 0.0  # a clean city: no random spikes
    return sim


def _kind_ids(kinds) -> np.ndarray:
    return np.array([int(Kind.from_name(k)) for k in kinds], np.int64)


def _night_seconds(t: np.ndarray, end_s: int = 6 * 3600) -> np.ndarray:
    """Seconds of local 00:00..end_s windows from the epoch to t (cumulative)."""
    lt = t + UTC_OFFSET
    return (lt // DAY) * end_s + np.minimum(lt % DAY, end_s)


class Faults:
    """The injections this bench writes itself, applied to each batch (see the module docstring)."""

    def __init__(self, n: int, sim: Simulator):
        self.sim = sim
        self.start = np.full(n, np.inf)
        self.kind = np.full(n, "", dtype=object)
        self.amount = np.zeros(n)  # rate, burst size or slope, by fault
        self.mirror = np.full(n, np.nan)  # reversed meters: 2 × the counter at the start
        self.last = np.full(n, np.nan)  # last value written before the start
        self.spiked = np.zeros(n, bool)

    def apply(self, dev: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        v = v.copy()
        after = t >= self.start[dev]
        fk = self.kind[dev]
        before = ~after  # rows before a device's start are untouched; remember its last value
        self.last[dev[before]] = v[before]  # (time order per device: the last write wins)
        m = after & (fk == "night_flow")
        if m.any():
            d = dev[m]
            s0 = self.start[d].astype(np.int64)
            v[m] += self.amount[d] * (_night_seconds(t[m]) - _night_seconds(s0)) / 3600.0
        m = after & (fk == "spike_meter")
        v[m] += self.amount[dev[m]]
        m = after & (fk == "reversed")
        if m.any():
            d = dev[m]
            new = np.isnan(self.mirror[d])
            self.mirror[d[new]] = 2.0 * self.last[d[new]]
            v[m] = self.mirror[d] - v[m]
        m = after & (fk == "zero")
        v[m] = 0.0
        m = after & (fk == "drift")
        v[m] += self.amount[dev[m]] * (t[m] - self.start[dev[m]])
        m = np.flatnonzero(after & (fk == "spike_sensor"))
        if len(m):
            d = dev[m]
            _, first = np.unique(d, return_index=True)
            rows = m[first][~self.spiked[d[first]]]
            v[rows] += 20 * self.sim.sensor_sd[dev[rows]] + 10
            self.spiked[dev[rows]] = True
        return v


def run(sim: Simulator, bank: DetectorBank, days: float, faults: Faults | None = None):
    """Feed ``days`` of readings; returns the alarms (idx, type, ts) and the backwards rejects."""
    idx_l, type_l, ts_l, back_idx, back_ts = [], [], [], [], []
    n_read = 0
    t = START
    end = START + int(days * DAY)
    while t < end:
        t += STEP
        b = sim.until(t)
        dev = np.asarray(b.device, dtype=np.int64)
        ts = np.asarray(b.ts, dtype=np.int64)
        v = np.asarray(b.value, dtype=np.float64)
        if faults is not None and len(dev):
            v = faults.apply(dev, ts, v)
        n_read += len(dev)
        r = bank.process(dev, ts, v, now=t)
        s = bank.check_silent(t)
        for a in (r.alarms, s):
            if len(a):
                idx_l.append(a.idx)
                type_l.append(a.type.astype(np.int64))
                ts_l.append(a.ts)
        back = r.reason == RejectReason.COUNTER_BACKWARDS
        if back.any():
            back_idx.append(dev[back])
            back_ts.append(ts[back])

    def cat(x, dt=np.int64):
        return np.concatenate(x).astype(dt) if x else np.zeros(0, dt)

    return cat(idx_l), cat(type_l), cat(ts_l), cat(back_idx), cat(back_ts), n_read


def clean(n_meter: int, n_sensor: int, days: float, seed: int = 11):
    kinds, intervals, _ = make_city(n_meter, n_sensor, seed)
    sim = _sim(kinds, intervals, seed)
    bank = DetectorBank(len(kinds), _kind_ids(kinds), intervals, utc_offset_s=UTC_OFFSET)
    t0, c0 = time.perf_counter(), time.process_time()
    idx, typ, ts, bidx, _, n_read = run(sim, bank, days)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"clean city: {n_meter:,} meters + {n_sensor:,} sensors, {days:g} days, {n_read:,} readings "
        f"in {wall:.1f} s wall ({cpu:.1f} s CPU); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  readings rejected as COUNTER_BACKWARDS: {len(bidx)}")
    header = "".join(f"{t.name.lower():>9}" for t in AlarmType)
    print(
        f"  alarms per 1,000 device-days  {'kind':<12}{'devices':>8}{header}{'all':>9}"
        f"{'all, after day 1':>18}"
    )
    worst = 0.0
    per_kind = {}
    for k in (*METER_KINDS, *SENSOR_KINDS):
        mine = np.flatnonzero(kinds == k)
        dd = len(mine) * days / 1000.0
        sel = np.isin(idx, mine)
        rates = [float(((typ == int(at)) & sel).sum()) / dd for at in AlarmType]
        total = float(sel.sum()) / dd
        later = (
            float((sel & (ts >= START + DAY)).sum()) / (len(mine) * (days - 1) / 1000.0) if days > 1 else 0
        )
        worst = max(worst, total)
        per_kind[k] = (total, rates)
        cells = "".join(f"{r:>9.3f}" for r in rates)
        print(f"  {'':<30}{k:<12}{len(mine):>8}{cells}{total:>9.3f}{later:>18.3f}")
    return worst, per_kind


FAULTS = (
    # name, devices it may hit, share of those, alarm types that detect it
    ("leak", "water", 150, (AlarmType.LEAK,)),
    ("night_flow", "water", 150, (AlarmType.LEAK,)),
    ("stuck", "meter", 150, (AlarmType.STUCK, AlarmType.ZERO)),
    ("spike_meter", "meter", 150, (AlarmType.SPIKE,)),
    ("reversed", "meter", 150, ()),
    ("silence_meter", "meter", 150, (AlarmType.SILENT,)),
    ("zero", "sensor", 60, (AlarmType.STUCK, AlarmType.SPIKE, AlarmType.ANOMALY)),
    ("spike_sensor", "sensor", 60, (AlarmType.SPIKE, AlarmType.ANOMALY)),
    ("drift", "sensor", 60, (AlarmType.SPIKE, AlarmType.ANOMALY)),
    ("silence_sensor", "sensor", 60, (AlarmType.SILENT,)),
)


def faults(n_meter: int, n_sensor: int, days: float, seed: int = 23):
    kinds, intervals, meter = make_city(n_meter, n_sensor, seed)
    n = len(kinds)
    sim = _sim(kinds, intervals, seed)
    fx = Faults(n, sim)
    rng = np.random.default_rng(seed + 1)
    free = np.ones(n, bool)
    chosen = {}
    p = sim.problems
    for name, pool, count, _ in FAULTS:
        cand = np.flatnonzero(
            free & {"water": kinds == "water", "meter": meter, "sensor": ~meter}[pool]  # type: ignore[index]
        )
        d = rng.choice(cand, min(count, len(cand)), replace=False)
        free[d] = False
        start = START + DAY + STEP * rng.integers(0, 3 * DAY // STEP, len(d))
        chosen[name] = (d, start.astype(np.float64))
        if name == "leak":
            p.leak_from[d], p.leak_rate[d] = start, rng.uniform(0.01, 0.06, len(d))
        elif name == "stuck":
            p.stuck_from[d] = start
        elif name.startswith("silence"):
            p.outage_from[d], p.outage_to[d] = start, start + 12 * 3600
        else:
            fx.start[d], fx.kind[d] = start, name
            if name == "night_flow":
                fx.amount[d] = rng.uniform(0.005, 0.03, len(d))
            elif name == "spike_meter":
                fx.amount[d] = 100 * sim.mean_rate[d]
            elif name == "drift":
                fx.amount[d] = sim.sensor_sd[d] / (6 * 3600)
    bank = DetectorBank(n, _kind_ids(kinds), intervals, utc_offset_s=UTC_OFFSET)
    t0 = time.perf_counter()
    idx, typ, ts, bidx, bts, n_read = run(sim, bank, days, fx)
    print()
    print(
        f"faults: {n_meter:,} meters + {n_sensor:,} sensors, {days:g} days, {n_read:,} readings in "
        f"{time.perf_counter() - t0:.1f} s; faults start between day 1 and day 4"
    )
    print(f"  {'fault':<16}{'devices':>8}{'recall':>8}{'h to detect p50':>17}{'p90':>8}  detected by")
    recalls = {}
    for name, _, _, types in FAULTS:
        d, start = chosen[name]
        if types:
            ok = np.isin(typ, [int(x) for x in types])
            ai, at = idx[ok], ts[ok]
        else:
            ai, at = bidx, bts
        hours = np.full(len(d), np.nan)
        for j, (dev, s) in enumerate(zip(d, start, strict=True)):
            hit = at[(ai == dev) & (at >= s)]
            if len(hit):
                hours[j] = (hit.min() - s) / 3600.0
        found = ~np.isnan(hours)
        rec = float(found.mean()) if len(d) else float("nan")
        recalls[name] = rec
        p50 = f"{np.median(hours[found]):.1f}" if found.any() else "-"
        p90 = f"{np.percentile(hours[found], 90):.1f}" if found.any() else "-"
        by = ", ".join(x.name for x in types) or "COUNTER_BACKWARDS reject"
        print(f"  {name:<16}{len(d):>8}{rec:>8.3f}{p50:>17}{p90:>8}  {by}")
    return recalls


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=30_800)
    ap.add_argument("--sensors", type=int, default=400)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--fault-meters", type=int, default=3_000)
    ap.add_argument("--fault-sensors", type=int, default=400)
    ap.add_argument("--fault-days", type=float, default=10.0)
    args = ap.parse_args(argv)
    worst, per_kind = clean(args.meters, args.sensors, args.days)
    recalls = faults(args.fault_meters, args.fault_sensors, args.fault_days)
    print()
    rmin = float(np.nanmin(list(recalls.values())))
    print(f"RESULT false_alarms_per_1000_device_days_max={worst:.3f} recall_min={rmin:.3f}")
    print("RESULT " + " ".join(f"false_alarms_{k}={v[0]:.3f}" for k, v in per_kind.items()))
    print("RESULT " + " ".join(f"recall_{k}={v:.3f}" for k, v in recalls.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
