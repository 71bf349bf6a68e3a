"""The services pillar's notion of "now" and of working time.

Actions read the time from ``now()`` so that ``bench/services_journeys.py`` and tests can run
whole journeys on a simulated clock (``with clock.frozen(dt): ...``) over the real working calendar.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

from cityloop.core import calendars
from cityloop.core.rules import WorkCalendar

_state = threading.local()


def now() -> datetime:
    frozen = getattr(_state, "now", None)
    return frozen if frozen is not None else timezone.now()


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    previous = getattr(_state, "now", None)
    _state.now = at
    try:
        yield
    finally:
        _state.now = previous


def set_now(at: datetime | None) -> None:
    """Move the simulated clock (``None`` returns to real time); for the bench's step-by-step journeys."""
    _state.now = at


def calendar_for(department) -> WorkCalendar:
    """The working calendar of the city the department belongs to (China's by default)."""
    pack = getattr(department.city, "pack", None) if department is not None else None
    if pack is None:
        return calendars.for_city("cn")
    return calendars.for_city(pack.calendar, tz=pack.timezone)
