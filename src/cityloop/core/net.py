"""Finding a free TCP port and waiting for a server to listen on one: for the demo's local servers, the
test brokers and the benchmarks."""

from __future__ import annotations

import socket
import time


def free_port(host: str = "127.0.0.1", *, preferred: int = 0) -> int:
    """``preferred`` when nothing listens there (0: no preference), else a port the kernel picks.

    The port is free when this returns; the caller binds it soon after (another process could take
    it in between, which on a test machine is rare enough to retry at a higher level)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError(f"no free port on {host}")  # binding port 0 failed: the host is not ours


def wait_listening(host: str, port: int, *, timeout: float = 15.0, process=None) -> bool:
    """Wait until something accepts connections on ``host:port``; False after ``timeout`` s, or as soon
    as ``process`` (a Popen that should be listening there) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False
