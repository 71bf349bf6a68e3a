"""Realistic readings for many devices at once (numpy only, no Django).

* meters (water, power, gas) are cumulative counters driven by a diurnal household profile
  (morning and evening peaks, nearly nothing at night), each reporting on its own grid of
  15 min – 1 h; sensors (noise, air, manhole, water level) report every minute;
* injected problems: leaks (a steady extra flow, day and night), stuck meters (the counter
  freezes), spikes (one reading far off) and outages (a device falls silent for a while).

:meth:`Simulator.until` returns every reading due up to a time, in the codec's :class:`Batch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cityloop.brain.ingest.codec import Batch

METER_KINDS = ("water", "power", "gas")
# units per hour at the daily mean (m³, kWh, m³)
MEAN_RATE = {"water": 0.012, "power": 0.35, "gas": 0.05}
SENSOR_BASE = {
    "noise": (55.0, 8.0),
    "air": (35.0, 10.0),
    "manhole": (0.0, 0.05),
    "water_level": (1.2, 0.05),
    "other": (10.0, 1.0),
}

# Hourly weights of a household's use, local time (sum 24): night trough, morning and evening peaks.
PROFILE = np.array(
    [
        0.15,
        0.02,
        0.0,
        0.0,
        0.0,
        0.1,
        0.9,
        2.2,
        1.9,
        1.2,
        1.0,
        1.1,
        1.3,
        1.1,
        0.9,
        0.9,
        1.0,
        1.3,
        2.1,
        2.4,
        1.9,
        1.4,
        0.9,
        0.05,
    ]
)
PROFILE = PROFILE * 24 / PROFILE.sum()


@dataclass
class Problems:
    """Which devices misbehave, and from when (epoch s; inf = never)."""

    leak_from: np.ndarray
    leak_rate: np.ndarray
    stuck_from: np.ndarray
    outage_from: np.ndarray
    outage_to: np.ndarray
    spike_p: float = 0.0005  # chance per reading of a spike


@dataclass
class Simulator:
    codes: np.ndarray
    kinds: np.ndarray  # kind names
    intervals: np.ndarray  # seconds
    start: float  # epoch s of the first reading time considered
    utc_offset_s: int = 8 * 3600
    seed: int = 7
    problems: Problems | None = None
    clock: float = field(init=False)

    def __post_init__(self):
        n = len(self.codes)
        self.rng = np.random.default_rng(self.seed)
        self.codes = np.asarray(self.codes, dtype=object)
        self.kinds = np.asarray(self.kinds, dtype=object)
        self.intervals = np.asarray(self.intervals, dtype=np.int64)
        self.is_meter = np.isin(self.kinds, METER_KINDS)
        self.offset = self.rng.integers(0, self.intervals)  # each device's phase on its grid
        self.scale = self.rng.lognormal(0.0, 0.4, n)  # households differ
        self.mean_rate = np.array([MEAN_RATE.get(k, 0.0) for k in self.kinds]) * self.scale
        self.counter = np.where(self.is_meter, self.rng.uniform(100, 5000, n).round(3), 0.0)
        self.sensor_mu = np.array([SENSOR_BASE.get(k, (0, 1))[0] for k in self.kinds])
        self.sensor_sd = np.array([SENSOR_BASE.get(k, (0, 1))[1] for k in self.kinds])
        self.clock = float(self.start)
        if self.problems is None:
            self.problems = self.no_problems(n)

    @staticmethod
    def no_problems(n: int) -> Problems:
        never = np.full(n, np.inf)
        return Problems(never.copy(), np.zeros(n), never.copy(), never.copy(), never.copy())

    def inject(
        self, *, leaks: float = 0.005, stuck: float = 0.003, outages: float = 0.003, within_s: float = 86400.0
    ) -> Problems:
        """Random problems starting within ``within_s`` of the clock, on the given shares of devices."""
        n = len(self.codes)
        p = self.problems
        water = self.kinds == "water"
        for share, target, mask in (
            (leaks, p.leak_from, water),
            (stuck, p.stuck_from, self.is_meter),
            (outages, p.outage_from, np.ones(n, bool)),
        ):
            chosen = np.flatnonzero(mask & (self.rng.random(n) < share))
            target[chosen] = self.clock + self.rng.uniform(0, within_s, len(chosen))
        p.leak_rate = np.where(np.isfinite(p.leak_from), self.rng.uniform(0.01, 0.06, n), 0.0)
        p.outage_to = p.outage_from + self.rng.uniform(3 * 3600, 12 * 3600, n)
        return p

    def leak(self, code: str, at: float, rate: float = 0.03) -> None:
        i = int(np.flatnonzero(self.codes == code)[0])
        self.problems.leak_from[i], self.problems.leak_rate[i] = at, rate

    def fix(self, code: str) -> None:
        i = int(np.flatnonzero(self.codes == code)[0])
        self.problems.leak_from[i], self.problems.leak_rate[i] = np.inf, 0.0
        self.problems.stuck_from[i] = np.inf

    def _rate(self, t: np.ndarray, dev: np.ndarray) -> np.ndarray:
        hour = ((t + self.utc_offset_s) % 86400) // 3600
        return self.mean_rate[dev] * PROFILE[hour.astype(np.int64)]

    def until(self, t_end: float) -> Batch:
        """Every reading due in (clock, t_end], in time order per device; the clock moves to t_end."""
        t0, t1 = self.clock, float(t_end)
        self.clock = t1
        if t1 <= t0:
            return Batch(np.array([], dtype=object), [], [])
        iv, off = self.intervals, self.offset
        k0 = np.floor((t0 - off) / iv).astype(np.int64) + 1
        k1 = np.floor((t1 - off) / iv).astype(np.int64)
        count = np.maximum(k1 - k0 + 1, 0)
        dev = np.repeat(np.arange(len(iv)), count)
        first = np.repeat(np.cumsum(count) - count, count)
        k = np.repeat(k0, count) + (np.arange(len(dev)) - first)
        t = off[dev] + k * iv[dev]
        p = self.problems
        meter = self.is_meter[dev]
        # meters: the counter advances by the profile's use over the interval (midpoint rule), plus leaks
        dt_h = iv[dev] / 3600.0
        use = self._rate(t - iv[dev] // 2, dev) * dt_h * self.rng.gamma(2.0, 0.5, len(dev))
        use += np.where(t >= p.leak_from[dev], p.leak_rate[dev] * dt_h, 0.0)
        use = np.where(meter & (t < p.stuck_from[dev]), use, 0.0)
        csum = np.cumsum(use)
        start_of = np.repeat(np.cumsum(count) - count, count)
        before = np.where(start_of > 0, csum[np.maximum(start_of - 1, 0)], 0.0)
        value = self.counter[dev] + (csum - before)
        if len(dev):
            last = np.flatnonzero(np.r_[dev[1:] != dev[:-1], True])
            self.counter[dev[last]] = value[last]
        sensor = ~meter
        hour = ((t + self.utc_offset_s) % 86400) / 3600.0
        wave = 1.0 + 0.15 * np.sin((hour - 9) / 24 * 2 * np.pi)
        noise_v = self.sensor_mu[dev] * wave + self.rng.normal(0, 1, len(dev)) * self.sensor_sd[dev]
        value = np.where(sensor, np.round(noise_v, 2), np.round(value, 4))
        spike = sensor & (self.rng.random(len(dev)) < p.spike_p)
        value = np.where(spike, value + 20 * self.sensor_sd[dev] + 10, value)
        silent = (t >= p.outage_from[dev]) & (t < p.outage_to[dev])
        keep = ~silent
        return Batch(self.codes[dev[keep]], t[keep].astype(np.int64), value[keep])

    def advance(self, seconds: float) -> Batch:
        return self.until(self.clock + seconds)
