"""Counters in the shared Django cache that slow down guessing and flooding from the public pages.

The cache is shared by every worker (Redis or the database in production), so four workers do not
mean four times the limit. Counters are keyed by the client's address and, where a guess aims at one
request, by its tracking number as well, so spreading guesses over many addresses does not help.
"""

from __future__ import annotations

from django.core.cache import cache

PREFIX = "hotline:throttle:"


def client_address(request) -> str:
    """The address the request came from, as the server saw it (no client-supplied header is trusted)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def keys_for(scope: str, request, *extra: str) -> list[str]:
    """One counter for the client's address, and one per ``extra`` value (e.g. a tracking number)."""
    keys = [f"{PREFIX}{scope}:addr:{client_address(request)}"]
    keys += [f"{PREFIX}{scope}:of:{value}" for value in extra if value]
    return keys


def exceeded(keys: list[str], limit: int) -> bool:
    values = cache.get_many(keys)
    return any(int(values.get(key, 0)) >= limit for key in keys)


def count(keys: list[str], window_s: int) -> None:
    """One more hit on each counter; a counter lives ``window_s`` from its first hit."""
    for key in keys:
        cache.add(key, 0, window_s)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window_s)
