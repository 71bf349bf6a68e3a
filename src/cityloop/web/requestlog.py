"""Request ids, access lines and tracebacks of unhandled errors (issue 10, finding 15).

Every request gets an id (an incoming ``X-Request-ID`` is kept only when it is a sane token), echoed in
the response header. One access line per request on the ``cityloop.access`` logger: method, path,
status, duration, request id and the user's id. No personal data: never a query-string value (tracking
and access codes travel there), never a body, never a name or phone; a one-time code in the path is
masked. An unhandled error is logged on ``cityloop.error`` with its traceback and the request id.
``CITYLOOP_LOG_FORMAT=json`` makes every line one JSON object (settings.LOGGING).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404

access_log = logging.getLogger("cityloop.access")
error_log = logging.getLogger("cityloop.error")

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# URL arguments that are secrets a citizen holds (rating links, tokens): masked in the logged path.
SECRET_URL_ARGUMENTS = {"code", "access_code", "token", "key"}
FIELDS = ("method", "path", "query_keys", "status", "duration_ms", "request_id", "user_id")


def request_id_for(header: str | None) -> str:
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def loggable_path(request) -> str:
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if name in SECRET_URL_ARGUMENTS and isinstance(value, str) and value:
            path = path.replace(value, "*")
    return path


def _query_keys(request) -> str:
    try:
        return ",".join(sorted(request.GET.keys()))
    except SuspiciousOperation:  # e.g. too many fields: the view has answered it; the log line must not
        return "(unreadable)"


# Exceptions that are a request's fault, not the server's: Django turns them into a 4xx page.
ANSWERED = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request.request_id = request_id_for(request.headers.get("X-Request-ID"))
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        user = getattr(request, "user", None)
        fields = {
            "method": request.method,
            "path": loggable_path(request),
            "query_keys": _query_keys(request),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "request_id": request.request_id,
            "user_id": user.pk if user is not None and user.is_authenticated else None,
        }
        access_log.info(
            " ".join(f"{k}={'-' if fields[k] in (None, '') else fields[k]}" for k in FIELDS),
            extra={"access": fields},
        )
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, ANSWERED):
            return None  # Django answers these with 400/403/404; the access line records it
        error_log.error(
            "unhandled %s on %s %s request_id=%s",
            type(exception).__name__,
            request.method,
            loggable_path(request),
            getattr(request, "request_id", "-"),
            exc_info=exception,
            extra={"request_id": getattr(request, "request_id", None)},
        )
        return None  # Django renders the 500 page


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines carry their fields, errors their traceback."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name}
        access = getattr(record, "access", None)
        if access is not None:
            out.update(access)
        else:
            out["message"] = record.getMessage()
            if getattr(record, "request_id", None):
                out["request_id"] = record.request_id
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)
