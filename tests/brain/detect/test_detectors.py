"""Per-device detectors: each fires on its case, once per onset, and stays quiet on a normal meter (no DB)."""

import numpy as np
import pytest

from cityloop.brain.detect.detectors import AlarmType, DetectorBank, Kind, Params, RejectReason

DAY = 86_400
T0 = 1_767_196_800  # 2026-01-01 00:00 in Shanghai (UTC+8)
# household water use in m3/h by local hour: quiet nights, morning and evening peaks
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


def household(days, *, interval=900, leak=0.0, leak_from=None, seed=0, start=100.0):
    """Timestamps and cumulative counter (1 L resolution) of a water meter."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(interval, days * DAY + 1, interval)
    hours = ((ts - T0) // 3600) % 24
    use = PROFILE[hours] * rng.exponential(1.0, len(ts)) * (rng.random(len(ts)) < 0.7) * interval / 3600
    if leak:
        use = use + np.where(ts >= (leak_from or T0), leak * interval / 3600, 0.0)
    return ts, np.floor((start + np.cumsum(use)) * 1000) / 1000


def state_of(bank):
    """The detector state without the scratch stamp column."""
    st = bank.state.copy()
    st["stamp"] = 0
    return st.tobytes()


def feed(bank, i, ts, values, *, step=1):
    """Readings one at a time (step=1) or in batches; returns all alarms and cleared conditions."""
    alarms, cleared = [], []
    for k in range(0, len(ts), step):
        r = bank.process(
            np.full(len(ts[k : k + step]), i),
            ts[k : k + step],
            values[k : k + step],
            now=int(ts[k : k + step][-1]),
        )
        alarms += [
            (int(a), AlarmType(int(t)), int(s))
            for a, t, s in zip(r.alarms.idx, r.alarms.type, r.alarms.ts, strict=False)
        ]
        cleared += [(int(a), AlarmType(int(t))) for a, t in zip(r.cleared.idx, r.cleared.type, strict=False)]
    return alarms, cleared


def test_a_normal_diurnal_water_meter_raises_no_alarm():
    bank = DetectorBank(3, Kind.WATER, 900)
    for i, (interval, seed) in enumerate([(900, 1), (1800, 2), (3600, 3)]):
        ts, v = household(30, interval=interval, seed=seed)
        bank.interval = interval
        alarms, _ = feed(bank, i, ts, v, step=50)
        assert alarms == []


def test_continuous_night_flow_raises_one_leak_with_the_night_minima_as_evidence():
    bank = DetectorBank(1, Kind.WATER, 900)
    start = T0 + 5 * DAY + 13 * 3600
    ts, v = household(20, leak=0.012, leak_from=start, seed=4)
    alarms, _ = feed(bank, 0, ts, v, step=96)
    assert [a[1] for a in alarms] == [AlarmType.LEAK]
    hours = (alarms[0][2] - start) / 3600
    assert 3 * 24 - 13 <= hours <= 4 * 24  # after three full nights of flow
    r = DetectorBank(1, Kind.WATER, 900)
    r2 = None
    for k in range(0, len(ts), 96):
        res = r.process(
            np.zeros(len(ts[k : k + 96]), np.int64),
            ts[k : k + 96],
            v[k : k + 96],
            now=int(ts[k : k + 96][-1]),
        )
        if len(res.alarms):
            r2 = res.alarms
    ev = r2.evidence(0)
    assert ev["type"] == "leak"
    assert len(ev["night_min_flows_per_h"]) >= 3
    assert min(ev["night_min_flows_per_h"][:3]) >= ev["threshold_per_h"]


def test_a_leak_that_is_fixed_clears_and_a_new_one_alarms_again():
    bank = DetectorBank(1, Kind.WATER, 900)
    ts, v = household(30, seed=5)
    on = (ts >= T0 + 3 * DAY) & (ts < T0 + 10 * DAY) | (ts >= T0 + 18 * DAY)
    extra = np.cumsum(np.where(on, 0.012 * 0.25, 0.0))
    v = np.floor((v + extra) * 1000) / 1000
    alarms, cleared = feed(bank, 0, ts, v, step=96)
    assert [a[1] for a in alarms] == [AlarmType.LEAK, AlarmType.LEAK]
    assert (0, AlarmType.LEAK) in cleared


def test_a_stuck_power_counter_raises_stuck_once_and_clears_when_it_moves():
    bank = DetectorBank(1, Kind.POWER, 1800)
    ts = T0 + np.arange(1, 8 * 48) * 1800
    use = np.full(len(ts), 0.4 * 0.5)
    frozen = (ts >= T0 + 3 * DAY) & (ts < T0 + 6 * DAY)
    use[frozen] = 0.0
    v = 1000 + np.cumsum(use)
    alarms, cleared = feed(bank, 0, ts, v, step=7)
    assert [a[1] for a in alarms] == [AlarmType.STUCK]
    assert alarms[0][2] - (T0 + 3 * DAY) <= 48 * 3600 + 1800
    assert cleared == [(0, AlarmType.STUCK)]


def test_stuck_evidence_names_the_value_and_since_when():
    bank = DetectorBank(1, Kind.POWER, 3600)
    ts = T0 + np.arange(1, 24 * 5) * 3600
    v = np.minimum(500 + 0.3 * np.arange(1, 24 * 5), 500 + 0.3 * 48)
    r = None
    for k in range(len(ts)):
        res = bank.process([0], ts[k : k + 1], v[k : k + 1], now=int(ts[k]))
        r = res.alarms if len(res.alarms) else r
    ev = r.evidence(0)
    assert ev["type"] == "stuck" and ev["unchanged_value"] == pytest.approx(500 + 0.3 * 48)
    assert ev["unchanged_since"] == T0 + 48 * 3600 and ev["hours"] >= 48


def test_a_meter_without_any_consumption_for_a_week_raises_zero():
    bank = DetectorBank(1, Kind.WATER, 3600)
    ts = T0 + np.arange(1, 12 * 24) * 3600
    v = np.where(ts < T0 + 2 * DAY, 50 + (ts - T0) / DAY * 0.01, 50.02)  # a nearly empty flat, then nobody
    v = np.floor(v * 1000) / 1000
    alarms, _ = feed(bank, 0, ts, v, step=24)
    assert [a[1] for a in alarms] == [AlarmType.ZERO]


def test_a_burst_raises_one_spike_with_median_and_mad():
    bank = DetectorBank(1, Kind.WATER, 900)
    ts, v = household(6, seed=7)
    k = len(ts) - 40
    burst = np.zeros(len(ts))
    burst[k : k + 3] = 1.5  # 6 m3/h for three intervals
    v = v + np.cumsum(burst)
    got = []
    for j in range(len(ts)):
        res = bank.process([0], ts[j : j + 1], v[j : j + 1], now=int(ts[j]))
        got += [res.alarms.evidence(i) for i in range(len(res.alarms))]
    assert [e["type"] for e in got] == ["spike"]
    e = got[0]
    assert e["ts"] == ts[k] and e["value"] == pytest.approx(6.0, abs=0.2)
    assert e["baseline_median"] < 0.2 and e["threshold"] < e["value"]


def test_silent_devices_are_reported_once_per_outage():
    bank = DetectorBank(3, [Kind.WATER, Kind.WATER, Kind.NOISE], [900, 3600, 60])
    bank.process([0, 1, 2], [T0, T0, T0], [1.0, 1.0, 50.0], now=T0)
    a = bank.check_silent(T0 + 3 * 900 + 1)
    assert sorted(a.idx.tolist()) == [0, 2]
    assert a.evidence(0)["missing_readings"] >= 3 and a.evidence(0)["last_reading_ts"] == T0
    assert len(bank.check_silent(T0 + 3 * 900 + 60)) == 0
    r = bank.process([0], [T0 + 4000], [1.1], now=T0 + 4000)
    assert [(int(i), AlarmType(int(t))) for i, t in zip(r.cleared.idx, r.cleared.type, strict=False)] == [
        (0, AlarmType.SILENT)
    ]
    assert sorted(bank.check_silent(T0 + 4 * 3600).idx.tolist()) == [0, 1]


def test_a_sensor_jump_raises_one_alarm_at_the_jump():
    bank = DetectorBank(1, Kind.NOISE, 60)
    rng = np.random.default_rng(8)
    x = 55 + rng.normal(0, 1.0, 600)
    x[500:] += 30
    ts = T0 + 60 * np.arange(1, 601)
    alarms, _ = feed(bank, 0, ts, x, step=1)
    assert [(a[1], a[2]) for a in alarms] == [(AlarmType.SPIKE, ts[500])]


def test_the_streaming_score_still_raises_an_anomaly_where_the_city_turns_its_range_term_on():
    bank = DetectorBank(1, Kind.NOISE, 60, params=Params(streaming={"w_range": 1.0}))
    rng = np.random.default_rng(8)
    x = 55 + rng.normal(0, 1.0, 600)
    x[500:] += 30
    ts = T0 + 60 * np.arange(1, 601)
    alarms, _ = feed(bank, 0, ts, x, step=1)
    assert [a[1] for a in alarms].count(AlarmType.ANOMALY) == 1
    assert all(a[2] >= ts[500] for a in alarms)


def test_plain_sensor_noise_raises_no_alarm():
    """50 noise sensors, 3 days of Gaussian noise once a minute: the "new range" term would have raised
    about ten alarms here (11 with w_range=1); the city's setting raises none."""
    m, n = 50, 3 * 24 * 60
    bank = DetectorBank(m, Kind.NOISE, 60)
    x = 55 + np.random.default_rng(3).normal(0, 1.0, (n, m))
    raised = 0
    for k in range(n):
        t = T0 + 60 * (k + 1)
        raised += len(bank.process(np.arange(m), np.full(m, t), x[k], now=t).alarms)
    assert raised == 0


def test_every_reject_reason_is_given():
    bank = DetectorBank(2, [Kind.WATER, Kind.NOISE], [900, 60])
    bank.process([0, 1], [T0, T0], [10.0, 50.0], now=T0)
    r = bank.process(
        [-1, 5, 0, 0, 0, 0, 1],
        [T0 + 900, T0 + 900, T0 + 900, T0 + 10 * DAY, T0, T0 + 1800, T0 + 60],
        [1.0, 1.0, np.nan, 11.0, 10.5, 9.0, 49.0],
        now=T0 + 2000,
    )
    assert r.reason.tolist() == [
        RejectReason.UNKNOWN_DEVICE,
        RejectReason.UNKNOWN_DEVICE,
        RejectReason.NOT_NUMERIC,
        RejectReason.FUTURE_TIMESTAMP,
        RejectReason.DUPLICATE_OR_OLD,
        RejectReason.COUNTER_BACKWARDS,
        0,
    ]
    assert r.accepted.tolist() == [False] * 6 + [True]
    assert bank.state["last_value"].tolist() == [10.0, 49.0]  # nothing rejected touched the state


def test_a_batch_with_several_readings_per_device_equals_feeding_them_one_by_one():
    rng = np.random.default_rng(9)
    n = 40
    kinds = rng.choice([Kind.WATER, Kind.POWER, Kind.GAS, Kind.NOISE, Kind.AIR], n)
    rows = []
    for i in range(n):
        ts, v = household(4, interval=int(rng.choice([900, 1800])), seed=i)
        if kinds[i] >= Kind.NOISE:
            v = 40 + rng.normal(0, 2, len(ts))
        rows += [(i, t, x) for t, x in zip(ts, v, strict=False)]
    rows = np.array(rows)
    extra = rows[rng.choice(len(rows), 60)]  # duplicates and stale readings
    back = rows[rng.choice(len(rows), 20)].copy()
    back[:, 1] += 7
    back[:, 2] -= 5  # counters going backwards
    allrows = np.concatenate([rows, extra, back])
    allrows = allrows[np.argsort(allrows[:, 1], kind="stable")]
    idx, ts, v = allrows[:, 0].astype(np.int64), allrows[:, 1].astype(np.int64), allrows[:, 2]
    now = int(ts.max())
    a = DetectorBank(n, kinds, 900)
    b = DetectorBank(n, kinds, 900)
    shuffle = rng.permutation(len(idx))
    batch = b.process(idx[shuffle], ts[shuffle], v[shuffle], now=now)
    # one by one in time order; equal timestamps in the order they stood in the batch
    order = shuffle[np.argsort(ts[shuffle], kind="stable")]
    one_by_row = {int(k): a.process(idx[k : k + 1], ts[k : k + 1], v[k : k + 1], now=now) for k in order}
    one = list(one_by_row.values())
    assert batch.reason.tolist() == [int(one_by_row[int(k)].reason[0]) for k in shuffle]
    np.testing.assert_allclose(batch.consumption, [one_by_row[int(k)].consumption[0] for k in shuffle])
    reason = batch.reason
    assert (reason == RejectReason.DUPLICATE_OR_OLD).sum() >= 50
    assert (reason == RejectReason.COUNTER_BACKWARDS).sum() >= 1
    assert state_of(a) == state_of(b)
    np.testing.assert_array_equal(a.sensors.state, b.sensors.state)
    one_alarms = sorted(
        (int(i), int(t), int(s))
        for r in one
        for i, t, s in zip(r.alarms.idx, r.alarms.type, r.alarms.ts, strict=False)
    )
    assert one_alarms == sorted(
        zip(batch.alarms.idx.tolist(), batch.alarms.type.tolist(), batch.alarms.ts.tolist(), strict=False)
    )


def test_snapshot_and_restore_continue_exactly(tmp_path):
    kinds = [Kind.WATER, Kind.POWER, Kind.NOISE]
    a = DetectorBank(3, kinds, [900, 1800, 60], params=Params(leak_nights=2))
    ts, v = household(3, seed=11)
    noise = 50 + np.random.default_rng(1).normal(0, 1, len(ts))
    for k in range(0, len(ts), 10):
        sl = slice(k, k + 10)
        n = len(ts[sl])
        a.process(
            np.r_[np.zeros(n, int), np.ones(n, int), np.full(n, 2)],
            np.r_[ts[sl], ts[sl], ts[sl]],
            np.r_[v[sl], v[sl] * 3, noise[sl]],
            now=int(ts[sl][-1]),
        )
    np.savez(tmp_path / "bank.npz", **a.snapshot())
    b = DetectorBank.restore(dict(np.load(tmp_path / "bank.npz")))
    assert b.params.leak_nights == 2 and b.utc_offset_s == a.utc_offset_s
    more = (np.array([0, 1, 2]), np.full(3, ts[-1] + 900), np.array([v[-1] + 1, v[-1] * 3 + 1, 99.0]))
    ra, rb = a.process(*more, now=int(ts[-1]) + 900), b.process(*more, now=int(ts[-1]) + 900)
    assert ra.reason.tolist() == rb.reason.tolist()
    assert state_of(a) == state_of(b)
    np.testing.assert_array_equal(a.sensors.state, b.sensors.state)


def test_devices_added_later_get_their_own_state():
    bank = DetectorBank(2, Kind.WATER, 900)
    bank.process([0, 1], [T0, T0], [1.0, 2.0], now=T0)
    bank.grow(4, [Kind.NOISE, Kind.GAS], [60, 3600])
    assert bank.n == 4 and bank.sensors.n_series == 1
    r = bank.process([0, 2, 3], [T0 + 900] * 3, [1.5, 50.0, 7.0], now=T0 + 900)
    assert r.accepted.all() and r.consumption.tolist() == [0.5, 50.0, 0.0]
    with pytest.raises(ValueError, match="^kind:"):
        bank.grow(5, [42], [60])


def test_state_stays_within_100_bytes_per_device():
    n = 100_000
    kinds = np.where(np.arange(n) < n * 0.987, Kind.WATER, Kind.NOISE)
    bank = DetectorBank(n, kinds, 900)
    assert bank.state_nbytes() / n <= 100


def test_a_shuffled_sweep_of_meters_and_sensors_equals_small_ordered_batches():
    rng = np.random.default_rng(21)
    n = 3000
    kinds = rng.choice(
        [Kind.WATER, Kind.POWER, Kind.GAS, Kind.NOISE, Kind.AIR], n, p=[0.4, 0.3, 0.1, 0.1, 0.1]
    )
    a = DetectorBank(n, kinds, 900)
    b = DetectorBank(n, kinds, 900)
    counter = rng.uniform(0, 100, n)
    sensor = kinds >= Kind.NOISE
    found = []
    for step in range(40):  # nights included: the sweep starts at 00:00 local and steps 15 min
        burst = rng.random(n) < 0.003
        counter = counter + rng.exponential(0.01, n) * (rng.random(n) < 0.7) + burst * 5
        v = np.where(sensor, 50 + rng.normal(0, 1, n) + burst * 40, counter)
        ts = T0 + step * 900 + rng.integers(0, 60, n)
        now = int(ts.max())
        order = rng.permutation(n)  # the hot path: one reading per device, random order, one call
        rb = b.process(order, ts[order], v[order], now=now)
        cons = np.zeros(n)
        for s in range(0, n, 700):
            ra = a.process(np.arange(s, min(n, s + 700)), ts[s : s + 700], v[s : s + 700], now=now)
            cons[s : s + 700] = ra.consumption
            found += [(int(i), int(t)) for i, t in zip(ra.alarms.idx, ra.alarms.type, strict=False)]
        assert rb.accepted.all()
        np.testing.assert_array_equal(rb.consumption, cons[order])
        np.testing.assert_array_equal(cons[sensor], v[sensor])
        assert state_of(a) == state_of(b)
        np.testing.assert_array_equal(a.sensors.state, b.sensors.state)
    assert {t for _, t in found} >= {AlarmType.SPIKE}


def test_spike_evidence_gives_the_baseline_held_before_the_reading():
    bank = DetectorBank(1, Kind.NOISE, 60)
    ts = T0 + 60 * np.arange(1, 200)
    v = 50 + np.random.default_rng(3).normal(0, 1, len(ts))
    v[150] = 120
    for j in range(len(ts)):
        before = bank.state[0].copy()
        res = bank.process([0], ts[j : j + 1], v[j : j + 1], now=int(ts[j]))
        spikes = [
            res.alarms.evidence(i) for i in range(len(res.alarms)) if res.alarms.type[i] == AlarmType.SPIKE
        ]
        if spikes:
            break
    assert j == 150
    e = spikes[0]
    assert e["baseline_median"] == pytest.approx(float(before["med"]))
    assert e["baseline_mad"] == pytest.approx(float(before["mad"]))


def naive_silent(state, now, k):
    """check_silent as a full scan of every record (the definition)."""
    last = state["last_ts"].astype(np.int64)
    late = (
        (last > 0)
        & (now - last > k * state["interval"])
        & (state["flags"] & (1 << (AlarmType.SILENT - 1)) == 0)
    )
    return np.flatnonzero(late)


def test_the_silence_check_with_its_next_deadline_finds_exactly_what_a_full_scan_finds():
    rng = np.random.default_rng(31)
    n = 2000
    kinds = rng.choice([Kind.WATER, Kind.GAS, Kind.NOISE], n)
    interval = np.where(kinds == Kind.NOISE, 60, rng.choice([900, 1800, 3600], n))
    bank = DetectorBank(n, kinds, interval)
    twin = DetectorBank(n, kinds, interval)  # checked by the naive full scan
    now = T0
    value = np.full(n, 10.0)
    for _ in range(120):
        now += int(rng.choice([30, 60, 300, 900]))
        report = rng.random(n) < rng.choice([0.02, 0.3, 0.9])  # some devices go quiet for a while
        idx = rng.permutation(np.flatnonzero(report))
        value[idx] += rng.exponential(0.1, len(idx))
        ts = now - rng.integers(0, 30, len(idx))
        bank.process(idx, ts, value[idx], now=now)
        twin.process(idx, ts, value[idx], now=now)
        for check in (now, now + int(rng.integers(0, 200))):  # sometimes twice, also between batches
            got = bank.check_silent(check)
            want = naive_silent(twin.state, check, twin.params.silent_k)
            twin.state["flags"][want] |= 1 << (AlarmType.SILENT - 1)
            assert sorted(got.idx.tolist()) == want.tolist()
            now = check
        assert state_of(bank) == state_of(twin)
    assert (bank.state["flags"] & (1 << (AlarmType.SILENT - 1)) != 0).sum() > 0


def test_a_shard_of_a_bank_continues_exactly_as_the_whole_bank():
    rng = np.random.default_rng(41)
    n = 900
    kinds = rng.choice([Kind.WATER, Kind.POWER, Kind.NOISE, Kind.AIR], n)
    whole = DetectorBank(n, kinds, 900)
    counter = rng.uniform(0, 100, n)
    ts0 = T0 + 3600
    for step in range(30):
        counter += rng.exponential(0.01, n) * (rng.random(n) < 0.7)
        v = np.where(kinds >= Kind.NOISE, 50 + rng.normal(0, 1, n) + (rng.random(n) < 0.01) * 40, counter)
        ts = ts0 + step * 900 + rng.integers(0, 60, n)
        if step == 10:
            shards = [(a, whole.shard(a, b)) for a, b in ((0, 300), (300, 650), (650, n))]
        order = rng.permutation(n)
        rw = whole.process(order, ts[order], v[order], now=int(ts.max()))
        if step >= 10:
            for a, part in shards:
                mine = order[(order >= a) & (order < a + part.n)]
                rp = part.process(mine - a, ts[mine], v[mine], now=int(ts.max()))
                np.testing.assert_array_equal(
                    rp.consumption, rw.consumption[(order >= a) & (order < a + part.n)]
                )
                assert sorted(
                    zip((rp.alarms.idx + a).tolist(), rp.alarms.type.tolist(), strict=True)
                ) == sorted(
                    (i, t)
                    for i, t in zip(rw.alarms.idx.tolist(), rw.alarms.type.tolist(), strict=True)
                    if a <= i < a + part.n
                )
    silent_at = int(ts.max()) + 4 * 3600
    got = sorted((int(i) + a) for a, part in shards for i in part.check_silent(silent_at).idx)
    assert got == sorted(whole.check_silent(silent_at).idx.tolist()) and len(got) == n
    for a, part in shards:
        st = whole.state[a : a + part.n].copy()
        st["stamp"], st["slot"] = 0, 0
        mine = part.state.copy()
        mine["stamp"], mine["slot"] = 0, 0
        assert mine.tobytes() == st.tobytes()
        np.testing.assert_array_equal(
            part.sensors.state,
            whole.sensors.state[
                :, whole.state["slot"][a : a + part.n][whole.state["slot"][a : a + part.n] >= 0]
            ],
        )
    with pytest.raises(ValueError, match="^start/stop:"):
        whole.shard(5, n + 1)


def _water_level(days, *, drift_from=None, seed=5):
    """A water-level sensor once a minute: a daily wave of 3.6 noise sd around 1.2 m, and from
    ``drift_from`` a ramp of +1 sd every 6 h (as bench_alarms injects)."""
    rng = np.random.default_rng(seed)
    ts = T0 + 60 * np.arange(1, days * 1440 + 1)
    hour = ((ts - T0) % DAY) / 3600.0
    x = 1.2 * (1 + 0.15 * np.sin((hour - 9) / 24 * 2 * np.pi)) + rng.normal(0, 0.05, len(ts))
    if drift_from is not None:
        x = x + np.where(ts >= drift_from, 0.05 * (ts - drift_from) / (6 * 3600), 0.0)
    return ts, np.round(x, 2)


def test_a_slow_drift_raises_one_anomaly_with_the_usual_level_and_a_clean_sensor_none():
    start = T0 + 2 * DAY + 3 * 3600
    ts, x = _water_level(4)
    clean, _ = feed(DetectorBank(1, Kind.WATER_LEVEL, 60), 0, ts, x, step=1)
    assert clean == []
    bank = DetectorBank(1, Kind.WATER_LEVEL, 60)
    ts, x = _water_level(4, drift_from=start)
    got = []
    for k in range(len(ts)):
        r = bank.process(np.zeros(1, np.int64), ts[k : k + 1], x[k : k + 1], now=int(ts[k]))
        got += [r.alarms.evidence(i) for i in range(len(r.alarms))]
    assert [e["type"] for e in got] == ["anomaly"]
    ev = got[0]
    hours = (ev["ts"] - start) / 3600
    assert 4 < hours < 16  # 1.5 scales of a ramp of 1 sd / 6 h, seen through an hour's average
    assert ev["k"] == 1.5 and ev["drift_scales"] > 1.5
    assert 0.04 < ev["scale"] < 0.07  # the sensor's own noise (sd 0.05), not the daily wave
    assert ev["drift_level"] - ev["drift_usual_level"] == pytest.approx(ev["drift_scales"] * ev["scale"])


def test_drift_is_tunable_per_kind_and_off_disables_it():
    start = T0 + 2 * DAY
    ts, x = _water_level(4, drift_from=start)
    off = Params(drift_k=tuple(np.inf for _ in Kind))
    alarms, _ = feed(DetectorBank(1, Kind.WATER_LEVEL, 60, params=off), 0, ts, x, step=60)
    assert alarms == []
    alarms, _ = feed(DetectorBank(1, Kind.WATER_LEVEL, 60), 0, ts, x, step=60)
    assert [a[1] for a in alarms] == [AlarmType.ANOMALY]


def test_drift_state_survives_snapshot_shard_and_reset():
    ts, x = _water_level(2)
    kinds = [Kind.WATER, Kind.WATER_LEVEL]
    bank = DetectorBank(2, kinds, [900, 60])
    feed(bank, 1, ts, x, step=30)
    again = DetectorBank.restore(bank.snapshot())
    assert np.array_equal(again.drift, bank.drift)
    assert np.array_equal(again.drift_prof, bank.drift_prof, equal_nan=True)
    assert not np.isnan(bank.drift_prof).any()  # two days learnt every hour of the usual course
    part = bank.shard(1, 2)
    assert np.array_equal(part.drift, bank.drift) and part.drift_prof.shape == (1, 24)
    bank.reset([1])
    assert np.isnan(bank.drift_prof).all() and (bank.drift[2] == -1).all()
    assert bank.state.dtype.itemsize == 64  # meters carry no drift state
