"""Finding a free TCP port: for the demo's local servers, the test brokers and the benchmarks."""

from __future__ import annotations

import socket


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
