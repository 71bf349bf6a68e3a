"""Hand-computed checks of the NAB scorer re-implementation (no DB)."""

import math

import numpy as np
import pytest
from bench.nab.scorer import (
    PROFILES,
    calc_sweep,
    corpus_sweep,
    normalise,
    probationary_length,
    scaled_sigmoid,
    score_sweeps,
)

STD = PROFILES["standard"]
N = 100  # probation = 15 rows
WIN = [(50, 59)]  # width 10


def sig(x):
    return 1 / (1 + math.exp(-x))


def raw(detect_rows, cost=STD, windows=WIN, n=N):
    s = np.zeros(n)
    s[list(detect_rows)] = 1.0
    return corpus_sweep([calc_sweep("f", s, windows)], cost, threshold=0.5).score


def test_scaled_sigmoid_reference_points():
    assert scaled_sigmoid(-1.0) == pytest.approx(2 * sig(5) - 1)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def test_probationary_length():
    assert probationary_length(100) == 15
    assert probationary_length(4032) == 604
    assert probationary_length(22695) == 750


def test_detection_at_window_start_scores_tp_weight():
    assert raw([50]) == pytest.approx(1.0)


def test_detection_at_window_end_scores_less():
    expected = (2 * sig(5 * 0.1) - 1) / (2 * sig(5) - 1)  # position -(59-59+1)/10
    assert raw([59]) == pytest.approx(expected)
    assert raw([59]) < raw([55]) < raw([50])


def test_fp_far_from_windows_costs_fp_weight():
    # row 30: before the first window -> -fpWeight, plus the missed window
    assert raw([30]) == pytest.approx(-STD["fpWeight"] - STD["fnWeight"])


def test_fp_just_after_window_uses_sigmoid_of_distance():
    d = (65 - 59) / (10 - 1)
    assert raw([50, 65]) == pytest.approx(1.0 + STD["fpWeight"] * (2 * sig(-5 * d) - 1))


def test_only_first_detection_in_window_counts():
    assert raw([50, 52, 55, 59]) == pytest.approx(raw([50]))
    assert raw([55, 59]) == pytest.approx(raw([55]))


def test_probationary_rows_ignored():
    assert raw([3, 10, 14]) == pytest.approx(-1.0)
    assert raw([15]) == pytest.approx(-1.0 - STD["fpWeight"])


def test_normalisation_perfect_and_null():
    perfect = np.zeros(N)
    perfect[50] = 1.0
    cs = score_sweeps("p", [calc_sweep("f", perfect, WIN)])
    for prof in PROFILES:
        assert cs.normalized[prof] == pytest.approx(100.0)
    null = score_sweeps("n", [calc_sweep("f", np.full(N, 0.5), WIN)])
    for prof in PROFILES:
        assert null.normalized[prof] == pytest.approx(0.0)
    assert normalise(-2.0, 2, PROFILES["reward_low_FN_rate"]) == pytest.approx(100 * 2 / 6)


def test_threshold_sweep_picks_best_threshold():
    s = np.zeros(N)
    s[50] = 0.9  # true positive
    s[30] = 0.8  # false positive
    r = corpus_sweep([calc_sweep("f", s, WIN)], STD)
    assert r.threshold == pytest.approx(0.9)
    assert r.score == pytest.approx(1.0)
    assert (r.tp, r.fp) == (1, 0)


def test_low_fp_profile_doubles_fp_cost():
    assert raw([30], PROFILES["reward_low_FP_rate"]) == pytest.approx(-0.22 - 1.0)
    assert raw([], PROFILES["reward_low_FN_rate"]) == pytest.approx(-2.0)
