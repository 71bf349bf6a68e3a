"""Hourly roll-ups equal a naive group-by (no DB)."""

from collections import defaultdict

import numpy as np
import pytest

from cityloop.brain import rollup
from cityloop.brain.rollup import hourly_rollup


def naive(hour, group, kind, cons, device, alarms):
    acc = defaultdict(lambda: [0.0, 0, set(), 0])
    for h, g, k, c, d in zip(hour, group, kind, cons, device, strict=False):
        a = acc[(h, g, k)]
        a[0] += 0.0 if np.isnan(c) else c
        a[1] += 1
        a[2].add(d)
    for h, g, k in zip(*alarms, strict=False):
        acc[(h, g, k)][3] += 1
    return {key: (v[0], v[1], len(v[2]), v[3]) for key, v in acc.items()}


def as_dict(r):
    return {(int(h), int(g), int(k)): (c, int(n), int(d), int(a)) for h, g, k, c, n, d, a in
            zip(r["hour"], r["group"], r["kind"], r["consumption_sum"], r["readings"], r["devices_reporting"], r["alarms"], strict=False)}


@pytest.mark.parametrize("dense", [True, False])
def test_rollup_sums_equal_a_naive_groupby(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(rollup, "_DENSE_LIMIT", 0)
    rng = np.random.default_rng(0)
    m = 5000
    hour = 490_000 + rng.integers(0, 5, m)
    group, kind = rng.integers(0, 30, m), rng.integers(0, 7, m)
    device = rng.integers(0, 800, m)
    cons = rng.exponential(1.0, m)
    cons[::97] = np.nan
    alarms = (490_000 + rng.integers(0, 6, 40), rng.integers(0, 31, 40), rng.integers(0, 7, 40))
    got = as_dict(hourly_rollup(hour, group, kind, cons, device=device, alarms_per_group=alarms))
    want = naive(hour.tolist(), group.tolist(), kind.tolist(), cons.tolist(), device.tolist(), alarms)
    assert got.keys() == want.keys()
    for key, (c, n, d, a) in want.items():
        assert got[key][0] == pytest.approx(c)
        assert got[key][1:] == (n, d, a)


def test_without_devices_every_reading_counts_as_a_device_and_empty_input_gives_no_rows():
    r = hourly_rollup([10, 10, 11], [0, 0, 1], [2, 2, 2], [1.0, 2.0, 3.0])
    assert r["devices_reporting"].tolist() == [2, 1] and r["consumption_sum"].tolist() == [3.0, 3.0]
    empty = hourly_rollup([], [], [], [])
    assert all(len(v) == 0 for v in empty.values())


def test_mismatched_columns_are_refused():
    with pytest.raises(ValueError, match="same length"):
        hourly_rollup([1, 2], [0], [0, 0], [1.0, 1.0])
