"""Benchmark the city brain's core: one reading from every device, decoded, detected, rolled up.

    python bench/bench_brain.py [--devices 3120000] [--quick] [--no-mqtt] [--shards 2]

Devices: 98.7 % meters (water/power/gas, cumulative counters, intervals 15/30/60 min) and
1.3 % sensors (noise/air/manhole/water level, every minute) — Pudong's 3.08 M meters + 40 k
sensors at the default size.  The bank is warmed with a few rounds, then ONE sweep is timed:
every device's reading arrives in Arrow IPC record batches of 100,000 in random device order
and goes through ``decode_arrow`` → code→index → ``DetectorBank.process`` (every detector) →
``check_silent`` → ``hourly_rollup`` per (hour, street, kind).

Every stage's wall and CPU time is printed (``stages wall/CPU s``), with the load average,
because the machine is shared: CPU time is this code's cost, wall time also pays for contention.

Two code→index paths are timed and both printed:
* ``premapped``: the device column is dictionary-encoded and the dictionary is the registry
  in index order (sent once per stream), so the dictionary indices ARE the bank indices;
* ``lookup``: a plain string device column per batch, looked up in ``codec.DeviceIndex``
  (vectorised 64-bit string hashes + exact comparison) — what an unprepared gateway costs.
A third sweep is the ``lookup`` path on ``--shards`` processes (default 2, one per core): the
devices are split into contiguous index ranges, each process owns one ``DetectorBank.shard`` and
receives only its own devices' Arrow batches (a gateway publishing one subject per shard), and
the partial roll-ups are merged; it is timed from "go" to the merged roll-up, all processes' CPU
summed.  ``brain_sweep_s`` in the RESULT line is this parallel ``lookup`` sweep's WALL time (the
single-process ``lookup`` sweep with ``--shards 1``); both are printed with CPU per stage.

The MQTT figures are bench/bench_mqtt.py's, end to end: QoS 1 messages of ONE reading each from 4
publisher processes (each message one PUBLISH, counted on its PUBACK) through a Mosquitto run with
deploy/mosquitto/cityloop.conf into 2 real ``cityloop brain worker --via mqtt`` processes, counted in
the engine's archive (``mqtt_lost``: acknowledged by the broker but not in the engine;
``mqtt_duplicated``: archive rows beyond the distinct (device, time) pairs); then gateway batches of
1,000 readings (``mqtt_gateway_*``).

The last line printed is exactly
``RESULT brain_sweep_s=<s> readings_per_s=<n> state_bytes_per_device=<n> baseline_ratio=<x>
json_readings_per_s=<n> mqtt_msgs_per_s=<n> mqtt_lost=<n> mqtt_duplicated=<n>
mqtt_gateway_readings_per_s=<n> mqtt_gateway_lost=<n>`` (one line).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.brain.archive.rollup import HourlyRollup  # noqa: E402
from cityloop.brain.detect.detectors import N_KINDS, DetectorBank, Kind  # noqa: E402
from cityloop.brain.ingest.codec import (  # noqa: E402
    Batch,
    DeviceIndex,
    decode_arrow,
    decode_json,
    encode_arrow,
    iter_decode_arrow,
)

T0 = 1_767_225_600 + 14 * 3600  # 2026-01-01 14:00 UTC = 22:00 in Shanghai
BATCH = 100_000
STREETS = 36  # Pudong's streets and towns


class City:
    """Simulated registry and devices (seeded)."""

    def __init__(self, n: int, seed: int = 7):
        rng = np.random.default_rng(seed)
        n_sensor = max(1, round(n * 40_000 / 3_120_000))
        n_meter = n - n_sensor
        self.n = n
        self.kind = np.concatenate(
            [
                rng.choice([Kind.WATER, Kind.POWER, Kind.GAS], n_meter, p=[0.45, 0.45, 0.10]),
                rng.choice([Kind.NOISE, Kind.AIR, Kind.MANHOLE, Kind.WATER_LEVEL], n_sensor),
            ]
        )
        self.kind = self.kind.astype(np.int8)
        self.meter = self.kind <= Kind.GAS
        self.interval = np.where(self.meter, rng.choice([900, 1800, 3600], n), 60).astype(np.int64)
        self.street = rng.integers(0, STREETS, n).astype(np.int32)
        self.cell = self.street * N_KINDS + self.kind  # one gather gives street and kind
        prefix = np.array(["W", "P", "G", "N", "A", "M", "L", "O"])
        self.codes = pa.array(
            [f"PD{p}{i:09d}" for p, i in zip(prefix[self.kind], range(n), strict=False)], pa.string()
        )
        self.counter = np.where(self.meter, rng.uniform(10, 5000, n), 0.0)
        self.level = np.select([self.kind == Kind.NOISE, self.kind == Kind.AIR], [55.0, 40.0], 1.0)
        self.rng = rng

    def readings(self, t: int):
        """One reading per device around time t (meters advance by a household-like amount)."""
        rng = self.rng
        use = rng.exponential(1.0, self.n) * (rng.random(self.n) < 0.6)
        self.counter = self.counter + np.where(
            self.meter, use * np.where(self.kind == Kind.POWER, 0.4, 0.02), 0
        )
        value = np.where(self.meter, np.round(self.counter, 3), self.level + rng.normal(0, 1, self.n))
        ts = t - rng.integers(0, 60, self.n)
        return ts.astype(np.int64), value


def sweep_payloads(city: City, ts, value, order, premapped: bool) -> list[bytes]:
    if premapped:  # one stream: the registry dictionary once, then record batches of BATCH
        b = Batch(None, ts[order], value[order], codes=order.astype(np.int32), dictionary=city.codes)
        return [encode_arrow(b, dictionary=city.codes, codes=order, chunk=BATCH)]
    out = []
    for s in range(0, len(order), BATCH):
        sl = order[s : s + BATCH]
        t = pa.table({"device": city.codes.take(pa.array(sl)), "ts": ts[sl], "value": value[sl]})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        out.append(sink.getvalue().to_pybytes())
    return out


class Clock:
    """Wall and CPU time per stage (the machine is shared: CPU time is this code's cost)."""

    def __init__(self):
        self.wall, self.cpu = {}, {}
        self._w, self._c = time.perf_counter(), time.process_time()

    def lap(self, stage: str) -> None:
        w, c = time.perf_counter(), time.process_time()
        self.wall[stage] = self.wall.get(stage, 0.0) + w - self._w
        self.cpu[stage] = self.cpu.get(stage, 0.0) + c - self._c
        self._w, self._c = w, c

    def line(self) -> str:
        return ", ".join(f"{k} {self.wall[k]:.3f}/{self.cpu[k]:.3f}" for k in self.wall)


def sweep_core(bank, index, payloads, now, premapped, cell, start=0):
    """Decode → map → detect → collect (per-batch roll-up) → silent check, for one bank (the
    whole city, or one shard of devices ``start ..``).  Returns (HourlyRollup, alarms, clock)."""
    clock = Clock()
    roll = HourlyRollup(STREETS, N_KINDS)
    n_alarms = 0
    batches = iter_decode_arrow(payloads[0]) if premapped else (decode_arrow(p) for p in payloads)
    while (b := next(batches, None)) is not None:
        clock.lap("decode")
        if premapped:
            idx = b.codes.astype(np.int64)
        else:
            idx = index.lookup(b.device_arrow())
            if start:
                idx -= start  # a device of another shard falls outside 0..n-1: UNKNOWN_DEVICE
        clock.lap("map")
        res = bank.process(idx, b.ts, b.value, now=now)
        clock.lap("detect")
        ok = res.accepted
        if ok.all():
            roll.add(b.ts // 3600, cell[idx], res.consumption)
        else:
            roll.add(b.ts[ok] // 3600, cell[idx[ok]], res.consumption[ok])
        if len(res.alarms):
            roll.add_alarms(res.alarms.ts // 3600, cell[res.alarms.idx])
        n_alarms += len(res.alarms)
        clock.lap("collect")
    clock.lap("decode")
    silent = bank.check_silent(now)
    if len(silent):
        roll.add_alarms(silent.ts // 3600, cell[silent.idx])
    clock.lap("silent")
    return roll, n_alarms + len(silent), clock


def run_sweep(city, bank, index, payloads, now, premapped):
    """Timed, one process: decode → map → detect → collect → silent check → roll-up.
    Returns (wall s, CPU s, rows, alarms, clock)."""
    t, c = time.perf_counter(), time.process_time()
    roll, n_alarms, clock = sweep_core(bank, index, payloads, now, premapped, city.cell)
    out = roll.result()
    clock.lap("rollup")
    return time.perf_counter() - t, time.process_time() - c, int(out["readings"].sum()), n_alarms, clock


def _shard_worker(conn, bank, index, payloads, now, cell, start):
    """One shard's consumer process: owns its bank, waits for "go", sweeps, sends its partial roll-up."""
    bank.state = bank.state.copy()  # private pages, as a long-running worker has (no copy-on-write faults)
    bank.sensors.state = bank.sensors.state.copy()
    conn.send("ready")
    conn.recv()
    t, c = time.perf_counter(), time.process_time()
    roll, n_alarms, clock = sweep_core(bank, index, payloads, now, False, cell, start)
    conn.send((roll, n_alarms, clock, time.perf_counter() - t, time.process_time() - c))
    conn.close()


def run_parallel(city, bank, index, ts, value, now, shards, rng):
    """The lookup sweep split into ``shards`` contiguous device ranges, one process and one
    DetectorBank per shard, each fed only its own devices' Arrow batches (as a gateway that
    publishes to a subject per shard does).  Timed from "go" to the merged roll-up.
    Returns (wall s, CPU s of all processes, rows, alarms, per-shard (wall, CPU, clock))."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    bounds = np.linspace(0, city.n, shards + 1).astype(np.int64)
    procs = []
    for k in range(shards):
        a, b = int(bounds[k]), int(bounds[k + 1])
        order = a + rng.permutation(b - a)
        payloads = sweep_payloads(city, ts, value, order, False)
        there, here = ctx.Pipe()
        proc = ctx.Process(
            target=_shard_worker, args=(here, bank.shard(a, b), index, payloads, now, city.cell[a:b], a)
        )
        proc.start()
        procs.append((proc, there))
        del payloads
    for _, conn in procs:
        conn.recv()
    t, c = time.perf_counter(), time.process_time()
    for _, conn in procs:
        conn.send("go")
    parts = [conn.recv() for _, conn in procs]
    roll = parts[0][0]
    for p in parts[1:]:
        roll.merge(p[0])
    out = roll.result()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    for proc, _ in procs:
        proc.join()
    return (
        wall,
        cpu + sum(p[4] for p in parts),
        int(out["readings"].sum()),
        sum(p[1] for p in parts),
        [(p[3], p[4], p[2]) for p in parts],
    )


def river_baseline(city: City, sample: int) -> float:
    """Per-reading Python with one River detector per device: readings/s.

    Per reading: code lookup, the same reject checks, rate from the counter delta, River's
    GaussianScorer (score, then learn) and a River EWMean of the rate — a fair, lighter
    stand-in for the bank's detectors."""
    from river import anomaly, stats

    rng = np.random.default_rng(1)
    devs = rng.choice(city.n, min(sample // 5, city.n), replace=False)
    codes = city.codes.take(pa.array(devs)).to_pylist()
    registry = {c: i for c, i in zip(codes, devs.tolist(), strict=False)}
    state = {}
    for c in codes:  # warm: each device has a detector and a last reading
        state[c] = [anomaly.GaussianScorer(grace_period=3), T0 - 7200, 0.0, stats.EWMean(0.02)]
    per = sample // len(codes)
    rows = [(c, T0 + k * 900, 1.0 + k * 0.01) for k in range(per) for c in codes]
    t = time.perf_counter()
    alarms = 0
    for code, ts, v in rows:
        i = registry.get(code)
        if i is None or v != v:
            continue
        st = state[code]
        if ts <= st[1] or (city.meter[i] and v < st[2]):
            continue
        x = (v - st[2]) * 3600.0 / (ts - st[1]) if city.meter[i] else v
        det = st[0]
        if det.score_one(None, x) > 0.999:  # spike / anomaly against the device's own Gaussian
            alarms += 1
        det.learn_one(None, x)
        st[3].update(x)  # the slow consumption average (stuck / leak baseline)
        st[1], st[2] = ts, v
    return len(rows) / (time.perf_counter() - t)


def json_rate(city: City, bank: DetectorBank, index: DeviceIndex, n_readings: int, now: int) -> float:
    rng = np.random.default_rng(3)
    payloads = []
    ts, value = city.readings(now)
    for _ in range(max(1, n_readings // BATCH)):
        sl = rng.choice(city.n, BATCH, replace=False)
        payloads.append(
            orjson.dumps(
                {
                    "d": city.codes.take(pa.array(sl)).to_pylist(),
                    "t": ts[sl].tolist(),
                    "v": value[sl].tolist(),
                }
            )
        )
    t, c = time.perf_counter(), time.process_time()
    rows = 0
    for p in payloads:
        b = decode_json(p)
        res = bank.process(index.lookup(b.device_arrow()), b.ts, b.value, now=now)
        rows += len(res.accepted)
    return rows / (time.perf_counter() - t), rows / (time.process_time() - c)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=3_120_000)
    ap.add_argument("--quick", action="store_true", help="a small run (200,000 devices, short MQTT test)")
    ap.add_argument("--warm", type=int, default=3, help="warm-up rounds before the timed sweep")
    ap.add_argument("--no-mqtt", action="store_true")
    ap.add_argument("--baseline-sample", type=int, default=20_000)
    ap.add_argument("--shards", type=int, default=2, help="processes of the parallel sweep (one per core)")
    args = ap.parse_args()
    n = 200_000 if args.quick else args.devices
    pa.set_cpu_count(1)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"numpy {np.__version__}, pyarrow {pa.__version__}"
    )
    t = time.perf_counter()
    city = City(n)
    index = DeviceIndex(city.codes)
    print(
        f"setup: {n:,} devices ({int(city.meter.sum()):,} meters, {int((~city.meter).sum()):,} sensors), "
        f"registry index built in {time.perf_counter() - t:.1f} s"
    )
    bank = DetectorBank(n, city.kind, city.interval)
    rng = np.random.default_rng(11)
    for r in range(args.warm):
        now = T0 - (args.warm - r) * 3600
        ts, value = city.readings(now)
        for s in range(0, n, BATCH):
            sl = np.arange(s, min(n, s + BATCH))
            bank.process(sl, ts[sl], value[sl], now=now)
    state_bytes = bank.state_nbytes()
    state_bpd = state_bytes / n

    results, cpus = {}, {}
    for k, mode in enumerate(("premapped", "lookup")):
        now = T0 + k * 3600
        ts, value = city.readings(now)
        order = rng.permutation(n)
        payloads = sweep_payloads(city, ts, value, order, mode == "premapped")
        load0 = os.getloadavg()[0]
        secs, cpu, rows, n_alarms, clock = run_sweep(city, bank, index, payloads, now, mode == "premapped")
        results[mode] = secs
        cpus[mode] = cpu
        print(
            f"sweep[{mode}]: {rows:,} readings in {secs:.3f} s wall ({cpu:.3f} s CPU) = {rows / secs:,.0f} "
            "readings/s "
            f"wall, {rows / cpu:,.0f} per CPU second; {sum(map(len, payloads)) / 1e6:.0f} MB of Arrow IPC; "
            f"{n_alarms} alarms; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        print(f"  stages wall/CPU s: {clock.line()}")
        if rows != n:
            raise SystemExit(f"sweep[{mode}] accepted {rows} of {n} readings")
    now = T0 + 2 * 3600
    ts, value = city.readings(now)
    load0 = os.getloadavg()[0]
    secs, cpu, rows, n_alarms, per = run_parallel(city, bank, index, ts, value, now, args.shards, rng)
    print(
        f"sweep[lookup, {args.shards} shard processes]: {rows:,} readings in {secs:.3f} s wall ({cpu:.3f} s "
        "CPU, all "
        f"processes) = {rows / secs:,.0f} readings/s wall; {n_alarms} alarms; load average {load0:.1f} -> "
        f"{os.getloadavg()[0]:.1f}"
    )
    for k, (w, c, clock) in enumerate(per):
        print(f"  shard {k}: {w:.3f} s wall, {c:.3f} s CPU; stages wall/CPU s: {clock.line()}")
    if rows != n:
        raise SystemExit(f"sweep[parallel] accepted {rows} of {n} readings")
    results["parallel"], cpus["parallel"] = secs, cpu
    sweep = results["parallel"] if args.shards > 1 else results["lookup"]
    print(
        f"sweep summary: lookup on 1 core {results['lookup']:.3f} s wall / {cpus['lookup']:.3f} s CPU; "
        f"lookup on {args.shards} shard processes {secs:.3f} s wall / {cpu:.3f} s CPU; "
        f"premapped on 1 core {results['premapped']:.3f} s wall / {cpus['premapped']:.3f} s CPU"
    )
    rps = n / sweep

    base = river_baseline(city, args.baseline_sample)
    print(
        f"baseline: River GaussianScorer per device, per-reading Python: {base:,.0f} readings/s "
        f"({args.baseline_sample:,}-reading sample) -> a full sweep would take {n / base:.1f} s"
    )
    jrate, jcpu = json_rate(city, bank, index, 200_000 if args.quick else 1_000_000, T0 + 3 * 3600)
    print(
        f"json: compact columnar payloads of {BATCH:,}: decode_json + DeviceIndex.lookup + process = "
        f"{jrate:,.0f} readings/s wall, {jcpu:,.0f} per CPU second"
    )
    mqtt: dict = {}
    if args.no_mqtt:
        print("mqtt: skipped (--no-mqtt)")
    else:
        from bench_mqtt import run as mqtt_run  # noqa: E402 - a sibling module of this script

        del bank  # the workers need the memory more than this process does now
        mqtt = mqtt_run(
            messages=20_000 if args.quick else 200_000,
            devices=5_000 if args.quick else 20_000,
            batches=200 if args.quick else 2_000,
        )
        if "skipped" in mqtt:
            print(f"mqtt: skipped ({mqtt['skipped']})")
            mqtt = {}
    print(f"state: {state_bytes:,} bytes = {state_bpd:.1f} bytes/device")
    print(
        f"RESULT brain_sweep_s={sweep:.3f} readings_per_s={rps:.0f} state_bytes_per_device={state_bpd:.1f} "
        f"baseline_ratio={rps / base:.1f} json_readings_per_s={jrate:.0f} "
        f"mqtt_msgs_per_s={mqtt.get('mqtt_msgs_per_s', 0):.0f} mqtt_lost={mqtt.get('mqtt_lost', 'na')} "
        f"mqtt_duplicated={mqtt.get('mqtt_duplicated', 'na')} "
        f"mqtt_gateway_readings_per_s={mqtt.get('mqtt_gateway_readings_per_s', 0):.0f} "
        f"mqtt_gateway_lost={mqtt.get('mqtt_gateway_lost', 'na')}"
    )


if __name__ == "__main__":
    main()
