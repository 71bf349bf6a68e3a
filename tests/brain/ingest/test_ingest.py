"""The one ingest core: accepted readings reach the archive and the pulse; bad ones the rejects log."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cityloop.brain import actions, engine
from cityloop.brain.archive import archive
from cityloop.brain.ingest.codec import decode_json
from cityloop.brain.models import Checkpoint, Hourly, RejectTally

pytestmark = pytest.mark.django_db

HOUR = 1_780_000_000 // 3600 * 3600  # a whole hour in 2026


def _json(d, t, v) -> bytes:
    import orjson

    return orjson.dumps({"d": d, "t": t, "v": v})


def test_accepted_readings_are_archived_and_rolled_up_by_street_and_hour(devices, brain_dir):
    t = [HOUR + 60 * i for i in range(4)]
    report = actions.upload_readings(
        decode_json(_json(["W1"] * 4, t, [10.0, 10.5, 11.0, 11.25])), source="test"
    )
    assert report.accepted == 4 and report.rejected_total == 0
    con = archive.connect(brain_dir)
    assert con.execute("select count(*), max(value) from readings where device = 'W1'").fetchone() == (
        4,
        11.25,
    )
    row = Hourly.objects.get(street__code="D1S1", kind="water")
    assert row.readings == 4 and row.devices == 1
    assert row.consumption == pytest.approx(1.25)
    assert Checkpoint.objects.get().generation == 1


def test_bad_readings_are_counted_and_kept_with_their_reason(devices, brain_dir):
    now = time.time()
    body = _json(
        ["W2", "NOPE", "W2", "W2", "W2"],
        [HOUR, HOUR, HOUR + 60, HOUR + 120, int(now) + 86400],
        [5.0, 1.0, "x", 4.0, 6.0],
    )
    report = actions.upload_readings(decode_json(body), source="test")
    assert report.accepted == 1
    assert report.rejected == {
        "unknown_device": 1,
        "not_numeric": 1,
        "counter_backwards": 1,
        "future_timestamp": 1,
    }
    tallies = dict(RejectTally.objects.values_list("reason", "count"))
    assert tallies == report.rejected
    con = archive.connect(brain_dir)
    kept = dict(con.execute("select reason, count(*) from rejects group by reason").fetchall())
    assert kept == report.rejected
    assert con.execute("select device from rejects where reason = 'unknown_device'").fetchone() == ("NOPE",)


def test_a_device_reporting_twice_in_an_hour_counts_once_across_batches(devices):
    actions.upload_readings(decode_json(_json(["W1"], [HOUR], [1.0])), source="test")
    actions.upload_readings(
        decode_json(_json(["W1", "W3"], [HOUR + 900, HOUR + 900], [2.0, 7.0])), source="test"
    )
    rows = {r.street.code: r for r in Hourly.objects.select_related("street")}
    assert rows["D1S1"].devices == 1 and rows["D1S1"].readings == 2
    assert rows["D2S1"].devices == 1


def test_parts_another_process_wrote_before_it_was_killed_are_discarded_by_the_engine_that_stays(
    devices, brain_dir
):
    """Two workers share a brain directory. One writes its next generation's parts and is killed before
    the database commit; the other, whose engine is still at the committed generation, takes the lock
    next. Those parts must go: left in the archive they were counted nowhere, and the redelivered readings
    were refused as repeats of them (CI: 3,041 of 100,000 in test_mqtt_at_scale)."""
    from cityloop.brain.archive.archive import ArchiveBuffer

    actions.upload_readings(decode_json(_json(["W1"], [HOUR], [1.0])), source="test")  # generation 1
    with engine.session() as e:
        # the killed peer's parts: generation 2, in other hours than this process's next ones
        peer = ArchiveBuffer()
        n = 3
        peer.add_readings(
            np.array(["W3"] * n, dtype=object),
            np.zeros(n, dtype=np.int64),
            np.array(["water"] * n, dtype=object),
            np.array([HOUR + 7200 * (i + 1) for i in range(n)]),
            np.ones(n),
            np.zeros(n),
            "mqtt",
        )
        archive.write_generation(e.root, e.state_dir, peer, e.generation + 1)
    again = actions.upload_readings(decode_json(_json(["W1"], [HOUR + 900], [2.0])), source="test")
    assert again.accepted == 1
    replay = actions.upload_readings(
        decode_json(_json(["W3"] * n, [HOUR + 7200 * (i + 1) for i in range(n)], [1.0] * n)), source="test"
    )
    assert replay.accepted == n and replay.rejected_total == 0  # not repeats of the peer's lost parts
    con = archive.connect(brain_dir)
    rows, distinct = con.execute("select count(*), count(distinct (device, ts)) from readings").fetchone()
    assert rows == distinct == Checkpoint.objects.get(name="main").readings == 2 + n


def test_a_crash_before_the_commit_leaves_no_trace_and_the_replay_counts_once(devices, brain_dir):
    batch = decode_json(_json(["W1", "W1"], [HOUR, HOUR + 900], [1.0, 3.0]))
    with engine.session() as e:
        from cityloop.brain.ingest.pipeline import ingest_batch

        ingest_batch(batch, engine=e, source="test")
        # what a checkpoint writes before the database commit, then the process dies
        archive.write_generation(e.root, e.state_dir, e.buffer, e.generation + 1)
    engine.forget_engines()
    actions.upload_readings(batch, source="test")
    con = archive.connect(brain_dir)
    assert con.execute("select count(*), sum(consumption) from readings").fetchone() == (2, 2.0)
    assert np.isclose(Hourly.objects.get(street__code="D1S1").consumption, 2.0)


def test_a_late_reading_is_archived_once_and_its_repeat_is_found_in_the_archive(devices, brain_dir):
    t = [HOUR + 900 * i for i in range(8)]  # more than a device's ring remembers
    actions.upload_readings(decode_json(_json(["W1"] * 8, t, [float(i) for i in range(8)])), source="test")
    late = actions.upload_readings(decode_json(_json(["W1"], [HOUR + 60], [0.1])), source="test")
    assert late.accepted == 1 and late.rejected_total == 0
    # the first reading is older than the ring: the archive on disk answers that it was seen
    again = actions.upload_readings(
        decode_json(_json(["W1", "W1"], [HOUR, HOUR + 60], [0.0, 0.1])), source="test"
    )
    assert again.accepted == 0 and again.rejected == {"duplicate_or_old": 2}
    con = archive.connect(brain_dir)
    assert con.execute(
        "select count(*), count(distinct ts) from readings where device = 'W1'"
    ).fetchone() == (
        9,
        9,
    )
    assert Checkpoint.objects.get().readings == 9
