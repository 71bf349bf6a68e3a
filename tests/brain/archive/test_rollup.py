"""Hourly roll-ups equal a naive group-by (no DB)."""

from collections import defaultdict

import numpy as np
import pytest

from cityloop.brain.archive import rollup
from cityloop.brain.archive.rollup import hourly_rollup


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
    return {
        (int(h), int(g), int(k)): (c, int(n), int(d), int(a))
        for h, g, k, c, n, d, a in zip(
            r["hour"],
            r["group"],
            r["kind"],
            r["consumption_sum"],
            r["readings"],
            r["devices_reporting"],
            r["alarms"],
            strict=False,
        )
    }


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


def test_the_batchwise_rollup_with_per_device_cells_equals_the_rollup_of_all_readings_at_once():
    rng = np.random.default_rng(5)
    m, n_groups, n_kinds = 20_000, 36, 8
    hour = 490_000 + rng.integers(0, 3, m)
    group, kind = rng.integers(0, n_groups, m), rng.integers(0, n_kinds, m)
    cons = rng.exponential(1.0, m)
    cons[::89] = np.nan
    al = rng.choice(m, 50)
    want = hourly_rollup(hour, group, kind, cons, alarms_per_group=(hour[al] + 1, group[al], kind[al]))
    acc, other = rollup.HourlyRollup(n_groups, n_kinds), rollup.HourlyRollup(n_groups, n_kinds)
    cell = (group * n_kinds + kind).astype(np.int32)
    for s in range(0, m, 3000):  # batches; the second half goes to another shard's accumulator
        (acc if s < m // 2 else other).add(hour[s : s + 3000], cell[s : s + 3000], cons[s : s + 3000])
    acc.add_alarms(hour[al] + 1, cell[al])
    acc.merge(other)
    got = acc.result()
    assert got.keys() == want.keys()
    for c in rollup.COLUMNS:
        if c == "consumption_sum":
            np.testing.assert_allclose(got[c], want[c])
        else:
            assert got[c].tolist() == want[c].tolist()
    assert all(len(v) == 0 for v in rollup.HourlyRollup(3, 2).result().values())
    with pytest.raises(ValueError, match="^cell:"):
        rollup.HourlyRollup(3, 2).add([1], [6], [1.0])
