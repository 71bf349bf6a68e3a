"""Shared by the benchmarks that start `cityloop serve` (imported as a sibling: `python bench/x.py`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    """Until ``url`` answers its API document, or exit naming why the server did not come up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    sys.exit(f"the server did not answer within {timeout:.0f} s")
