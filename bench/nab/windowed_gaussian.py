"""NAB's reference Windowed Gaussian detector, reproduced.

Same behaviour as numenta/NAB ``nab/detectors/gaussian/windowedGaussian_detector.py``:

* the first record scores 0.0 (empty window);
* every record is scored ``1 - Q(x)`` against the *current* window mean and
  population std (``numpy.std``; a std of 0 becomes 1e-6), where ``Q`` is the
  two-sided-folded Gaussian tail ``0.5 * erfc(|x - mean| / std / sqrt(2))``;
* after scoring, the record is appended to the window while it holds fewer
  than 6400 values (mean/std recomputed after every record); once full, records
  go to a step buffer and every 100 records the window slides forward by 100
  and mean/std are recomputed.

The input min/max from ``AnomalyDetector.__init__`` are not used by this
detector (in NAB either), so there is no look-ahead.
"""

from __future__ import annotations

import math

import numpy as np

WINDOW_SIZE = 6400
STEP_SIZE = 100


def windowed_gaussian_scores(
    values, window_size: int = WINDOW_SIZE, step_size: int = STEP_SIZE
) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    means = np.zeros(n)
    stds = np.ones(n)
    has = np.zeros(n, dtype=bool)
    # state (mean, std) in force when record i is scored
    mean, std = 0.0, 1.0
    # phase 1: window grows record by record -> mean/std of x[:i]
    grow = min(n, window_size)
    for i in range(n):
        if i > 0:
            has[i] = True
        means[i], stds[i] = mean, std
        if i < window_size:
            # append and update
            w = x[: i + 1]
            mean = float(np.mean(w))
            std = float(np.std(w))
            if std == 0.0:
                std = 0.000001
        else:
            # step buffer holds x[window_size + k*step : i+1]
            if (i + 1 - window_size) % step_size == 0:
                end = i + 1
                w = x[end - window_size : end]
                mean = float(np.mean(w))
                std = float(np.std(w))
                if std == 0.0:
                    std = 0.000001
    del grow
    z = np.abs(x - means) / stds
    q = 0.5 * np.array([math.erfc(v / math.sqrt(2.0)) for v in z])
    scores = np.where(has, 1.0 - q, 0.0)
    return scores


class WindowedGaussianDetector:
    """Record-at-a-time form, for parity with NAB's ``handleRecord``."""

    def __init__(self, window_size: int = WINDOW_SIZE, step_size: int = STEP_SIZE):
        self.window_size = window_size
        self.step_size = step_size
        self.window: list[float] = []
        self.step_buffer: list[float] = []
        self.mean = 0.0
        self.std = 1.0

    def handle_record(self, value: float) -> float:
        score = 0.0
        if self.window:
            z = abs(value - self.mean) / self.std
            score = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
        if len(self.window) < self.window_size:
            self.window.append(value)
            self._update()
        else:
            self.step_buffer.append(value)
            if len(self.step_buffer) == self.step_size:
                self.window = self.window[self.step_size :] + self.step_buffer
                self.step_buffer = []
                self._update()
        return score

    def _update(self) -> None:
        self.mean = float(np.mean(self.window))
        self.std = float(np.std(self.window))
        if self.std == 0.0:
            self.std = 0.000001
