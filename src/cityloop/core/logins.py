"""Logins: lockout after repeated failures (django-axes) and an audit record for every attempt.

Failures count per username and client address (``core.throttle.client_address``, so a forged
``X-Forwarded-For`` does not reset them). After ``CITYLOOP_LOGIN_FAILURES`` failures the pair is locked
for ``CITYLOOP_LOGIN_LOCKOUT_MINUTES``, on ``/login/`` and ``/admin/`` alike. Each success, failure and
lockout is appended to the audit trail with the username and the address, never the password.
"""

from __future__ import annotations

import ipaddress

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from cityloop.core import audit
from cityloop.core.throttle import client_address


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes checks web logins; a login without a request (a command, a test's ``client.login``) has no
    client to lock out, so it is left to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def axes_client_ip(request) -> str | None:
    """The client's address for the lockout table, which stores only real addresses."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _where(request) -> str:
    return client_address(request) if request is not None else "-"


def _path(request) -> str:
    return request.path if request is not None else "-"


@receiver(user_logged_in, dispatch_uid="cityloop-audit-login")
def _logged_in(sender, request, user, **kwargs) -> None:
    audit.record(user, "login.success", user, after={"address": _where(request), "path": _path(request)})


@receiver(user_login_failed, dispatch_uid="cityloop-audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = str((credentials or {}).get("username", ""))[:150]
    audit.record(
        "anonymous",
        "login.failure",
        None,
        after={"username": username, "address": _where(request), "path": _path(request)},
    )


@receiver(user_locked_out, dispatch_uid="cityloop-audit-lockout")
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    audit.record(
        "system",
        "login.lockout",
        None,
        after={
            "username": str(username or "")[:150],
            "address": ip_address or _where(request),
            "path": _path(request),
        },
    )


def lockout_response(request, original_response=None, credentials=None):
    """The site's own bilingual page (429) saying how long the lock lasts, in whole minutes."""
    from django.conf import settings
    from django.shortcuts import render

    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)
