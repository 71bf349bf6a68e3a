"""API-token authentication shared by /api/v1 and Open311."""

from __future__ import annotations

from ninja.security import APIKeyHeader, HttpBearer

from cityloop.core import tokens


class BearerToken(HttpBearer):
    """``Authorization: Bearer clk_…`` holding ``scope`` (or ``read`` for safe methods)."""

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def authenticate(self, request, token):
        found = tokens.lookup(token, scope=self.scope, read_only=request.method in ("GET", "HEAD"))
        if found is None:
            return None
        request.api_token = found
        request.user = found.user
        return found


class HeaderToken(APIKeyHeader):
    """The same token in an ``X-Api-Key`` header, for clients that cannot set Authorization."""

    param_name = "X-Api-Key"

    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def authenticate(self, request, key):
        found = tokens.lookup(key or "", scope=self.scope, read_only=request.method in ("GET", "HEAD"))
        if found is None:
            return None
        request.api_token = found
        request.user = found.user
        return found


def token_auth(scope: str) -> list:
    return [BearerToken(scope), HeaderToken(scope)]
