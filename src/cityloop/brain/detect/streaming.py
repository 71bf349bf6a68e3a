"""CityLoop's general streaming anomaly detector (no Django, numpy only).

State for many independent series lives in a few float64 numpy arrays indexed
by series, so one :meth:`StreamingDetector.update` call scores one reading of
every series at once (vectorised).  Each series needs ``STATE_FIELDS`` float64
values (see :attr:`StreamingDetector.bytes_per_series`).

Pipeline, per reading ``x`` of a series:

1. **robust baseline** — a fast and a slow EWMA mean with an EWMA of the
   absolute deviation (robust scale); updates are winsorised (residuals are
   clipped to a few scales) so single outliers do not drag the baseline;
2. **raw error** — the larger of the point error ``|x - fast| / scale``, the
   level shift ``|fast - slow| / scale`` and a "new range" term when ``x``
   leaves the (slowly decaying) min/max envelope learned so far, squashed to
   ``[0, 1]``;
3. **anomaly likelihood** (after HTM's): a short EWMA of the raw error is
   compared with the long-run mean/variance of that short average; the Gaussian
   tail gives a likelihood, reported on HTM's log scale;
4. **alarm shaping** — a decaying memory of the last alarm: a reading only
   scores high when it is clearly more surprising than what was already
   reported recently, so one incident yields one early alarm instead of a burst.

The first ``warmup`` readings of a series (its learning period) score 0.
NaN readings neither update state nor raise scores (they score 0).
"""

from __future__ import annotations

import numpy as np

# state layout (one column each)
_FIELDS = (
    "n",  # readings seen (float)
    "fast",  # fast EWMA mean
    "slow",  # slow EWMA mean
    "scale",  # EWMA absolute deviation from the fast mean (robust scale)
    "lo",  # decaying min envelope
    "hi",  # decaying max envelope
    "short",  # short EWMA of the raw error
    "lmean",  # long EWMA mean of `short`
    "lvar",  # long EWMA variance of `short`
    "memo",  # decaying memory of the last alarm level
)
STATE_FIELDS = len(_FIELDS)
_IX = {name: i for i, name in enumerate(_FIELDS)}


class StreamingDetector:
    """Vectorised detector for ``n_series`` independent streams."""

    def __init__(
        self,
        n_series: int = 1,
        *,
        alpha_fast: float = 0.5,
        alpha_slow: float = 0.01,
        alpha_scale: float = 0.003,
        clip: float = 4.0,
        envelope_decay: float = 0.0001,
        alpha_short: float = 0.2,
        alpha_long: float = 0.002,
        warmup: int = 150,
        memo_decay: float = 0.995,
        w_point: float = 1.0,
        w_shift: float = 1.0,
        w_range: float = 1.0,
        err_scale: float = 3.0,
        mode: str = "lik",
        memo_pow: float = 1.0,
    ) -> None:
        self.n_series = int(n_series)
        self.p = dict(
            alpha_fast=alpha_fast,
            alpha_slow=alpha_slow,
            alpha_scale=alpha_scale,
            clip=clip,
            envelope_decay=envelope_decay,
            alpha_short=alpha_short,
            alpha_long=alpha_long,
            warmup=warmup,
            memo_decay=memo_decay,
            w_point=w_point,
            w_shift=w_shift,
            w_range=w_range,
            err_scale=err_scale,
            mode=mode,
            memo_pow=memo_pow,
        )
        self.state = np.zeros((STATE_FIELDS, self.n_series), dtype=np.float64)

    # ------------------------------------------------------------------ API
    @property
    def bytes_per_series(self) -> int:
        return STATE_FIELDS * self.state.dtype.itemsize

    def update(self, values, ts=None) -> np.ndarray:
        """Feed one reading per series (NaN = no reading); returns scores in [0, 1]."""
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n_series:
            raise ValueError(f"expected {self.n_series} values, got {x.shape[0]}")
        p = self.p
        st = self.state
        n, fast, slow, scale = st[0], st[1], st[2], st[3]
        lo, hi, short, lmean, lvar, memo = st[4], st[5], st[6], st[7], st[8], st[9]

        ok = np.isfinite(x)
        xv = np.where(ok, x, 0.0)
        first = ok & (n == 0)
        # initialise on the first reading
        fast[first] = xv[first]
        slow[first] = xv[first]
        lo[first] = xv[first]
        hi[first] = xv[first]
        scale[first] = 0.0

        # robust scale floor: relative to the level so flat lines do not explode
        eps = 1e-9 + 1e-6 * np.abs(hi - lo)
        sc = np.maximum(scale, eps)

        # ---- raw error terms (before updating the baseline)
        point = np.abs(xv - fast) / sc
        shift = np.abs(fast - slow) / sc
        span = np.maximum(hi - lo, sc)
        out_hi = np.maximum(xv - hi, 0.0)
        out_lo = np.maximum(lo - xv, 0.0)
        rng = (out_hi + out_lo) / span  # how far outside the known range, in spans
        e = np.maximum(p["w_point"] * point, p["w_shift"] * shift)
        raw = e / (e + p["err_scale"])
        rscore = rng / (rng + 0.05)  # 0 inside the envelope, -> 1 far outside

        # ---- likelihood of the short average against its long history
        a_s = p["alpha_short"]
        new_short = short + a_s * (raw - short)
        sd = np.sqrt(np.maximum(lvar, 1e-6))
        z = (new_short - lmean) / sd
        # Gaussian upper tail, log-scaled like HTM's computeLogLikelihood
        tail = 0.5 * _erfc(z / np.sqrt(2.0))
        loglik = np.log(1.0000000001 - (1.0 - tail)) / -23.02585084720009
        loglik = np.clip(loglik, 0.0, 1.0)
        if p["mode"] == "raw":  # ablation: skip the likelihood stage
            loglik = raw
        if p["w_range"] > 0:
            loglik = np.maximum(loglik, np.where(rng > 0, 0.5 + 0.5 * p["w_range"] * rscore, 0.0))

        # ---- alarm shaping: only report what exceeds the recent alarm memory
        score = np.where(
            loglik > memo, loglik, loglik * 0.5 * (loglik / np.maximum(memo, 1e-9)) ** p["memo_pow"]
        )
        score = np.clip(score, 0.0, 1.0)
        warm = n >= p["warmup"]
        score = np.where(ok & warm, score, 0.0)

        # ---- state updates (only where a reading arrived)
        a_l = p["alpha_long"]
        d = new_short - lmean
        lmean_n = lmean + a_l * d
        lvar_n = (1 - a_l) * (lvar + a_l * d * d)
        memo_n = np.maximum(memo * p["memo_decay"], np.where(warm, loglik, 0.0))

        c = p["clip"] * sc
        r_fast = np.clip(xv - fast, -c, c)
        r_fast = np.where(n < 2, xv - fast, r_fast)
        fast_n = fast + p["alpha_fast"] * r_fast
        slow_n = slow + p["alpha_slow"] * np.clip(xv - slow, -c, c)
        a_sc = np.where(n < 50, 1.0 / (n + 1.0), p["alpha_scale"])
        scale_n = scale + a_sc * (np.minimum(np.abs(xv - fast), c * 2) - scale)
        ed = p["envelope_decay"]
        mid = 0.5 * (hi + lo)
        hi_n = np.maximum(hi - ed * (hi - mid), xv)
        lo_n = np.minimum(lo + ed * (mid - lo), xv)

        for arr, new in (
            (fast, fast_n),
            (slow, slow_n),
            (scale, scale_n),
            (lo, lo_n),
            (hi, hi_n),
            (short, new_short),
            (lmean, lmean_n),
            (lvar, lvar_n),
            (memo, memo_n),
        ):
            arr[ok] = new[ok]
        n[ok] += 1.0
        return score

    def score_series(self, values, timestamps=None) -> np.ndarray:
        """Run one series (a fresh single-series detector) and return its scores."""
        v = np.asarray(values, dtype=np.float64)
        det = StreamingDetector(1, **self.p)
        out = np.empty(len(v))
        for i in range(len(v)):
            out[i] = det.update(v[i : i + 1])[0]
        return out


def score_many(series: list, **params) -> list[np.ndarray]:
    """Run several series of different lengths through one vectorised detector."""
    n = len(series)
    L = max(len(s) for s in series)
    mat = np.full((L, n), np.nan)
    for j, s in enumerate(series):
        mat[: len(s), j] = s
    det = StreamingDetector(n, **params)
    out = np.empty((L, n))
    for i in range(L):
        out[i] = det.update(mat[i])
    return [out[: len(s), j] for j, s in enumerate(series)]


def _erfc(x: np.ndarray) -> np.ndarray:
    """Vectorised complementary error function (W. J. Cody-style rational approx, |err| < 1.2e-7)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    r = t * np.exp(
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886187
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    return np.where(x >= 0, r, 2.0 - r)
