"""One place that says who the client is and counts its hits in the shared cache.

The cache is shared by every worker (Redis, or a table in the database; see ``core.config.caches``),
so four workers do not mean four times a limit. The client is the connection's address; a
``X-Forwarded-For`` header counts only when the connection comes from a proxy named in
``CITYLOOP_TRUSTED_PROXIES``, and then the client is the nearest address in it that is not such a
proxy. Anyone can write the header, so believing it elsewhere would let one client be many.
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache
from ninja.throttling import AnonRateThrottle, AuthRateThrottle

PREFIX = "throttle:"


def _trusted(address: str) -> bool:
    networks = getattr(settings, "TRUSTED_PROXIES", [])
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind trusted proxies the last untrusted forwarded-for hop."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    if not _trusted(remote):
        return remote
    hops = [hop.strip() for hop in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a proxy passed on garbage: count it against the proxy's own address
    return remote


def keys_for(scope: str, request, *extra: str) -> list[str]:
    """One counter for the client's address, and one per ``extra`` value (e.g. a tracking number)."""
    keys = [f"{PREFIX}{scope}:addr:{client_address(request)}"]
    # A guessed value can hold any character: hashed, it is a safe key for every cache backend.
    keys += [
        f"{PREFIX}{scope}:of:{hashlib.sha256(value.encode()).hexdigest()[:32]}" for value in extra if value
    ]
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


def allow(request, scope: str, limit: int, window_s: int) -> bool:
    """Count this hit of the client on ``scope``; False when it is over ``limit`` per ``window_s``."""
    keys = keys_for(scope, request)
    if exceeded(keys, limit):
        return False
    count(keys, window_s)
    return True


class ClientAnonRateThrottle(AnonRateThrottle):
    """Django Ninja's anonymous throttle, keyed by :func:`client_address` in the shared cache."""

    def get_ident(self, request) -> str:
        return client_address(request)


class ClientAuthRateThrottle(AuthRateThrottle):
    def get_ident(self, request) -> str:
        return client_address(request)
