"""Sliding-window limits on POSTs, per API key and per client IP, kept in Django's cache.

Each key holds the times of its recent hits; a hit beyond the limit is refused with the seconds
until the oldest hit leaves the window. With several server processes the cache must be shared
(Redis or the database cache, as ``core.config.caches`` sets up).
"""

from __future__ import annotations

import math
import time

from django.core.cache import cache

from cityloop.core.throttle import client_address
from cityloop.openapi.open311.render import Open311Error


def hit(bucket: str, *, limit: int, seconds: int, now: float | None = None) -> None:
    """Count one hit for ``bucket``, or raise a 429 saying when to retry (a refused hit is not counted)."""
    now = time.time() if now is None else now
    key = f"open311:rate:{bucket}"
    recent = [t for t in (cache.get(key) or []) if t > now - seconds]
    if len(recent) >= limit:
        retry = max(1, math.ceil(recent[0] + seconds - now))
        raise Open311Error(
            429,
            ("", f"too many requests: at most {limit} every {seconds} seconds; retry in {retry} seconds"),
            headers={"Retry-After": str(retry)},
        )
    recent.append(now)
    cache.set(key, recent, timeout=seconds + 1)


def client_ip(request) -> str:
    # A forwarded-for header counts only from a trusted proxy (CITYLOOP_TRUSTED_PROXIES).
    return client_address(request)
