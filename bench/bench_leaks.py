"""Leak detection measured on BattLeDIM leak flows added to simulated households.

    python bench/bench_leaks.py [--data ../shared/data/battledim] [--scale 300] [--seed 0]

Scenarios (all seeded):
* leak households — for each BattLeDIM 2019 leak that starts inside the 2019 data (19 of 23;
  the four that began in 2018 have no observable start), the pipe's 5-minute outflow
  (m³/h) divided by ``--scale`` (default 300: one household's share of a street main's
  leak — 3–10 m³/h becomes 10–33 L/h, a running toilet or a leaking service pipe) is added
  to a simulated household, once per meter interval (15, 30 and 60 min): 57 households;
* as many households without a leak: half with a day-time profile, half night-shift
  workers whose use falls in the night window, plus rare night-time toilet flushes for all.

Households: a diurnal profile (m³/h by hour, peaks morning and evening) times a
household size factor, exponential draw sizes, 70 % of intervals with use; meters read a
cumulative counter with 1-litre resolution every 15/30/60 minutes.  Each runs from four
weeks before the leak start to the leak's end or 60 days after its start.
All households go through one ``DetectorBank`` in day-sized batches.

A leak household counts as detected (TP) if a LEAK alarm comes at or after the leak start;
a LEAK alarm on a no-leak household, or before the start, is a false positive.  Hours are
from the leak start in ``leak_info_2019.csv`` to the alarm.
The last line is exactly ``RESULT leak_precision=<x> leak_recall=<x> leak_detect_hours_median=<x>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.brain.detect.detectors import AlarmType, DetectorBank, Kind  # noqa: E402

UTC_OFFSET = 8 * 3600  # the BattLeDIM clock is read as local time of a UTC+8 city
PROFILE = np.array(
    [
        0,
        0,
        0,
        0,
        0,
        0.01,
        0.05,
        0.08,
        0.04,
        0.02,
        0.02,
        0.03,
        0.04,
        0.02,
        0.02,
        0.02,
        0.03,
        0.05,
        0.07,
        0.06,
        0.05,
        0.04,
        0.02,
        0.01,
    ]
)
NIGHT_SHIFT = np.roll(PROFILE, 8)  # active from 22:00 to 05:00
INTERVALS = (900, 1800, 3600)


def read_flows(data: Path):
    """(local epoch seconds of 5-minute steps, {pipe: flow m3/h}) from the gzipped CSV."""
    import gzip

    with gzip.open(data / "leak_flows_2019_m3h.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
        raw = np.loadtxt(fh, delimiter=",", dtype=str)
    ts = raw[:, 0].astype("datetime64[s]").astype(np.int64)
    flows = {p: raw[:, j + 1].astype(float) for j, p in enumerate(header[1:])}
    return ts, flows


def read_info(data: Path):
    rows = []
    lines = (data / "leak_info_2019.csv").read_text().strip().splitlines()[1:]
    for line in lines:
        f = [x.strip() for x in line.split(",")]
        start, end = (
            np.datetime64(f[4]).astype("datetime64[s]").astype(np.int64),
            np.datetime64(f[5]).astype("datetime64[s]").astype(np.int64),
        )
        rows.append((f[0], f[3], start, end))
    return rows


def household(rng, t_from, t_to, interval, profile, leak_ts=None, leak_flow=None):
    """Local timestamps and the 1-litre counter of one household's meter."""
    ts = np.arange(t_from - t_from % interval + interval, t_to, interval)
    hours = (ts // 3600) % 24
    size = rng.uniform(0.5, 2.0)
    use = (
        profile[hours] * size * rng.exponential(1.0, len(ts)) * (rng.random(len(ts)) < 0.7) * interval / 3600
    )
    use += (rng.random(len(ts)) < 0.02 * interval / 900) * 0.006  # a night flush now and then, any hour
    if leak_ts is not None:
        step = np.interp(ts - interval / 2, leak_ts, leak_flow)  # m3/h over the interval
        use += step * interval / 3600
    counter = np.floor((rng.uniform(10, 900) + np.cumsum(use)) * 1000) / 1000
    return ts, counter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "battledim")
    ap.add_argument("--scale", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    flow_ts, flows = read_flows(args.data)
    leaks = [(p, kind, s, e) for p, kind, s, e in read_info(args.data) if s >= flow_ts[0]]

    devices = []  # (label, leak start or None, pipe, interval, ts_utc, counter)
    for p, kind, start, end in leaks:
        t_from, t_to = start - 28 * 86400, min(end, start + 60 * 86400)
        for interval in INTERVALS:
            ts, c = household(rng, t_from, t_to, interval, PROFILE, flow_ts, flows[p] / args.scale)
            devices.append(("leak", start, f"{p} ({kind.strip()})", interval, ts - UTC_OFFSET, c))
            night = sum(d[0] != "leak" for d in devices) % 2 == 1
            ts, c = household(rng, t_from, t_to, interval, NIGHT_SHIFT if night else PROFILE)
            devices.append(("night-shift" if night else "normal", None, "", interval, ts - UTC_OFFSET, c))
    n = len(devices)
    idx = np.concatenate([np.full(len(d[4]), i) for i, d in enumerate(devices)])
    ts = np.concatenate([d[4] for d in devices])
    value = np.concatenate([d[5] for d in devices])
    order = np.argsort(ts, kind="stable")
    idx, ts, value = idx[order], ts[order], value[order]
    bank = DetectorBank(n, Kind.WATER, np.array([d[3] for d in devices]), utc_offset_s=UTC_OFFSET)
    first_leak = {}
    day = ts // 86400
    cuts = np.flatnonzero(np.diff(day)) + 1
    spikes = 0
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(ts)], strict=False):
        r = bank.process(idx[a:b], ts[a:b], value[a:b], now=int(ts[b - 1]))
        al = r.alarms
        for i, typ, at in zip(al.idx.tolist(), al.type.tolist(), al.ts.tolist(), strict=False):
            if typ == AlarmType.LEAK:
                first_leak.setdefault(i, []).append(at)
            elif typ == AlarmType.SPIKE:
                spikes += 1
    tp, fp_alarms, hours = 0, 0, []
    per_pipe = []
    for i, (label, start, pipe, interval, _, _) in enumerate(devices):
        alarms = first_leak.get(i, [])
        if label != "leak":
            fp_alarms += len(alarms)
            continue
        start_utc = start - UTC_OFFSET
        early = [a for a in alarms if a < start_utc]
        late = [a for a in alarms if a >= start_utc]
        fp_alarms += len(early)
        if late:
            tp += 1
            hours.append((late[0] - start_utc) / 3600)
        per_pipe.append((pipe, interval, (late[0] - start_utc) / 3600 if late else None))
    n_leak = sum(1 for d in devices if d[0] == "leak")
    precision = tp / (tp + fp_alarms) if tp + fp_alarms else 0.0
    recall = tp / n_leak
    med = float(np.median(hours)) if hours else float("nan")
    p90 = float(np.percentile(hours, 90)) if hours else float("nan")
    print(
        f"households: {n_leak} with a BattLeDIM leak (flow / {args.scale:g}), {n - n_leak} without "
        f"({sum(d[0] == 'night-shift' for d in devices)} night-shift); {len(ts):,} readings; "
        f"{time.perf_counter() - t:.1f} s"
    )
    for pipe, interval, h in per_pipe:
        print(
            f"  {pipe:<20} every {interval // 60:>2} min: "
            + (f"detected after {h:7.1f} h" if h is not None else "not detected")
        )
    print(
        f"true positives {tp}, false-positive leak alarms {fp_alarms}, spike alarms (all households) {spikes}"
    )
    print(f"hours from leak start to alarm: median {med:.1f}, p90 {p90:.1f}")
    print(
        f"RESULT leak_precision={precision:.3f} leak_recall={recall:.3f} leak_detect_hours_median={med:.1f}"
    )


if __name__ == "__main__":
    main()
