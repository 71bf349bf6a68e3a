"""Brain workers on different hosts: each shard has its own root and its own checkpoint row."""

from __future__ import annotations

import orjson
import pytest

from cityloop.brain import actions, engine
from cityloop.brain.archive import archive
from cityloop.brain.ingest.codec import decode_json
from cityloop.brain.models import Checkpoint
from cityloop.core import config

pytestmark = pytest.mark.django_db

HOUR = 1_780_000_000 // 3600 * 3600


def _as_shard(settings, monkeypatch, root, shard) -> None:
    """This process now runs as the host owning ``shard`` (its own brain directory)."""
    settings.CITYLOOP_BRAIN_DIR = str(root)
    monkeypatch.setenv("CITYLOOP_BRAIN_SHARD", shard)
    engine.forget_engines()


def _upload(device: str, start: int) -> None:
    t = [start + 900 * i for i in range(3)]
    body = orjson.dumps({"d": [device] * 3, "t": t, "v": [float(x - HOUR) / 900 for x in t]})
    report = actions.upload_readings(decode_json(body), source="test")
    assert report.accepted == 3, report


def test_two_shards_on_two_roots_commit_side_by_side_and_each_resumes_its_own(
    devices, tmp_path, settings, monkeypatch
):
    # Before: both committed the one "main" row; the second root found no state file for the
    # first one's generation ("restore the brain directory from backup") and its worker died.
    a, b = tmp_path / "brain-a", tmp_path / "brain-b"
    _as_shard(settings, monkeypatch, a, "0")
    _upload("W1", HOUR)
    _as_shard(settings, monkeypatch, b, "1")
    _upload("W2", HOUR)
    _upload("W2", HOUR + 2700)
    _as_shard(settings, monkeypatch, a, "0")  # a restarted host 0 resumes from its own checkpoint
    _upload("W1", HOUR + 2700)
    points = {cp.name: cp for cp in Checkpoint.objects.all()}
    assert set(points) == {"0", "1"}
    assert (points["0"].generation, points["0"].readings) == (2, 6)
    assert (points["1"].generation, points["1"].readings) == (2, 6)
    for root, device in ((a, "W1"), (b, "W2")):
        rows = (
            archive.connect(root).execute("select device, count(*) from readings group by device").fetchall()
        )
        assert rows == [(device, 6)]


def test_a_shard_name_that_is_not_a_plain_word_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CITYLOOP_BRAIN_SHARD", "a/b")
    with pytest.raises(config.ConfigError, match="CITYLOOP_BRAIN_SHARD='a/b' must be 1 to 32 letters"):
        config.brain_shard()
    monkeypatch.delenv("CITYLOOP_BRAIN_SHARD")
    assert config.brain_shard() == "main"
