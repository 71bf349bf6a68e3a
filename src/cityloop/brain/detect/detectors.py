"""Per-device detectors for millions of meters and sensors (numpy only, no Django).

All state lives in ONE structured array of 64-byte records indexed by device
(:data:`STATE_DTYPE`): a batch gathers the records of its devices once
(``take``), every detector works on those columns, and the records are written
back once (``put``).  One cache line per device per reading is what the random
access costs; separate arrays per field would cost one miss per field.
Sensors additionally carry the general :class:`~cityloop.brain.detect.streaming.StreamingDetector`
(80 bytes per sensor, kept in its own arrays; sensors are ~1 % of devices).

Every device also remembers the timestamps of its last :data:`SEEN_K` accepted readings and the
newest timestamp it has forgotten (:attr:`DetectorBank.seen`, one 24-byte record, outside
the hot record).  That is what tells a reading that arrives late — after a newer one, as happens when
several workers share a device topic, or a killed worker's messages are delivered again — from one
delivered twice: a late reading never seen is accepted (archived and counted, not fed to the
detectors, whose state has moved on), the same (device, timestamp) again is ``DUPLICATE_OR_OLD``.
When the answer is older than what the device remembers, the caller's ``seen`` function (the
engine's archive) decides.

Detectors (each raises an alarm once per onset; a flag bit suppresses repeats
until the condition clears):

* LEAK — water meters: the minimum flow over the night window (01:00–05:00 local,
  only reading intervals wholly inside it) stays above ``leak_min_rate`` for
  ``leak_nights`` consecutive nights and is steady (a leak runs at a steady rate,
  night-time use comes and goes).  Evidence: the last four nights' minima.
* STUCK — counter (or sensor value) unchanged for ``stuck_s`` while the device's
  own slow average rate says consumption was expected.
* ZERO — a meter with no consumption for ``zero_s`` (and not already STUCK).
* SPIKE — rate (meters) or value (sensors) beyond ``spike_k`` robust scales from the
  device's winsorised EWMA median/absolute-deviation baseline.
* SILENT — :meth:`DetectorBank.check_silent`: no reading for ``silent_k`` × interval.
* ANOMALY — sensors: the streaming detector's score ≥ ``anomaly_on``; and a drift: the level's
  short average (time-weighted EWMA, ``drift_tau_s``) has moved more than ``drift_k`` of the
  sensor's own noise scales from its usual course for that time of day (24 hourly means, each an
  EWMA over days), which no single reading shows.  Sensor-only state (:attr:`DetectorBank.drift`,
  :attr:`DetectorBank.drift_prof`, 136 bytes per sensor), kept outside the 64-byte record.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import IntEnum

import numpy as np

from .streaming import STATE_FIELDS, StreamingDetector


class Kind(IntEnum):
    WATER = 0
    POWER = 1
    GAS = 2
    NOISE = 3
    AIR = 4
    MANHOLE = 5
    WATER_LEVEL = 6
    OTHER = 7

    @classmethod
    def from_name(cls, name: str) -> Kind:
        try:
            return cls[name.strip().upper().replace(" ", "_").replace("-", "_")]
        except KeyError:
            raise ValueError(
                f"kind: unknown kind {name!r}; one of {', '.join(k.name.lower() for k in cls)}"
            ) from None


METER_KINDS = (Kind.WATER, Kind.POWER, Kind.GAS)  # cumulative counters
_N_METER_KINDS = 3  # the meter kinds are exactly 0 .. 2, so `kind < 3` tells a meter
if tuple(int(k) for k in METER_KINDS) != tuple(range(_N_METER_KINDS)):
    raise ImportError("brain.detectors: the meter kinds must be exactly 0 .. 2")
N_KINDS = len(Kind)


class AlarmType(IntEnum):
    LEAK = 1
    STUCK = 2
    ZERO = 3
    SPIKE = 4
    SILENT = 5
    ANOMALY = 6


class RejectReason(IntEnum):
    UNKNOWN_DEVICE = 1
    NOT_NUMERIC = 2
    FUTURE_TIMESTAMP = 3
    COUNTER_BACKWARDS = 4
    DUPLICATE_OR_OLD = 5


def _bit(t: AlarmType) -> int:
    return 1 << (int(t) - 1)


STATE_DTYPE = np.dtype(
    [
        ("last_value", "f8"),  # last accepted value (counters need float64)
        ("last_ts", "u4"),  # epoch seconds of the last accepted reading (0 = never)
        ("since_ts", "u4"),  # when the value last changed (stuck/zero)
        ("interval", "i4"),  # expected reporting interval, seconds
        ("med", "f4"),
        ("mad", "f4"),  # robust baseline of rate/value
        ("rate", "f4"),  # slow time-weighted EWMA of the rate (consumption expected?)
        ("night_min", "f4"),  # minimum flow of the open night window (NaN: none open)
        ("slot", "i4"),  # row in the sensors' streaming detector, -1 for meters
        ("night_hist", "f4", (4,)),  # minima of the last four closed nights (evidence)
        ("night_day", "u2"),  # local day number of the open night
        ("stamp", "u2"),  # scratch: batch position, proves one reading per device per round
        ("n", "u1"),  # accepted readings, saturating at 255 (only warm-up needs it)
        ("kind", "u1"),
        ("flags", "u1"),
        ("leak_nights", "u1"),
    ],
    align=True,
)
if STATE_DTYPE.itemsize != 64:  # one cache line per device
    raise ImportError("brain.detectors: STATE_DTYPE must be 64 bytes")


def _per_kind(meter, sensor, **over) -> tuple:
    v = [meter if k in METER_KINDS else sensor for k in Kind]
    for name, x in over.items():
        v[Kind[name]] = x
    return tuple(v)


@dataclass
class Params:
    """Detector settings; tuples are per :class:`Kind` (index = kind value)."""

    future_s: int = 300  # readings further ahead of `now` are FUTURE_TIMESTAMP
    late_s: int = 7 * 86400  # a reading this much older than the device's newest is DUPLICATE_OR_OLD
    night_start_s: int = 1 * 3600
    night_end_s: int = 5 * 3600
    leak_min_rate: tuple = _per_kind(np.inf, np.inf, WATER=0.0015)  # units/h; inf disables
    leak_nights: int = 3
    leak_steady: float = 0.2  # min/max of the qualifying nights' minima
    stuck_s: tuple = _per_kind(48 * 3600, 6 * 3600)
    stuck_expect: tuple = _per_kind(0.1, 0.0, POWER=2.0, GAS=0.2)  # units expected over the unchanged time
    zero_s: tuple = _per_kind(7 * 86400, 0)  # 0 disables
    rate_tau_s: float = 7 * 86400.0
    spike_k: tuple = _per_kind(25.0, 12.0, POWER=30.0)
    spike_floor: tuple = _per_kind(0.05, 0.5, POWER=0.3, GAS=0.2)  # absolute scale floor
    spike_floor_rel: float = 0.02  # ... and relative to the median
    spike_warmup: int = 24
    baseline_alpha: float = 0.02
    baseline_clip: float = 3.0
    silent_k: float = 3.0
    anomaly_on: float = 0.9
    # drift (sensors): noise scales between the short average and the usual level at that time of day.
    # make bench-alarms: a +1 sd per 6 h ramp is found within about 10 h; no alarm on the clean city.
    drift_k: tuple = _per_kind(np.inf, 1.5)  # inf disables (meters: their rate has its own detectors)
    drift_tau_s: float = 3600.0  # the short average's time constant
    drift_day_alpha: float = 0.2  # weight of a new day in each hourly mean of the usual course
    drift_floor: float = 0.01  # smallest noise scale (units; sensors report two decimals)
    drift_warmup: int = 120  # residuals before the noise scale is trusted
    anomaly_off: float = 0.5
    # StreamingDetector keyword arguments for the city's sensors. Without the "new range" term: on plain
    # sensor noise every new extreme scored above the alarm threshold, 27-57 false alarms per 1,000
    # device-days (make bench-alarms); without it, none, with spike and zero recall unchanged. (NAB's
    # run keeps the detector's own defaults, where the term helps on NAB's series.)
    streaming: dict = field(default_factory=lambda: {"w_range": 0.0})

    def table(self, name: str, dtype=np.float64) -> np.ndarray:
        return np.asarray(getattr(self, name), dtype=dtype)


@dataclass
class Alarms:
    """Alarms raised; ``ev`` holds up to five evidence numbers per alarm (see :meth:`evidence`)."""

    idx: np.ndarray
    type: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    score: np.ndarray
    ev: np.ndarray

    @classmethod
    def empty(cls) -> Alarms:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0, np.float32),
            np.zeros((0, 5)),
        )

    @classmethod
    def concat(cls, parts: list[Alarms]) -> Alarms:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("idx", "type", "ts", "value", "score", "ev")
            )
        )

    def __len__(self) -> int:
        return len(self.idx)

    def evidence(self, i: int) -> dict:
        t, e = AlarmType(int(self.type[i])), self.ev[i]
        base = {
            "type": t.name.lower(),
            "device": int(self.idx[i]),
            "ts": int(self.ts[i]),
            "value": float(self.value[i]),
        }
        if t is AlarmType.LEAK:
            nights = [round(float(x), 6) for x in e[:4] if x == x]
            return base | {
                "night_min_flows_per_h": nights,
                "threshold_per_h": float(e[4]),
                "rule": "minimum night flow above threshold on consecutive nights",
            }
        if t is AlarmType.SPIKE:
            spike = {"baseline_median": float(e[0]), "baseline_mad": float(e[1]), "threshold": float(e[2])}
            if e[3] == e[3]:  # alarms of an older state file carry no k
                spike |= {"k": float(e[3]), "scale": float(e[4])}
            return base | spike
        if t in (AlarmType.STUCK, AlarmType.ZERO):
            return base | {
                "unchanged_value": float(e[0]),
                "unchanged_since": int(e[1]),
                "hours": round(float(e[2]), 2),
                "expected_rate_per_h": float(e[3]),
            }
        if t is AlarmType.SILENT:
            return base | {
                "last_reading_ts": int(e[0]),
                "expected_interval_s": int(e[1]),
                "missing_readings": int(e[2]),
            }
        if e[0] == e[0]:  # a drift: the level moved away from its usual course
            return base | {
                "anomaly_score": float(self.score[i]),
                "drift_usual_level": float(e[0]),
                "drift_level": float(e[1]),
                "drift_scales": float(e[2]),
                "k": float(e[3]),
                "scale": float(e[4]),
                "rule": "short average away from the usual level for the time of day",
            }
        return base | {"anomaly_score": float(self.score[i])}


def _alarms(idx, atype, ts, value, score, ev) -> Alarms:
    m = len(idx)
    return Alarms(
        np.asarray(idx, np.int64),
        np.full(m, int(atype), np.int8),
        np.asarray(ts, np.int64),
        np.asarray(value, np.float64),
        np.broadcast_to(np.asarray(score, np.float32), (m,)).copy(),
        np.asarray(ev, np.float64).reshape(m, 5),
    )


@dataclass
class Result:
    accepted: np.ndarray  # bool per input row
    reason: np.ndarray  # int8 per input row: 0 accepted, else RejectReason
    consumption: (
        np.ndarray
    )  # float64 per input row (counter delta for meters, value for sensors; 0 if rejected)
    alarms: Alarms
    cleared: Alarms  # conditions that ended (type, device, ts): used to verify a fix

    def rejected_rows(self) -> np.ndarray:
        return np.flatnonzero(~self.accepted)


_LEAK, _STUCK, _ZERO, _SPIKE, _SILENT, _ANOM = (_bit(t) for t in AlarmType)
_DRIFT = 1 << 6  # a drift is raised as ANOMALY; its own bit keeps its onset apart from the score's
# per-sensor drift rows: hour sum, hour count, open hour (-1 none), short average of the residual,
# mean absolute residual, last reading ts, residuals seen
_D_ACC, _D_CNT, _D_BIN, _D_LVL, _D_ABS, _D_TS, _D_N = range(7)
DRIFT_FIELDS = 7
_NAN5 = np.full(5, np.nan)
_KEEP_SILENT = np.uint8(0xFF & ~_SILENT)
_KEEP_STUCK_ZERO = np.uint8(0xFF & ~(_STUCK | _ZERO))
_CHUNK = 65535  # rows per gather: the uint16 stamp must tell every position apart
SEEN_K = 4  # accepted timestamps each device remembers (to tell a late reading from a repeated one)
SEEN_DTYPE = np.dtype(
    [
        ("ts", "u4", (SEEN_K,)),  # ring of the last accepted timestamps
        ("floor", "u4"),  # the newest timestamp pushed out of the ring
        ("pos", "u1"),  # next ring slot (wraps; 256 is a multiple of SEEN_K)
    ],
    align=True,
)


class DetectorBank:
    """Detector state of ``n`` devices; see the module docstring."""

    def __init__(
        self, n: int, kind, interval_s, *, utc_offset_s: int = 8 * 3600, params: Params | None = None
    ):
        self.params = params or Params()
        self.utc_offset_s = int(utc_offset_s)
        self.state = np.zeros(0, STATE_DTYPE)
        self.sensors = StreamingDetector(0, **self.params.streaming)
        self.sensor_dev = np.zeros(0, np.int64)  # device of each sensor slot
        self.drift = np.zeros((DRIFT_FIELDS, 0))  # per sensor slot (see _D_*)
        self.drift_prof = np.zeros((0, 24), np.float32)  # per sensor slot: usual level per local hour
        self.seen = np.zeros(0, SEEN_DTYPE)  # per device: the ring of its last accepted timestamps
        self._silent_due = -np.inf  # no device can be silent before this time (see check_silent)
        self._min_int = (-1, 1)  # (bank size, shortest expected interval)
        self._tables()
        self.grow(n, kind, interval_s)

    # ------------------------------------------------------------ setup
    def retune(self, params: Params) -> None:
        """Use ``params`` from now on (the city's tuning per device kind); the state stays. The
        sensors' streaming detector keeps its own settings: they are not tunable per kind."""
        self.params = replace(params, streaming=self.params.streaming)
        self._tables()

    def _tables(self) -> None:
        p = self.params
        self._is_meter = np.array([k in METER_KINDS for k in Kind])
        self._leak_rate = p.table("leak_min_rate")
        self._stuck_s, self._stuck_expect = p.table("stuck_s"), p.table("stuck_expect")
        self._zero_s = p.table("zero_s")
        self._spike_k, self._spike_floor = p.table("spike_k"), p.table("spike_floor")
        self._drift_k = p.table("drift_k")
        self._spike_warm = p.spike_warmup + self._is_meter.astype(np.int64)
        self._leaky = np.isfinite(self._leak_rate) & self._is_meter
        enabled = np.concatenate([self._stuck_s[self._stuck_s > 0], self._zero_s[self._zero_s > 0]])
        self._min_quiet_s = int(enabled.min()) if len(enabled) else 1 << 62
        # EWMA weight by readings seen: plain mean while young, then the fixed alpha
        self._alpha = np.maximum(p.baseline_alpha, 1.0 / np.arange(1, 257))

    @property
    def n(self) -> int:
        return len(self.state)

    def grow(self, n_total: int, kind, interval_s) -> None:
        """Add devices ``n .. n_total-1``; ``kind``/``interval_s`` cover the new devices
        (or all ``n_total``, of which the new tail is used), or are scalars."""
        old, new = self.n, int(n_total) - self.n
        if new < 0:
            raise ValueError(f"n_total: the bank already holds {old} devices")
        kind = (
            np.broadcast_to(np.asarray(kind, np.int64), (new,))
            if np.ndim(kind) == 0
            else np.asarray(kind, np.int64)
        )
        interval_s = (
            np.broadcast_to(np.asarray(interval_s, np.int64), (new,))
            if np.ndim(interval_s) == 0
            else np.asarray(interval_s, np.int64)
        )
        kind, interval_s = kind[len(kind) - new :], interval_s[len(interval_s) - new :]
        if len(kind) != new or len(interval_s) != new:
            raise ValueError(f"kind/interval_s: expected {new} values for the new devices")
        if new and (kind.min() < 0 or kind.max() >= N_KINDS):
            raise ValueError(f"kind: values must be Kind members 0..{N_KINDS - 1}")
        if new and interval_s.min() <= 0:
            raise ValueError("interval_s: the expected reporting interval must be positive")
        add = np.zeros(new, STATE_DTYPE)
        add["kind"], add["interval"] = kind, interval_s
        add["night_min"], add["night_hist"], add["slot"] = np.nan, np.nan, -1
        sensor = ~self._is_meter[kind]
        ns_old = self.sensors.n_series
        add["slot"][sensor] = ns_old + np.arange(int(sensor.sum()))
        self.state = np.concatenate([self.state, add])
        self.seen = np.concatenate([self.seen, np.zeros(new, SEEN_DTYPE)])
        self.sensor_dev = np.concatenate([self.sensor_dev, old + np.flatnonzero(sensor)])
        self.sensors.state = np.concatenate(
            [self.sensors.state, np.zeros((STATE_FIELDS, int(sensor.sum())))], axis=1
        )
        self.sensors.n_series = len(self.sensor_dev)
        ns = int(sensor.sum())
        self.drift = np.concatenate([self.drift, self._fresh_drift(ns)], axis=1)
        self.drift_prof = np.concatenate([self.drift_prof, np.full((ns, 24), np.nan, np.float32)])

    @staticmethod
    def _fresh_drift(n: int) -> np.ndarray:
        d = np.zeros((DRIFT_FIELDS, n))
        d[_D_BIN] = -1
        return d

    def reset(self, idx) -> None:
        """Forget the history of replaced devices (a new meter starts a new counter)."""
        idx = np.asarray(idx, np.int64)
        g = self.state[idx]
        fresh = np.zeros(len(idx), STATE_DTYPE)
        for f in ("kind", "interval", "slot"):
            fresh[f] = g[f]
        fresh["night_min"], fresh["night_hist"] = np.nan, np.nan
        self.state[idx] = fresh
        self.seen[idx] = np.zeros(len(idx), SEEN_DTYPE)
        s = g["slot"][g["slot"] >= 0]
        self.sensors.state[:, s] = 0.0
        self.drift[:, s] = self._fresh_drift(len(s))
        self.drift_prof[s] = np.nan

    def shard(self, start: int, stop: int) -> DetectorBank:
        """A new bank holding devices ``start .. stop-1`` (re-indexed from 0) and a copy of their
        state: one shard of a bank split by contiguous device ranges across workers.  Feeding a
        shard the readings of its devices (index minus ``start``) gives the same state, results
        and alarms as feeding the whole bank."""
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.n:
            raise ValueError(f"start/stop: need 0 <= start <= stop <= {self.n}")
        part = DetectorBank(0, np.zeros(0), np.zeros(0), utc_offset_s=self.utc_offset_s, params=self.params)
        state = self.state[start:stop].copy()
        slots = np.flatnonzero((self.sensor_dev >= start) & (self.sensor_dev < stop))
        remap = np.full(len(self.sensor_dev), -1, np.int32)
        remap[slots] = np.arange(len(slots), dtype=np.int32)
        own = state["slot"] >= 0
        state["slot"][own] = remap[state["slot"][own]]
        part.state = state
        part.seen = self.seen[start:stop].copy()
        part.sensors.state = self.sensors.state[:, slots].copy()
        part.sensor_dev = self.sensor_dev[slots] - start
        part.sensors.n_series = len(slots)
        part.drift = self.drift[:, slots].copy()
        part.drift_prof = self.drift_prof[slots].copy()
        part._silent_due = self._silent_due
        return part

    # ------------------------------------------------------------ ingest
    def process(self, idx, ts, value, *, now: int, seen=None) -> Result:
        """Check and absorb one batch.  ``seen(idx, ts) -> bool array`` answers, for late readings older
        than what their devices remember, whether that (device, timestamp) was accepted before (the
        engine asks its archive); without it such a reading is taken for a repeat."""
        idx = np.asarray(idx, np.int64)
        ts = np.asarray(ts, np.int64)
        value = np.asarray(value, np.float64)
        m = len(idx)
        if len(ts) != m or len(value) != m:
            raise ValueError("idx/ts/value: arrays must have the same length")
        reason = np.zeros(m, np.int8)
        unknown = (idx < 0) | (idx >= self.n)
        bad_v = ~np.isfinite(value)
        future = ts > int(now) + self.params.future_s
        if unknown.any() or bad_v.any() or future.any():
            reason[future] = RejectReason.FUTURE_TIMESTAMP
            reason[bad_v] = RejectReason.NOT_NUMERIC
            reason[unknown] = RejectReason.UNKNOWN_DEVICE
            rows = np.flatnonzero(reason == 0)
        else:
            rows = None
        consumption = np.zeros(m)
        alarms: list[Alarms] = []
        cleared: list[Alarms] = []
        ctx = (idx, ts, value, reason, consumption, alarms, cleared)
        n_rows = m if rows is None else len(rows)
        for a in range(0, n_rows, _CHUNK):
            part = slice(a, a + _CHUNK) if rows is None else rows[a : a + _CHUNK]
            self._chunk(part, ctx)
        self._late(ctx, seen)
        return Result(reason == 0, reason, consumption, Alarms.concat(alarms), Alarms.concat(cleared))

    def _chunk(self, rows, ctx) -> None:
        """Gather the records of a chunk; when a device occurs twice, split into rounds."""
        idx, ts = ctx[0], ctx[1]
        ix = idx[rows]
        pos = np.arange(len(ix), dtype=np.uint16)
        self.state["stamp"][ix] = pos  # the last write wins: a repeated device reads back another position
        g = self.state.take(ix)
        if (g["stamp"] == pos).all():
            self._round(rows, ix, g, ctx)
            return
        rows = np.arange(len(idx))[rows]
        order = np.lexsort((ts[rows], ix))
        srt, sx = rows[order], ix[order]
        start = np.r_[True, sx[1:] != sx[:-1]]
        first = np.maximum.accumulate(np.where(start, np.arange(len(sx)), 0))
        rank = np.arange(len(sx)) - first
        by = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by], np.arange(1, rank.max() + 1))
        for r in np.split(srt[by], bounds):
            self._round(r, idx[r], self.state.take(idx[r]), ctx)

    def _round(self, rows, ix, g, ctx) -> None:
        """One reading per device: every detector, on the gathered records ``g``.

        Hot path of the sweep: each strided field of ``g`` is read once into a contiguous
        array, per-kind constants are gathered with one intp index, and temporaries are
        reused (``out=``); the arithmetic, and so every result bit, is the general one."""
        _, ts, value, reason, consumption, alarms, cleared = ctx
        t, v = ts[rows], value[rows]
        ki = g["kind"].astype(np.intp)
        meter = ki < _N_METER_KINDS
        last_ts = g["last_ts"].astype(np.int64)
        lv = g["last_value"].copy()
        seen = last_ts > 0
        bad = t <= last_ts
        bad |= (v < lv) & meter
        if bad.any():
            dup = seen & (t <= last_ts)
            back = meter & seen & ~dup & (v < lv)
            rows = np.arange(len(reason))[rows]
            reason[rows[dup]] = RejectReason.DUPLICATE_OR_OLD
            reason[rows[back]] = RejectReason.COUNTER_BACKWARDS
            keep = ~(dup | back)
            rows, ix, t, v, g = rows[keep], ix[keep], t[keep], v[keep], g[keep]
            ki, meter, last_ts, seen, lv = ki[keep], meter[keep], last_ts[keep], seen[keep], lv[keep]
            if len(rows) == 0:
                return
        p = self.params
        all_meters = bool(meter.all())
        f0 = g["flags"].copy()
        f = f0 & _KEEP_SILENT  # any accepted reading ends a silence
        n = g["n"].copy()
        dt = t - last_ts
        delta = v - lv
        if not seen.all():
            delta[~seen] = 0.0
        x = delta * 3600.0
        x /= np.maximum(dt, 1)  # rate per hour (meters) ...
        if all_meters:
            consumption[rows] = delta
        else:
            consumption[rows] = np.where(meter, delta, v)
            np.copyto(x, v, where=~meter)  # ... or the value (sensors)
        out: list[Alarms] = []

        # ---- stuck / zero: time since the value last changed
        since = g["since_ts"].astype(np.int64)
        changed = v != lv
        changed |= ~seen
        np.copyto(since, t, where=changed)
        unch = t - since
        f &= np.where(changed, _KEEP_STUCK_ZERO, np.uint8(0xFF))
        j = np.flatnonzero(unch >= self._min_quiet_s)
        if len(j):
            self._stuck(j, g, f, ki, meter, unch, since, lv, t, v, ix, out)

        # ---- spike against the robust baseline (winsorised EWMA median / absolute deviation)
        med = g["med"].astype(np.float64)
        mad = g["mad"].copy()
        scale = np.maximum(mad, self._spike_floor[ki])
        tmp = np.abs(med)
        tmp *= p.spike_floor_rel
        np.maximum(scale, tmp, out=scale)
        dev = x - med
        adev = np.abs(dev)
        thr = self._spike_k[ki]
        thr *= scale
        spike = adev > thr
        spike &= n >= self._spike_warm[ki]
        eff_n = n.astype(np.intp)
        eff_n -= meter  # rates seen before this one (meters) / values seen (sensors)
        a = self._alpha[np.maximum(eff_n, 0, out=tmp.view(np.intp))]
        c = scale
        c *= p.baseline_clip  # scale is not needed after this
        np.clip(dev, -c, c, out=tmp)
        tmp *= a
        tmp += med
        g["med"] = tmp
        np.minimum(adev, c, out=tmp)
        tmp -= mad
        tmp *= a
        tmp += mad
        g["mad"] = tmp
        init = np.flatnonzero((eff_n == 0) & (seen | ~meter))
        if len(init):
            g["med"][init], g["mad"][init] = x[init], 0.0
        rate = g["rate"].copy()
        rate_n = dt * (1.0 / p.rate_tau_s)
        np.minimum(rate_n, 1.0, out=rate_n)
        rate_n *= x - rate
        rate_n += rate
        if spike.any():
            j = np.flatnonzero(spike & (f0 & _SPIKE == 0))
            if len(j):
                # k and the robust scale as they were when it fired: a later re-tune must not change
                # how this alarm is explained.
                k = self._spike_k[ki[j]]
                ev = np.column_stack([med[j], mad[j], med[j] + thr[j], k, thr[j] / k])
                out.append(_alarms(ix[j], AlarmType.SPIKE, t[j], x[j], adev[j] / thr[j], ev))
            f &= np.uint8(0xFF & ~_SPIKE)
            f |= spike.view(np.uint8) * np.uint8(_SPIKE)
            rate_n[spike] = rate[spike]
        else:
            f &= np.uint8(0xFF & ~_SPIKE)
        g["rate"] = rate_n

        # ---- leak: minimum night flow (only rows near the night window or with a night open)
        leaky = self._leaky[ki]
        leaky &= seen
        sec = t + self.utc_offset_s
        sec %= 86400
        near = sec <= self.params.night_end_s
        near |= g["night_min"] == g["night_min"]  # a night is open (not NaN)
        near &= leaky
        j = np.flatnonzero(near)
        if len(j):
            sub = g.take(j)
            fj = f[j]
            self._night(sub, t[j], last_ts[j], dt[j], x[j], sub["kind"], fj, ix[j], out)
            g.put(j, sub)
            f[j] = fj

        # ---- general streaming detector (sensors: exactly the devices with a slot)
        if not all_meters:
            j = np.flatnonzero(~meter)
            sl = g["slot"][j]
            sub = StreamingDetector.__new__(StreamingDetector)
            sub.p, sub.n_series, sub.state = self.sensors.p, len(j), self.sensors.state[:, sl]
            score = sub.update(v[j])
            self.sensors.state[:, sl] = sub.state
            on = score >= p.anomaly_on
            fire = on & (f0[j] & _ANOM == 0)
            f[j[on]] |= _ANOM
            f[j[(score < p.anomaly_off) & (f0[j] & _ANOM != 0)]] &= np.uint8(0xFF & ~_ANOM)
            self._drift_step(j, sl, ki[j], t[j], v[j], f, ix, out)
            if fire.any():
                jf = j[fire]
                out.append(
                    _alarms(
                        ix[jf], AlarmType.ANOMALY, t[jf], v[jf], score[fire], np.tile(_NAN5, (len(jf), 1))
                    )
                )

        g["last_value"], g["last_ts"], g["since_ts"] = v, t, since
        self._silent_due = min(self._silent_due, float(t.min()) + p.silent_k * float(g["interval"].min()))
        np.minimum(n, 254, out=n)
        n += 1
        g["n"] = n
        g["flags"] = f
        self.state.put(ix, g)
        self._remember(ix, t)
        alarms.extend(out)
        gone = f0 & ~f
        if gone.any():
            for at in AlarmType:
                j = np.flatnonzero(gone & _bit(at))
                if len(j):
                    cleared.append(_alarms(ix[j], at, t[j], v[j], 0.0, np.tile(_NAN5, (len(j), 1))))

    def _remember(self, ix, t) -> None:
        """Push accepted timestamps into their devices' rings (each device once per call)."""
        g = self.seen.take(ix)  # one gather and one scatter of 24-byte records: the sweep's cost
        rows = np.arange(len(g))
        slot = g["pos"] % SEEN_K
        ring = g["ts"]
        np.maximum(g["floor"], ring[rows, slot], out=g["floor"])
        ring[rows, slot] = t
        g["pos"] += 1
        self.seen.put(ix, g)

    def _late(self, ctx, seen) -> None:
        """Readings marked DUPLICATE_OR_OLD that are older than their device's newest: accept the ones
        never accepted before (once each), keep the rest as repeats."""
        idx, ts, _value, reason, _consumption, _alarms, _cleared = ctx
        rows = np.flatnonzero(reason == RejectReason.DUPLICATE_OR_OLD)
        if not len(rows):
            return
        ix, t = idx[rows], ts[rows]
        newest = self.state["last_ts"][ix].astype(np.int64)
        cand = (t < newest) & (t >= newest - self.params.late_s) & (t > 0)
        rows, ix, t = rows[cand], ix[cand], t[cand]
        if not len(rows):
            return
        # The same (device, ts) twice in the batch: only the first can be new.  One int64 per pair (the
        # ring keeps 32-bit times), as np.unique(axis=0) on the pairs cost a backlog batch most of its time.
        _, first = np.unique((ix << 32) | (t & 0xFFFFFFFF), return_index=True)
        first = np.sort(first)
        rows, ix, t = rows[first], ix[first], t[first]
        mine = self.seen[ix]
        known = (mine["ts"] == t[:, None]).any(axis=1)
        ask = ~known & (t <= mine["floor"])
        if ask.any():
            known[ask] = np.asarray(seen(ix[ask], t[ask]), bool) if seen is not None else True
        new = np.flatnonzero(~known)
        if not len(new):
            return
        reason[rows[new]] = 0  # accepted late: archived and counted; no consumption, no detector step
        order = np.lexsort((t[new], ix[new]))
        left = new[order]
        sx = ix[left]
        start = np.r_[True, sx[1:] != sx[:-1]]
        rank = np.arange(len(sx)) - np.maximum.accumulate(np.where(start, np.arange(len(sx)), 0))
        for r in range(int(rank.max()) + 1):  # one reading per device per push, oldest first
            once = left[rank == r]
            self._remember(ix[once], t[once])

    def _drift_step(self, j, sl, kind, t, v, f, ix, out) -> None:
        """Drift of sensors ``j`` (slots ``sl``): see the module docstring. Hourly means of the
        usual course take a new day with weight ``drift_day_alpha``; the residual against the
        course (interpolated between the hours' centres) is averaged over ``drift_tau_s``."""
        p = self.params
        d = self.drift[:, sl]
        prof = self.drift_prof  # only the hours needed are gathered and written (24 per sensor)
        lt = t + self.utc_offset_s
        hour = (lt % 86400) / 3600.0
        b = hour.astype(np.int64)
        last = d[_D_TS]
        # close the open hour: another hour, or the same hour of another day
        ob = d[_D_BIN].astype(np.int64)
        close = (ob >= 0) & ((b != ob) | (t - last >= 3600))
        if close.any():
            c = np.flatnonzero(close)
            mean = (d[_D_ACC, c] / np.maximum(d[_D_CNT, c], 1)).astype(np.float32)
            sc, bc = sl[c], ob[c]
            old = prof[sc, bc]
            prof[sc, bc] = np.where(np.isnan(old), mean, old + np.float32(p.drift_day_alpha) * (mean - old))
            d[_D_ACC, c] = 0.0
            d[_D_CNT, c] = 0.0
        # the usual level now, before this reading joins its hour
        u = hour - 0.5
        b0 = np.floor(u).astype(np.int64) % 24
        w = u - np.floor(u)
        e0, e1 = prof[sl, b0].astype(np.float64), prof[sl, (b0 + 1) % 24].astype(np.float64)
        usual = (1 - w) * e0 + w * e1  # NaN until both hours have been seen (a day's warm-up)
        d[_D_ACC] += v
        d[_D_CNT] += 1
        d[_D_BIN] = b
        r = v - usual
        ok = ~np.isnan(r)
        lvl, mabs, n = d[_D_LVL], d[_D_ABS], d[_D_N]
        a = -np.expm1(-np.maximum(t - last, 0) / p.drift_tau_s)
        a = np.where(n == 0, 1.0, a)
        r0 = np.where(ok, r, 0.0)
        lvl_new = np.where(ok, lvl + a * (r0 - lvl), lvl)
        scale = np.maximum(1.2533 * mabs, p.drift_floor)
        thr = self._drift_k[kind] * scale
        # the noise scale: running mean of |residual| (plain mean while young, then over a day's
        # readings), winsorised, and frozen while the level is away (a drift must not widen it)
        calm = ok & ((n < p.drift_warmup) | (np.abs(lvl_new) < 0.5 * thr))
        an = np.maximum(1.0 / (n + 1), -np.expm1(-np.maximum(t - last, 0) / 86400.0))
        clipped = np.minimum(np.abs(r0), np.where(n < p.drift_warmup, np.inf, 4 * scale))
        d[_D_ABS] = np.where(calm, mabs + an * (clipped - mabs), mabs)
        d[_D_LVL] = lvl_new
        d[_D_N] = np.where(ok, np.minimum(n + 1, 1e9), n)
        d[_D_TS] = t
        away = ok & (n >= p.drift_warmup) & (np.abs(lvl_new) > thr)
        was = (f[j] & _DRIFT) != 0
        back = was & ok & (np.abs(lvl_new) < 0.5 * thr)
        f[j[back]] &= np.uint8(0xFF & ~_DRIFT)
        fire = away & ~was
        if fire.any():
            jf = j[fire]
            f[jf] |= np.uint8(_DRIFT)
            k = self._drift_k[kind[fire]]
            ev = np.column_stack(
                [usual[fire], usual[fire] + lvl_new[fire], lvl_new[fire] / scale[fire], k, scale[fire]]
            )
            out.append(
                _alarms(ix[jf], AlarmType.ANOMALY, t[fire], v[fire], np.abs(lvl_new[fire]) / thr[fire], ev)
            )
        self.drift[:, sl] = d

    def _stuck(self, j, g, f, kind, meter, unch, since, lv, t, v, ix, out) -> None:
        kj, mj, uj = kind[j], meter[j], unch[j]
        rate = g["rate"][j].astype(np.float64)
        hours = uj / 3600.0
        free = (f[j] & (_STUCK | _ZERO)) == 0
        stuck_s = self._stuck_s[kj]
        stuck = free & (stuck_s > 0) & (uj >= stuck_s) & (~mj | (rate * hours >= self._stuck_expect[kj]))
        zero_s = self._zero_s[kj]
        zero = free & ~stuck & mj & (zero_s > 0) & (uj >= zero_s)
        for cond, bit, at in ((stuck, _STUCK, AlarmType.STUCK), (zero, _ZERO, AlarmType.ZERO)):
            if cond.any():
                jj = j[cond]
                f[jj] |= np.uint8(bit)
                ev = np.column_stack([lv[jj], since[jj], hours[cond], rate[cond], np.full(len(jj), np.nan)])
                out.append(_alarms(ix[jj], at, t[jj], v[jj], hours[cond], ev))

    def _night(self, g, t, last_ts, dt, x, kind, f, ix, out) -> None:
        p, off = self.params, self.utc_offset_s
        lt = t + off
        day = lt // 86400
        sec = lt - day * 86400
        plt = last_ts + off
        pday = plt // 86400
        psec = plt - pday * 86400
        nd = g["night_day"].astype(np.int64)
        nm = g["night_min"]
        self._close(g, ~np.isnan(nm) & (day > nd), t, kind, f, ix, out)
        inw = (pday == day) & (psec >= p.night_start_s) & (sec <= p.night_end_s) & (dt > 0)
        if inw.any():
            nm = g["night_min"]
            fresh = inw & np.isnan(nm)
            g["night_day"] = np.where(fresh, day, nd)
            g["night_min"] = np.where(fresh, x, np.where(inw, np.fmin(nm, x), nm))
        nm, nd = g["night_min"], g["night_day"].astype(np.int64)
        self._close(g, ~np.isnan(nm) & (day == nd) & (sec >= p.night_end_s), t, kind, f, ix, out)

    def _close(self, g, mask, t, kind, f, ix, out) -> None:
        """A night window ended: push its minimum into the history and judge the streak."""
        j = np.flatnonzero(mask)
        if len(j) == 0:
            return
        p = self.params
        val = g["night_min"][j].astype(np.float64)
        hist = g["night_hist"][j]
        hist[:, 1:] = hist[:, :-1]
        hist[:, 0] = val
        g["night_hist"][j] = hist
        g["night_min"][j] = np.nan
        thr = self._leak_rate[kind[j]]
        above = val >= thr
        nights = np.where(above, np.minimum(g["leak_nights"][j].astype(np.int64) + 1, 255), 0)
        g["leak_nights"][j] = nights
        k = min(p.leak_nights, hist.shape[1])
        recent = hist[:, :k].astype(np.float64)
        steady = np.nanmin(recent, axis=1) >= p.leak_steady * np.nanmax(recent, axis=1)
        fire = (nights >= p.leak_nights) & steady & (f[j] & _LEAK == 0)
        f[j[nights == 0]] &= np.uint8(0xFF & ~_LEAK)
        if fire.any():
            jj = j[fire]
            f[jj] |= np.uint8(_LEAK)
            ev = np.column_stack([hist[fire].astype(np.float64), thr[fire]])
            out.append(_alarms(ix[jj], AlarmType.LEAK, t[jj], val[fire], val[fire] / thr[fire], ev))

    # ------------------------------------------------------------ silence
    def check_silent(self, now: int) -> Alarms:
        """Devices whose last reading is older than ``silent_k`` × their interval (once per outage).

        The bank keeps a lower bound of the earliest deadline (``last_ts + silent_k × interval``)
        of every device that has read and is not already silent: :meth:`process` lowers it by each
        round's earliest new deadline, a scan raises it to the true earliest one.  A check before
        that time costs nothing; one after it scans ``last_ts`` once and looks at the interval and
        flags of only the devices that could be late (those older than ``silent_k`` × the shortest
        interval of the bank)."""
        now = int(now)
        k = self.params.silent_k
        if now <= self._silent_due:
            return Alarms.empty()
        st = self.state
        if not len(st["last_ts"]):  # no device yet (a new city): the scheduler's maintenance still runs
            return Alarms.empty()
        if self._min_int[0] != self.n:  # the bank's shortest interval, kept until devices change
            self._min_int = (self.n, int(st["interval"].min()) if self.n else 1)
        min_int = self._min_int[1]
        # one strided pass over the records; the rest is on 4-byte contiguous copies
        last1 = st["last_ts"].copy()
        last1 -= np.uint32(1)  # a device that never read wraps to 2**32 - 1
        thr = now - k * min_int  # a device that read at or after this cannot be late
        thr1 = np.uint32(min(max(math.ceil(thr), 1), 2**32 - 1) - 1)
        cand = last1 < thr1
        j = np.flatnonzero(cand)
        lj = last1[j].astype(np.int64) + 1
        interval = st["interval"][j].astype(np.int64)
        flags = st["flags"][j]
        late = (now - lj > k * interval) & (flags & _SILENT == 0)
        # the next deadline: not-late candidates not yet silent, and every device that read after thr
        rest = int(np.where(cand, np.uint32(2**32 - 1), last1).min())
        waiting = lj[~late & (flags & _SILENT == 0)] + k * interval[~late & (flags & _SILENT == 0)]
        self._silent_due = min(
            rest + 1 + k * min_int if rest < 2**32 - 1 else np.inf,
            float(waiting.min()) if len(waiting) else np.inf,
        )
        j, interval, lj = j[late], interval[late], lj[late]
        if len(j) == 0:
            return Alarms.empty()
        st["flags"][j] |= _SILENT
        gap = now - lj
        ev = np.column_stack([lj, interval, gap // interval, np.full((len(j), 2), np.nan)])
        return _alarms(j, AlarmType.SILENT, np.full(len(j), now), gap, gap / (interval * 1.0), ev)

    # ------------------------------------------------------------ inspection / checkpoints
    def state_nbytes(self) -> int:
        return (
            self.state.nbytes
            + self.sensors.state.nbytes
            + self.sensor_dev.nbytes
            + self.seen.nbytes
            + self.drift.nbytes
            + self.drift_prof.nbytes
        )

    def flags(self, idx) -> np.ndarray:
        """Active-condition bit mask per device (bit ``1 << (AlarmType - 1)``)."""
        return self.state["flags"][np.asarray(idx, np.int64)]

    def active(self, idx, atype: AlarmType) -> np.ndarray:
        return (self.flags(idx) & _bit(atype)) != 0

    def snapshot(self) -> dict[str, np.ndarray]:
        d = asdict(self.params)
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        return {
            "state": self.state.copy(),
            "sensors": self.sensors.state.copy(),
            "sensor_dev": self.sensor_dev.copy(),
            "seen": self.seen.copy(),
            "drift": self.drift.copy(),
            "drift_prof": self.drift_prof.copy(),
            "utc_offset_s": np.array(self.utc_offset_s, np.int64),
            "params": np.array(json.dumps(d)),
        }

    @classmethod
    def restore(cls, snap) -> DetectorBank:
        d = json.loads(str(snap["params"]))
        params = Params(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
        bank = cls(0, np.zeros(0), np.zeros(0), utc_offset_s=int(snap["utc_offset_s"]), params=params)
        state = np.asarray(snap["state"])
        if state.dtype != STATE_DTYPE:
            raise ValueError("state: snapshot from an incompatible detector layout")
        bank.state = state.copy()
        bank.sensors.state = np.asarray(snap["sensors"], np.float64).copy()
        bank.sensor_dev = np.asarray(snap["sensor_dev"], np.int64).copy()
        bank.sensors.n_series = len(bank.sensor_dev)
        if "seen" in snap and np.asarray(snap["seen"]).dtype == SEEN_DTYPE:
            bank.seen = np.asarray(snap["seen"]).copy()
        else:  # a snapshot from before the rings: everything up to the newest reading is asked of `seen`
            bank.seen = np.zeros(len(state), SEEN_DTYPE)
            bank.seen["floor"] = state["last_ts"]
        ns = len(bank.sensor_dev)
        if "drift" in snap and np.shape(snap["drift"]) == (DRIFT_FIELDS, ns):
            bank.drift = np.asarray(snap["drift"], np.float64).copy()
            bank.drift_prof = np.asarray(snap["drift_prof"], np.float32).copy()
        else:  # a snapshot from before drift: the usual course is learnt again (a day)
            bank.drift = bank._fresh_drift(ns)
            bank.drift_prof = np.full((ns, 24), np.nan, np.float32)
        return bank
