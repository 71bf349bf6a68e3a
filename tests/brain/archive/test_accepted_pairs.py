"""archive.accepted_pairs: whether each (device, second) was accepted, in the open checkpoint's buffer or
in the archive's hour folders, matched as one int64 per pair; exact to the microsecond."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cityloop.brain.archive import archive

HOUR = 1_780_000_000 // 3600 * 3600


def _buffer(device: list[str], ts: list[int]) -> archive.ArchiveBuffer:
    buf = archive.ArchiveBuffer()
    n = len(device)
    buf.add_readings(
        pa.array(device, pa.string()),
        np.arange(n),
        np.array(["water"] * n, dtype=object),
        np.array(ts, dtype=np.int64),
        np.ones(n),
        np.zeros(n),
        "test",
    )
    return buf


def test_pairs_are_found_in_the_buffer_and_in_the_archive_and_only_the_exact_ones(tmp_path):
    written = _buffer(["A", "A", "B"], [HOUR, HOUR + 900, HOUR + 60])
    archive.write_generation(tmp_path, tmp_path / "state", written, 1)
    open_cp = _buffer(["C", "A"], [HOUR + 1800, HOUR + 2700])
    device = ["A", "A", "B", "B", "C", "C", "A", "D", "A"]
    ts = np.array([HOUR, HOUR + 900, HOUR + 60, HOUR, HOUR + 1800, HOUR + 900, HOUR + 2700, HOUR, HOUR + 1])
    got = archive.accepted_pairs(tmp_path, open_cp, device, ts)
    # archive: (A, 0), (A, 900), (B, 60); buffer: (C, 1800), (A, 2700); the rest swap a device or a time
    assert got.tolist() == [True, True, True, False, True, False, True, False, False]


def test_a_fraction_of_a_second_is_not_the_whole_second(tmp_path):
    buf = _buffer(["A"], [HOUR])
    assert archive.accepted_pairs(tmp_path, buf, ["A", "A"], np.array([HOUR + 0.5, HOUR])).tolist() == [
        False,
        True,
    ]


def test_nothing_accepted_yet(tmp_path):
    got = archive.accepted_pairs(tmp_path, archive.ArchiveBuffer(), ["A", "B"], np.array([HOUR, HOUR]))
    assert got.tolist() == [False, False]
