"""The heat index of an issue and the early-warning rule (docs/hot_issues.md explains each term).

heat = Σ weight × log(1 + term), over:

* ``callers``  distinct people who wrote (one person writing 90 times is one voice);
* ``messages`` how many messages (repeats still say the problem is not solved);
* ``likes``    the others' "me too" (点赞);
* ``dislikes`` disagreement (反对) is attention too, worth less than agreement;
* ``peak``     distinct callers in the busiest 14 days: growth, a problem flaring up;
* ``weeks``    weeks from the first message to the last: spread over time, a problem that keeps
               coming back is not solved.

The sum is multiplied by the issue's ``focus``: the share of its messages that name its main place
or group. An issue is one problem at one place; a cluster whose messages name many places (a
theme across the city, the crossings of a long road) is less of a hot spot, and goes down.

Logs, because attention has diminishing returns: the thousandth like says less than the tenth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WEIGHTS = {"callers": 1.0, "messages": 0.5, "likes": 0.4, "dislikes": 0.2, "peak": 0.6, "weeks": 0.3}
PEAK_DAYS = 14

# Early warning: a growing issue is flagged the first day it has this many distinct callers within
# the last WARN_DAYS days. Likes are left out on purpose: a file only has today's like counts, so a
# replay that used them would know the future.
WARN_CALLERS = 3
WARN_DAYS = 14


@dataclass(frozen=True)
class HeatTerms:
    callers: int
    messages: int
    likes: int
    dislikes: int
    peak: int
    weeks: float
    focus: float = 1.0  # share of the messages that name the place or group

    @property
    def heat(self) -> float:
        return self.focus * sum(w * math.log1p(getattr(self, name)) for name, w in WEIGHTS.items())


def peak_callers(times_and_users: Sequence[tuple[datetime, str]], days: int = PEAK_DAYS) -> int:
    """The most distinct callers in any ``days``-long window (windows start at a message)."""
    items = sorted(times_and_users)
    best, lo = 0, 0
    for hi in range(len(items)):
        while items[hi][0] - items[lo][0] > timedelta(days=days):
            lo += 1
        best = max(best, len({u for _, u in items[lo : hi + 1]}))
    return best


def heat_terms(rows: Sequence[tuple[datetime, str, int, int]], *, focus: float = 1.0) -> HeatTerms:
    """Terms of the heat index from an issue's messages as (time, caller, likes, dislikes)."""
    return HeatTerms(
        focus=focus,
        callers=len({u for _, u, _, _ in rows}),
        messages=len(rows),
        likes=sum(likes for _, _, likes, _ in rows),
        dislikes=sum(d for _, _, _, d in rows),
        peak=peak_callers([(t, u) for t, u, _, _ in rows]),
        weeks=(max(t for t, _, _, _ in rows) - min(t for t, _, _, _ in rows)).days / 7 if rows else 0.0,
    )


def warns(times_and_users: Sequence[tuple[datetime, str]], today: datetime) -> bool:
    """True when an issue has ``WARN_CALLERS`` distinct callers in the ``WARN_DAYS`` up to ``today``."""
    since = today - timedelta(days=WARN_DAYS)
    return len({u for t, u in times_and_users if since < t <= today}) >= WARN_CALLERS
