"""Subprocesses that live on the tests' pinned clock.

A test runs at ``PINNED_NOW`` (tests/conftest.py), but a child process would read the real system
clock, and readings or deadlines written by the test would look days away to it. ``pinned_command``
starts a module under ``tests/_clock_run.py``, which travels to the parent's current instant first.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "_clock_run.py"


def pinned_command(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` on the caller's (pinned) clock."""
    return [sys.executable, str(RUNNER), module, *args]


def pinned_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the instant the child should start at."""
    out = dict(os.environ if env is None else env)
    out["CITYLOOP_TEST_CLOCK"] = datetime.now(UTC).isoformat()
    return out
