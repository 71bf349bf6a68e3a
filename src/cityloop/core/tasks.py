"""The task queue behind scheduled work: one Huey instance per process, built from ``settings.TASKS``
(decision 0012).

By default the queue is a SQLite file in the data directory (``tasks.sqlite3``), so a city needs no
server; with ``CITYLOOP_TASKS_URL=redis://...`` it is Redis, its keys prefixed with
``CITYLOOP_TASKS_NAME``. The instance is built on first use, not when the apps load, so a web worker
that never schedules anything never opens the queue. ``core.schedule`` puts its jobs on it;
``cityloop scheduler`` consumes it.
"""

from __future__ import annotations

import threading
from datetime import datetime

from django.conf import settings
from huey import RedisHuey, SqliteHuey
from huey.api import Huey

_lock = threading.RLock()
_huey: Huey | None = None
_on_build: list = []


class _Slotted:
    """Each periodic run carries the minute it was scheduled for (``slot``), so that two schedulers that
    both enqueue a job for the same minute claim the same slot, however late a worker picks it up."""

    def read_periodic(self, timestamp: datetime | None):
        timestamp = timestamp or self._get_timestamp()  # type: ignore[attr-defined]
        minute = timestamp.replace(second=0, microsecond=0)
        due = super().read_periodic(timestamp)  # type: ignore[misc]
        for task in due:
            task.kwargs = {"scheduled_for": minute.isoformat()}
        return due


class CitySqliteHuey(_Slotted, SqliteHuey):
    pass


class CityRedisHuey(_Slotted, RedisHuey):
    pass


def build(config: dict | None = None) -> Huey:
    """A Huey instance for ``config`` (``settings.TASKS`` by default)."""
    config = config or settings.TASKS
    # results=False: a job's outcome is its JobRun row; Huey's result store would only grow.
    if config["backend"] == "redis":
        return CityRedisHuey(config["name"], url=config["url"], results=False, utc=True)
    return CitySqliteHuey(config["name"], filename=config["path"], results=False, utc=True)


def huey() -> Huey:
    """This process's instance; every job registered so far is on it."""
    global _huey
    with _lock:
        if _huey is None:
            _huey = build()
            for hook in _on_build:
                hook(_huey)
        return _huey


def on_build(hook) -> None:
    """Call ``hook(instance)`` when the instance is built (now, if it already is)."""
    with _lock:
        _on_build.append(hook)
        if _huey is not None:
            hook(_huey)


def built() -> Huey | None:
    return _huey


def reset() -> None:
    """Forget the instance (tests that point the queue somewhere else); the next use builds a new one."""
    global _huey
    with _lock:
        _huey = None
