"""API tokens: generation and lookup (hashing only; writes go through ``core.actions``)."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.db.models.base import ModelState
from django.utils import timezone

from cityloop.core.models import ApiToken

# What a token may be used for; each API checks the scope it needs.
SCOPES = {
    "hotline": "file and follow hotline requests through /api/v1",
    "open311": "Open311 GeoReport v2 (the api_key of civic apps)",
    "brain": "upload device readings",
    "services": "government services API",
    "read": "read-only access to every API",
}
PREFIX = "clk_"


def new_secret() -> tuple[str, str, str]:
    """(token shown once, lookup prefix, stored digest)."""
    lookup = secrets.token_hex(4)
    token = f"{PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    return token, lookup, digest(token)


def digest(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough; a slow KDF would only cost latency.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# A busy integrator sends hundreds of calls a second with one token: remember a token for a few
# seconds per process. A revocation bumps an epoch in the shared cache (Redis or the database), which
# every process reads at most every EPOCH_SECONDS and then forgets what it remembered; so a revoked
# token stops working everywhere within EPOCH_SECONDS, and anything else within CACHE_SECONDS.
CACHE_SECONDS = 5.0
EPOCH_SECONDS = 1.0
EPOCH_KEY = "tokens:epoch"
_cache: dict[str, tuple[float, ApiToken | None]] = {}
_epoch: list = [None, float("-inf")]  # [epoch last seen, when it was read]


def _check_epoch(now: float) -> None:
    if now - _epoch[1] < EPOCH_SECONDS:
        return
    from django.core.cache import cache

    current = cache.get(EPOCH_KEY)
    if current != _epoch[0]:
        _cache.clear()
    _epoch[0], _epoch[1] = current, now


def bump_epoch() -> None:
    """Tell every process to forget its remembered tokens (after a revocation)."""
    from django.core.cache import cache

    cache.set(EPOCH_KEY, secrets.token_hex(8), None)
    forget_cached()


def _find(prefix: str) -> ApiToken | None:
    now = time.monotonic()
    _check_epoch(now)
    cached = _cache.get(prefix)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[prefix] = (now, found)
    return found


def forget_cached() -> None:
    _cache.clear()
    _epoch[0], _epoch[1] = None, float("-inf")


def lookup(token: str, *, scope: str | None = None, read_only: bool = False) -> ApiToken | None:
    """The live token matching ``token`` and holding ``scope`` (or ``read`` for a read), else None."""
    if not token or not token.startswith(PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(PREFIX) :].split("_", 1)[0]
    found = _find(prefix)
    if found is None or not secrets.compare_digest(found.digest, digest(token)):
        return None
    now = timezone.now()
    if found.revoked_at is not None or (found.expires_at is not None and found.expires_at <= now):
        return None
    if not found.user.is_active:
        return None
    if scope is not None and scope not in found.scope_set and not (read_only and "read" in found.scope_set):
        return None
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 60:
        found.last_used_at = now
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return _private_copy(found)


def _private_copy(token: ApiToken) -> ApiToken:
    """Each request gets its own token and user objects: requests run in parallel threads, and the
    user's permission caches must not outlive the request (a granted permission counts at once)."""
    user = _shallow(token.user)
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    mine = _shallow(token)
    mine.user = user
    return mine


def _shallow(instance):
    """A copy of a model instance's fields and state. ``copy.copy`` goes through pickling's
    ``__reduce_ex__`` and cost 0.3 ms per API call, a tenth of an intake submit."""
    twin = instance.__class__.__new__(instance.__class__)
    twin.__dict__.update(instance.__dict__)
    state = ModelState()
    state.db, state.adding = instance._state.db, instance._state.adding
    state.fields_cache = dict(instance._state.fields_cache)
    twin._state = state
    return twin
