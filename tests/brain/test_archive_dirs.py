"""A web node reads every shard's brain folder: ``CITYLOOP_BRAIN_ARCHIVE_DIRS``.

Each shard worker keeps its own brain folder (``cityloop-brain@.service``: ``brain-<shard>``), so the
device pages of a web node must look in all of them: a device's readings are in its shard's folder only.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from cityloop.brain import queries
from cityloop.brain.archive import archive
from cityloop.core import config

T0 = 1_780_000_000.0  # 2026-05-28, seconds


def _archive(root, device: str, stamps: list[float], values: list[float]) -> None:
    buffer = archive.ArchiveBuffer()
    n = len(stamps)
    buffer.add_readings(
        np.array([device] * n, dtype=object),
        np.zeros(n, dtype=np.int32),
        np.array(["water"] * n, dtype=object),
        np.array(stamps),
        np.array(values),
        np.zeros(n),
        "test",
    )
    (root / "state").mkdir(parents=True, exist_ok=True)
    archive.write_generation(root, root / "state", buffer, 1)


def test_readings_of_a_device_in_another_shards_folder_are_found(brain_dir, tmp_path, monkeypatch):
    shard1 = tmp_path / "brain-1"
    _archive(brain_dir, "W-0", [T0, T0 + 900], [1.0, 2.0])
    _archive(shard1, "W-1", [T0 + 60, T0 + 960], [5.0, 6.0])
    meter0, meter1 = SimpleNamespace(code="W-0"), SimpleNamespace(code="W-1")
    now = T0 + 3600

    monkeypatch.delenv("CITYLOOP_BRAIN_ARCHIVE_DIRS", raising=False)
    assert queries.recent_readings(meter1, now=now)[1] == []
    assert queries.latest_reading(meter1) is None

    monkeypatch.setenv("CITYLOOP_BRAIN_ARCHIVE_DIRS", os.pathsep.join([str(shard1), str(brain_dir)]))
    assert config.brain_archive_dirs() == [brain_dir, shard1]  # its own first, no folder twice
    assert queries.recent_readings(meter1, now=now)[:2] == ([T0 + 60, T0 + 960], [5.0, 6.0])
    assert queries.recent_readings(meter0, now=now)[:2] == ([T0, T0 + 900], [1.0, 2.0])
    ts, value = queries.latest_reading(meter1)
    assert (ts.timestamp(), value) == (T0 + 960, 6.0)


def test_the_mqtt_status_comes_from_whichever_folder_a_worker_last_wrote(brain_dir, tmp_path, monkeypatch):
    shard1 = tmp_path / "brain-1"
    for root, seen_at, dropped in ((brain_dir, 100.0, 1), (shard1, 200.0, 7)):
        (root / "state").mkdir(parents=True, exist_ok=True)
        (root / "state" / "mqtt.json").write_text(json.dumps({"dropped": dropped, "seen_at": seen_at}))
    monkeypatch.setenv("CITYLOOP_BRAIN_ARCHIVE_DIRS", str(shard1))
    assert queries.mqtt_broker_dropped()["dropped"] == 7


def test_a_listed_folder_that_does_not_exist_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYLOOP_BRAIN_ARCHIVE_DIRS", str(tmp_path / "missing"))
    with pytest.raises(config.ConfigError, match="CITYLOOP_BRAIN_ARCHIVE_DIRS"):
        config.brain_archive_dirs()
    assert any("CITYLOOP_BRAIN_ARCHIVE_DIRS" in m for m in config.check_later_values())
