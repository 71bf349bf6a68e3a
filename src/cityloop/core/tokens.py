"""API tokens: generation and lookup (hashing only; writes go through ``core.actions``)."""

from __future__ import annotations

import hashlib
import secrets

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


def lookup(token: str, *, scope: str | None = None, read_only: bool = False) -> ApiToken | None:
    """The live token matching ``token`` and holding ``scope`` (or ``read`` for a read), else None."""
    if not token or not token.startswith(PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(PREFIX):].split("_", 1)[0]
    found = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
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
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found
