"""The fault injections that `bench/bench_alarms.py` writes itself do what its table says."""

from __future__ import annotations

import numpy as np
from bench.bench_alarms import DAY, START, STEP, UTC_OFFSET, Faults, _night_seconds, _sim, make_city


def _faults(kind: str, start: float, amount: float = 0.0):
    kinds, intervals, _ = make_city(0, 0, 1)
    kinds = np.array(["water", "noise"], dtype=object)
    intervals = np.array([900, 60])
    sim = _sim(kinds, intervals, 1)
    fx = Faults(2, sim)
    fx.start[:], fx.kind[:], fx.amount[:] = start, kind, amount
    return fx


def test_night_seconds_count_only_local_00_to_06():
    midnight = START + DAY - UTC_OFFSET  # a local midnight
    t = np.array([midnight, midnight + 3 * 3600, midnight + 6 * 3600, midnight + 12 * 3600, midnight + DAY])
    got = _night_seconds(t) - _night_seconds(np.array([midnight]))
    assert list(got) == [0, 3 * 3600, 6 * 3600, 6 * 3600, 6 * 3600]


def test_night_flow_adds_water_only_at_night():
    midnight = START + DAY - UTC_OFFSET
    fx = _faults("night_flow", midnight, amount=0.01)
    t = np.array([midnight - STEP, midnight + 3 * 3600, midnight + 12 * 3600])
    v = np.array([100.0, 100.0, 100.0])
    out = fx.apply(np.zeros(3, np.int64), t, v)
    assert np.allclose(out, [100.0, 100.03, 100.06])


def test_a_reversed_meter_counts_down_from_where_it_was():
    fx = _faults("reversed", START + 3600)
    dev = np.zeros(3, np.int64)
    out = fx.apply(dev, np.array([START + 1800, START + 3600, START + 5400]), np.array([10.0, 10.5, 11.0]))
    assert list(out) == [10.0, 9.5, 9.0]


def test_sensor_spike_is_one_reading_and_zero_stays_zero():
    fx = _faults("spike_sensor", START + 60)
    dev = np.ones(3, np.int64)
    out = fx.apply(dev, np.array([START, START + 60, START + 120]), np.array([50.0, 50.0, 50.0]))
    assert out[0] == 50.0 and out[1] > 100.0 and out[2] == 50.0
    fx = _faults("zero", START + 60)
    out = fx.apply(dev, np.array([START, START + 60, START + 120]), np.array([50.0, 51.0, 52.0]))
    assert list(out) == [50.0, 0.0, 0.0]
