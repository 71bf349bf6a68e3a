"""One HTTP request with a timeout, for the channels that speak HTTP (SMS, robots, webhooks).

Only the standard library: a channel needs no client beyond ``urllib``. What cannot reach the far side
(a refused connection, a reset, a timeout, a name that does not resolve) is :class:`Retry`, worded
"unreachable" or "timed out" so the delivery worker puts the rest of the batch back without spending
attempts. Any HTTP answer, errors included, is returned to the caller, which knows what its provider
means by it. Redirects are not followed: a provider that moves is a configuration to fix, and a
subscriber's webhook must not bounce the city's signed request somewhere else.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

from cityloop.notify.channels.base import Retry

MAX_ANSWER = 64 * 1024  # a provider's answer is a few hundred bytes; never read more than this
USER_AGENT = "CityLoop-Notify/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None  # urllib then raises HTTPError with the 3xx, which the caller judges


_opener = urllib.request.build_opener(_NoRedirect)


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    what: str = "the far side",
) -> tuple[int, bytes]:
    """Send one request; return (status, answer). Raises :class:`Retry` when nothing answered."""
    req = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - http(s) URLs from settings
    req.add_header("User-Agent", USER_AGENT)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with _opener.open(req, timeout=timeout) as answer:
            return answer.status, answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(MAX_ANSWER)
        except (OSError, http.client.HTTPException):
            text = b""
        return exc.code, text
    except TimeoutError as exc:
        raise Retry(f"{what} timed out after {timeout:g} s", unreachable=True) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise Retry(f"{what} timed out after {timeout:g} s", unreachable=True) from exc
        raise Retry(f"{what} unreachable: {exc.reason}", unreachable=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise Retry(f"{what} unreachable: {type(exc).__name__}: {exc}", unreachable=True) from exc
