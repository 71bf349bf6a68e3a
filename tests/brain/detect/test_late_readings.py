"""Late readings: accepted once when never seen, refused as repeats when seen (no DB).

Several workers sharing a device topic, or a killed worker's messages delivered again, hand the bank
a device's readings out of order and some of them twice.  Every distinct (device, timestamp) must be
accepted exactly once."""

import numpy as np

from cityloop.brain.detect.detectors import SEEN_K, DetectorBank, Kind, RejectReason

T0 = 1_780_000_000 // 3600 * 3600
NOW = T0 + 30 * 86_400


def _bank(n=3, kind=Kind.WATER) -> DetectorBank:
    return DetectorBank(n, int(kind), 900)


def _feed(bank, idx, ts, value=None, seen=None):
    idx = np.asarray(idx, np.int64)
    ts = np.asarray(ts, np.int64)
    value = np.asarray(value if value is not None else [1.0 + (t - T0) / 1e5 for t in ts], np.float64)
    return bank.process(idx, ts, value, now=NOW, seen=seen)


def test_a_late_reading_never_seen_is_accepted_without_consumption_and_a_repeat_is_refused():
    bank = _bank()
    assert _feed(bank, [0, 0], [T0, T0 + 1800], [1.0, 3.0]).accepted.all()
    late = _feed(bank, [0], [T0 + 900], [2.0])
    assert late.accepted.tolist() == [True]
    assert late.consumption.tolist() == [0.0]  # the newer reading already counted the interval
    assert int(bank.state["last_ts"][0]) == T0 + 1800  # the detectors' state did not go back
    again = _feed(bank, [0, 0], [T0 + 900, T0 + 1800], [2.0, 3.0])
    assert again.accepted.tolist() == [False, False]
    assert set(again.reason.tolist()) == {RejectReason.DUPLICATE_OR_OLD}


def test_the_same_late_reading_twice_in_one_batch_is_accepted_once():
    bank = _bank()
    _feed(bank, [1], [T0 + 3600])
    res = _feed(bank, [1, 1, 1], [T0 + 900, T0 + 900, T0 + 1800])
    assert res.accepted.tolist() == [True, False, True]


def test_beyond_the_ring_the_caller_decides_and_is_asked_only_then():
    bank = _bank()
    ts = [T0 + 900 * k for k in range(SEEN_K + 3)]
    _feed(bank, [2] * len(ts), ts)
    asked = []

    def seen(idx, t):
        asked.extend(zip(idx.tolist(), t.tolist(), strict=True))
        return np.array([x == ts[0] for x in t.tolist()])

    # ts[0] was pushed out of the ring: the archive says it was seen; T0 - 60 was never seen
    res = _feed(bank, [2, 2, 2], [ts[0], T0 - 60, ts[-1]], seen=seen)
    assert res.accepted.tolist() == [False, True, False]
    assert sorted(asked) == [(2, T0 - 60), (2, ts[0])]  # the newest reading is answered by the ring itself


def test_without_an_answer_an_unremembered_reading_counts_as_a_repeat():
    bank = _bank()
    ts = [T0 + 900 * k for k in range(SEEN_K + 2)]
    _feed(bank, [0] * len(ts), ts)
    assert _feed(bank, [0], [ts[0]]).accepted.tolist() == [False]


def test_readings_older_than_the_late_window_stay_refused():
    bank = _bank()
    _feed(bank, [0], [T0])
    old = T0 - bank.params.late_s - 1
    assert _feed(bank, [0], [old], seen=lambda i, t: np.zeros(len(i), bool)).accepted.tolist() == [False]


def test_shuffled_and_repeated_delivery_accepts_every_distinct_reading_exactly_once():
    rng = np.random.default_rng(7)
    n_dev, steps = 40, 30
    idx = np.repeat(np.arange(n_dev), steps)
    ts = T0 + 900 * np.tile(np.arange(steps), n_dev)
    # two workers each get every other message in order; batches interleave; 10 % delivered again
    order = np.argsort(ts, kind="stable")
    a, b = order[0::2], order[1::2]
    deliveries = []
    for part in (a, b):
        cuts = np.sort(rng.choice(np.arange(1, len(part)), 25, replace=False))
        deliveries += np.split(part, cuts)
    rng.shuffle(deliveries)
    repeats = rng.choice(len(idx), len(idx) // 10, replace=False)
    deliveries.append(repeats)
    bank = _bank(n_dev)
    archive: set[tuple[int, int]] = set()
    accepted = []

    def seen(i, t):
        return np.array([(x, y) in archive for x, y in zip(i.tolist(), t.tolist(), strict=True)], bool)

    for rows in deliveries:
        rows = rng.permutation(rows)
        res = _feed(bank, idx[rows], ts[rows], seen=seen)
        got = list(zip(idx[rows][res.accepted].tolist(), ts[rows][res.accepted].tolist(), strict=True))
        archive.update(got)
        accepted += got
    assert len(accepted) == len(set(accepted)) == n_dev * steps


def test_rings_survive_a_snapshot_and_follow_a_shard():
    bank = _bank(4)
    _feed(bank, [0, 1, 2, 3], [T0 + 900] * 4)
    back = DetectorBank.restore(bank.snapshot())
    assert _feed(back, [3], [T0 + 900]).accepted.tolist() == [False]
    part = bank.shard(2, 4)
    assert _feed(part, [1, 1], [T0 + 900, T0 + 450]).accepted.tolist() == [False, True]


def test_a_snapshot_from_before_the_rings_asks_the_archive_about_everything_it_cannot_tell():
    bank = _bank(2)
    _feed(bank, [0, 0], [T0, T0 + 1800])
    snap = bank.snapshot()
    snap.pop("seen")
    old = DetectorBank.restore(snap)
    asked = []

    def seen(i, t):
        asked.extend(t.tolist())
        return np.array([x == T0 for x in t.tolist()])

    assert _feed(old, [0, 0], [T0, T0 + 900], seen=seen).accepted.tolist() == [False, True]
    assert sorted(asked) == [T0, T0 + 900]
