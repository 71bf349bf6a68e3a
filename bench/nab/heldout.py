"""Held-out NAB score for CityLoop's NAB detector (two-fold, by file).

The detector's defaults were tuned on the whole corpus, so ``make bench-nab``'s
main figure is in-sample. This module reports a held-out figure beside it:

* **split** — the corpus files, sorted by path (``category/file.csv``), are
  dealt alternately within each NAB category: the 1st, 3rd, 5th … file of a
  category go to half A, the 2nd, 4th … to half B. Fixed, documented, and
  stratified by category (``split_halves``).
* **tune** — a small grid over the streaming detector's parameters and the
  share of its score beside the contextual detector's (``GRID``; the contextual
  detector has no parameter tuned here, its scores are computed once). Each
  grid point is ONE parameter set for every file; the detectors see no label
  and no reading ahead (the value range excepted, see nab.py). The point with the best NAB
  standard score on the tuning half (NAB's threshold optimiser and
  normalisation, ``scorer.score_sweeps``, on that half alone) is chosen.
* **score** — the chosen parameters score the other half with NAB's own
  optimiser and normalisation (the threshold is optimised on the scored half,
  exactly as NAB does for any detector), for every profile.

Both directions (tune A → score B, tune B → score A) are printed with their mean.
Only the labels of the tuning half choose the parameters.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cityloop.brain.detect.nab import STREAMING_WEIGHT, context_scores_many, data_files
from cityloop.brain.detect.streaming import score_many

from .scorer import (
    PROFILES,
    CorpusScore,
    FileSweep,
    calc_sweep,
    parse_timestamps,
    read_series,
    score_sweeps,
    window_indices,
)

# A small grid over the parameters that shape the score (5 × 3 × 3 × 3 = 135 points): the streaming
# score's share beside the contextual one (``weight``), and in the streaming detector how fast the
# short error average reacts, how long an alarm is remembered, and how the raw error is squashed.
# Every other parameter keeps its default. The defaults are one of the points.
GRID: dict[str, tuple[float, ...]] = {
    "weight": (0.6, 0.7, STREAMING_WEIGHT, 0.9, 1.0),
    "alpha_short": (0.1, 0.2, 0.4),
    "memo_decay": (0.99, 0.995, 0.999),
    "err_scale": (2.0, 3.0, 5.0),
}


def grid_points(grid: dict[str, tuple[float, ...]] = GRID) -> list[dict[str, float]]:
    keys = sorted(grid)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(grid[k] for k in keys))]


def split_halves(rel_paths: list[str]) -> tuple[list[str], list[str]]:
    """Sorted by path, alternate within each category: (half A, half B)."""
    a: list[str] = []
    b: list[str] = []
    by_cat: dict[str, list[str]] = {}
    for rel in sorted(rel_paths):
        by_cat.setdefault(rel.split("/")[0], []).append(rel)
    for cat in sorted(by_cat):
        for i, rel in enumerate(by_cat[cat]):
            (a if i % 2 == 0 else b).append(rel)
    return a, b


@dataclass
class Corpus:
    names: list[str]
    values: list[np.ndarray]
    windows: dict[str, list[tuple[int, int]]]

    def sweeps(self, scores: list[np.ndarray], subset: list[str]) -> list[FileSweep]:
        pos = {n: i for i, n in enumerate(self.names)}
        return [calc_sweep(n, scores[pos[n]], self.windows[n]) for n in subset]


def load_corpus(data_dir: str | Path) -> Corpus:
    data_dir = Path(data_dir)
    labels = json.loads((data_dir / "labels" / "combined_windows.json").read_text())
    names, values, windows = [], [], {}
    for rel, path in data_files(data_dir):
        ts, vals = read_series(path)
        names.append(rel)
        values.append(vals)
        windows[rel] = window_indices(parse_timestamps(ts), labels.get(rel, []))
    return Corpus(names, values, windows)


def score_half(corpus: Corpus, scores: list[np.ndarray], subset: list[str]) -> CorpusScore:
    return score_sweeps("cityloop", corpus.sweeps(scores, subset), PROFILES)


@dataclass
class Fold:
    tune: str
    test: str
    params: dict[str, float]
    tune_standard: float
    heldout: CorpusScore
    default_on_test: CorpusScore


def heldout(
    data_dir: str | Path,
    grid: dict[str, tuple[float, ...]] = GRID,
    processes: int = 1,
    context: list[np.ndarray] | None = None,
) -> tuple[list[Fold], int]:
    """Two folds (A→B, B→A); returns the folds and the number of grid points tried. ``context``: the
    contextual detector's scores if already computed (data_files' order)."""
    corpus = load_corpus(data_dir)
    half_a, half_b = split_halves(corpus.names)
    points = grid_points(grid)
    if context is None:
        context = context_scores_many(corpus.values, processes)
    streaming: dict[tuple, list[np.ndarray]] = {}
    results = []  # (params, standard on A, standard on B, scores)
    for params in points:
        streaming_params = {k: v for k, v in params.items() if k != "weight"}
        key = tuple(sorted(streaming_params.items()))
        if key not in streaming:
            streaming[key] = score_many(corpus.values, **streaming_params)
        weight = params.get("weight", STREAMING_WEIGHT)
        scores = [np.maximum(c, weight * s) for c, s in zip(context, streaming[key], strict=True)]
        sa = score_half(corpus, scores, half_a).normalized["standard"]
        sb = score_half(corpus, scores, half_b).normalized["standard"]
        results.append((params, sa, sb, scores))
    default_scores = [
        np.maximum(c, STREAMING_WEIGHT * s) for c, s in zip(context, score_many(corpus.values), strict=True)
    ]
    folds = []
    for tune_name, tune_idx, test_name, test_half in (("A", 1, "B", half_b), ("B", 2, "A", half_a)):
        # first of equal maxima, in grid order: deterministic
        best = max(range(len(results)), key=lambda i: (results[i][tune_idx], -i))
        params, scores = results[best][0], results[best][3]
        folds.append(
            Fold(
                tune_name,
                test_name,
                params,
                results[best][tune_idx],
                score_half(corpus, scores, test_half),
                score_half(corpus, default_scores, test_half),
            )
        )
    return folds, len(points)
