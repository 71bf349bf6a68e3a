"""Shared by the benchmarks that start `cityloop serve` (imported as a sibling: `python bench/x.py`)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

from cityloop.core.net import free_port

__all__ = ["free_port", "wait_until_up"]


def wait_until_up(
    url: str, server: subprocess.Popen, timeout: float = 90, *, path: str = "/api/v1/openapi.json"
) -> None:
    """Until ``url`` answers ``path`` (the API document by default) with 200, or exit naming why the
    server did not come up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    sys.exit(f"the server did not answer within {timeout:.0f} s")
