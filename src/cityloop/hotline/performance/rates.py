"""The rates units are judged by — defined here and only here (docs/metrics.md explains them).

All are computed from :class:`Counts`, which ``stats.py`` gathers per unit, month and category
from the requests themselves. A rate with an empty denominator is ``None`` ("no data"), never 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

DEFAULT_WEIGHTS = {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45}
MIN_ASSESSMENT_WEIGHT = 1 / 3
MAX_REPLY_QUALITY_WEIGHT = 0.5
RATES = ("response", "resolution", "satisfaction", "overdue", "returned")


@dataclass
class Counts:
    received: int = 0  # requests received in the period (merged duplicates excluded: handled once)
    response_due: int = 0  # of those, whose response limit has passed or who were answered
    responded: int = 0  # … answered (first contact with the citizen, or the reply) within the limit
    followed_up: int = 0  # requests whose citizen answered the follow-up (merged duplicates included)
    resolved: int = 0  # … who said "resolved" (the latest answer counts after a reopen)
    satisfied: int = 0  # … "satisfied"
    basic: int = 0  # … "basically satisfied"
    orders: int = 0  # orders the unit(s) received
    returned: int = 0  # … sent back to the dispatcher
    overdue: int = 0  # requests replied after the finish limit, or still unreplied past it
    open_at_end: int = 0  # requests not closed at the end of the period
    closed: int = 0  # requests closed
    close_hours_sum: float = 0.0  # hours from receipt to close, summed over closed requests

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def as_dict(self) -> dict:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else numerator / denominator


def response_rate(c: Counts) -> float | None:
    """响应率: answered in time ÷ requests whose response was due."""
    return _ratio(c.responded, c.response_due)


def resolution_rate(c: Counts) -> float | None:
    """解决率: "resolved" answers ÷ follow-up answers; requests never followed up are left out."""
    return _ratio(c.resolved, c.followed_up)


def satisfaction_rate(c: Counts) -> float | None:
    """满意率: ("satisfied" + "basically satisfied") ÷ follow-up answers."""
    return _ratio(c.satisfied + c.basic, c.followed_up)


def overdue_rate(c: Counts) -> float | None:
    return _ratio(c.overdue, c.received)


def returned_rate(c: Counts) -> float | None:
    return _ratio(c.returned, c.orders)


def follow_up_coverage(c: Counts) -> float | None:
    return _ratio(c.followed_up, c.received)


def mean_close_hours(c: Counts) -> float | None:
    return _ratio(c.close_hours_sum, c.closed)


RATE_FUNCTIONS = {
    "response": response_rate,
    "resolution": resolution_rate,
    "satisfaction": satisfaction_rate,
    "overdue": overdue_rate,
    "returned": returned_rate,
}


def rates(c: Counts) -> dict[str, float | None]:
    return {name: fn(c) for name, fn in RATE_FUNCTIONS.items()}


def check_weights(weights: dict[str, float]) -> dict[str, float]:
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown rate(s) in the score weights: {', '.join(sorted(unknown))}")
    if any(w < 0 for w in weights.values()):
        raise ValueError("score weights cannot be negative")
    if abs(sum(weights.values()) - 1.0) > 1e-9:
        raise ValueError(f"score weights must add up to 1, not {sum(weights.values()):g}")
    return weights


def composite(c: Counts, weights: dict[str, float] | None = None) -> float | None:
    """The weighted score (0-1) over the rates that have data; None when none has."""
    weights = check_weights(weights or DEFAULT_WEIGHTS)
    values = {name: RATE_FUNCTIONS[name](c) for name in weights}
    present = {name: v for name, v in values.items() if v is not None}
    total = sum(weights[name] for name in present)
    if not present or total == 0:
        return None
    return sum(weights[name] * v for name, v in present.items()) / total


def check_assessment_weight(weight: float) -> float:
    """Streets' assessment must weigh at least one third of a department's performance."""
    if not MIN_ASSESSMENT_WEIGHT - 1e-9 <= weight <= 1:
        raise ValueError(
            f"the streets' assessment must weigh between 1/3 and 1 of a department's performance "
            f"(got {weight:g})"
        )
    return weight


def assessment_score(form_scores: list[float], whistle_ratings: list[int]) -> float | None:
    """0-1: the mean of monthly forms (0-100) and whistle ratings (1-5), half and half when both exist."""
    parts = []
    if form_scores:
        parts.append(sum(form_scores) / len(form_scores) / 100)
    if whistle_ratings:
        parts.append((sum(whistle_ratings) / len(whistle_ratings) - 1) / 4)
    return sum(parts) / len(parts) if parts else None


def performance(own: float | None, assessment: float | None, assessment_weight: float) -> float | None:
    """A department's performance: its own composite blended with the streets' assessment."""
    check_assessment_weight(assessment_weight)
    if own is None and assessment is None:
        return None
    if assessment is None:
        return own
    if own is None:
        return assessment
    return (1 - assessment_weight) * own + assessment_weight * assessment


def check_reply_quality_weight(weight: float) -> float:
    """答复意见质量 in the ranking: 0 (off, the default) up to one half of the score."""
    if not 0 <= weight <= MAX_REPLY_QUALITY_WEIGHT:
        raise ValueError(f"the reply quality must weigh between 0 and 0.5 of the score (got {weight:g})")
    return weight


def with_reply_quality(score: float | None, quality: float | None, weight: float) -> float | None:
    """The score blended with the mean quality (0-1) of the unit's replies; unchanged without either."""
    check_reply_quality_weight(weight)
    if weight == 0 or quality is None:
        return score
    if score is None:
        return None  # quality alone does not rank a unit: its rates carry the score
    return (1 - weight) * score + weight * quality


def describe_change(label: str, before: float | None, after: float | None) -> str:
    """The monthly report's sentence, in the seed's words: "resolution rate rose from A% to B%"."""
    if before is None or after is None:
        return f"{label}: {'no data' if after is None else f'{after:.2%}'} (no comparison)"
    verb = "rose" if after > before else "fell" if after < before else "held"
    if verb == "held":
        return f"{label} held at {after:.2%}"
    return f"{label} {verb} from {before:.2%} to {after:.2%}"
