"""The pulse's (device, hour) keys are made unique by a mark per possible key or by a sort: both
give np.unique's answer."""

from __future__ import annotations

import numpy as np
import pytest

from cityloop.brain.ingest.pipeline import unique_keys


@pytest.mark.parametrize(
    ("n_keys", "n"),
    [(10, 0), (10, 1), (1000, 50), (3_000_000, 200_000), (1 << 40, 5_000), (1 << 23, 10)],
)
def test_unique_keys_answers_as_np_unique(n_keys, n):
    rng = np.random.default_rng(n_keys % 997 + n)
    keys = rng.integers(0, n_keys, n, dtype=np.int64)
    keys = np.concatenate([keys, keys[: n // 3]])  # repeats
    got = unique_keys(keys, n_keys)
    assert got.dtype.kind == "i"
    assert np.array_equal(got, np.unique(keys))
