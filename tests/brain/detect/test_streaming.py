"""Behaviour of CityLoop's vectorised streaming detector (no DB)."""

import numpy as np

from cityloop.brain.detect.streaming import StreamingDetector, score_many


def noise(n=2000, seed=0):
    return 10.0 + np.random.default_rng(seed).normal(0, 1.0, n)


def test_spike_scores_higher_than_steady_noise():
    x = noise()
    x[1500] += 15.0
    s = StreamingDetector().score_series(x)
    assert s[1500] > 0.5
    assert s[1500] > s[400:1490].max()


def test_level_shift_scores_higher_than_steady_noise():
    x = noise(seed=1)
    x[1500:] += 8.0
    s = StreamingDetector().score_series(x)
    assert s[1500:1520].max() > s[400:1490].max()


def test_scores_in_unit_interval():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [rng.normal(0, 1, 500), rng.normal(100, 50, 500), np.zeros(300), rng.exponential(5, 500)]
    )
    s = StreamingDetector().score_series(x)
    assert np.all(np.isfinite(s))
    assert s.min() >= 0.0 and s.max() <= 1.0


def test_batch_equals_each_series_alone():
    series = [noise(800, seed=k) * (k + 1) for k in range(4)]
    series[2][600] += 40.0
    series.append(noise(500, seed=9))  # a shorter series (padded with NaN in the batch)
    batch = score_many(series)
    det = StreamingDetector()
    for x, b in zip(series, batch, strict=True):
        np.testing.assert_allclose(det.score_series(x), b, rtol=0, atol=1e-12)


def test_nan_inputs_do_not_poison_state():
    x = noise(1500, seed=3)
    y = x.copy()
    y[[700, 701, 900]] = np.nan
    s = StreamingDetector().score_series(y)
    assert np.all(np.isfinite(s))
    assert s[[700, 701, 900]].tolist() == [0.0, 0.0, 0.0]
    det = StreamingDetector(1)
    for v in y:
        det.update(np.array([v]))
    assert np.all(np.isfinite(det.state))


def test_state_is_small():
    det = StreamingDetector(1000)
    assert det.bytes_per_series <= 300
    assert det.state.nbytes == 1000 * det.bytes_per_series
