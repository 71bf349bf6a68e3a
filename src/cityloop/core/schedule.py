"""The scheduled work of every pillar, run by ``cityloop tick`` (a timer, every minute) and by the brain
worker's maintenance. Pages never do this work: a GET must not write.

Each app registers its jobs in its ``AppConfig.ready``. A job must be idempotent and safe when two
processes run it at once (row locks or conditional updates), because the timer and every brain
worker may. One job failing does not stop the others; the failure is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("cityloop.schedule")
JOBS: dict[str, Callable[[], str]] = {}


def register(name: str, job: Callable[[], str]) -> None:
    """``job()`` does its work and returns one line saying what it did."""
    JOBS[name] = job


def run_all() -> list[tuple[str, str, bool]]:
    """Run every job once; returns (name, what it said or the error, ok)."""
    done = []
    for name, job in JOBS.items():
        try:
            done.append((name, job(), True))
        except Exception as exc:  # noqa: BLE001 - one broken job must not stop the others
            log.exception("scheduled job %s failed", name)
            done.append((name, f"{type(exc).__name__}: {exc}", False))
    return done
