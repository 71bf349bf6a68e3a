"""Prometheus metrics (``/metrics``) and readiness (``/readyz``).

Two kinds of figures:

* **per process**, counted as requests pass: HTTP latency by route (the intake routes are the
  intake latency). Under ``cityloop serve`` every gunicorn worker writes them to files in
  ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode), and a scrape of any worker
  adds up all of them.
* **the city's state**, read from the database at scrape time (cached for ``SCRAPE_CACHE_SECONDS``,
  so a scraper every few seconds costs a few queries a quarter-minute): requests by channel and
  status, overdue orders, open alarms, the brain's readings, rejects and checkpoint age per shard,
  the audit trail's length.

``/metrics`` answers a client on the loopback interface, or one that sends
``Authorization: Bearer $CITYLOOP_METRICS_TOKEN`` when that is set; anyone else gets 404.
``/readyz`` checks the database, the cache and the brokers the deployment names
(``CITYLOOP_NATS_URL``, ``CITYLOOP_MQTT``) and says which one failed, never why (that goes to the log).
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import threading
import time
from urllib.parse import urlparse

from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cityloop.core import config

log = logging.getLogger("cityloop.web")

SCRAPE_CACHE_SECONDS = 15.0
LOOPBACK = {"127.0.0.1", "::1"}

_http_seconds = None
_made = threading.Lock()


def http_seconds():
    """The latency histogram, made on first use: prometheus_client picks single- or multi-process values
    when it is imported, and ``cityloop serve`` names the folder only after Django's checks imported this.
    Made under a lock: two threads making it at once registered it twice, and the loser's request, already
    answered and stored, came back as a 500."""
    global _http_seconds
    if _http_seconds is not None:
        return _http_seconds
    with _made:
        if _http_seconds is not None:
            return _http_seconds
        from prometheus_client import Histogram

        _http_seconds = Histogram(
            "cityloop_http_request_duration_seconds",
            "Time to answer an HTTP request, by route, method and status class.",
            ["route", "method", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
    return _http_seconds


class MetricsMiddleware:
    """Times every request; the route is the URL pattern's name, so numbers and ids don't explode labels."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match is not None and match.view_name else "unmatched"
        try:
            http_seconds().labels(
                route,
                request.method if request.method in _METHODS else "other",
                f"{response.status_code // 100}xx",
            ).observe(time.perf_counter() - started)
        except Exception:  # noqa: BLE001 - a metric must never turn an answered request into an error
            log.exception("metrics: could not record %s", route)
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


# --------------------------------------------------------------------------- the city's state


def _state_families() -> list:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from cityloop.brain import queries as brain_queries
    from cityloop.core import queries as core_queries
    from cityloop.hotline import queries as hotline_queries
    from cityloop.notify import queries as notify_queries

    now = timezone.now()
    requests = GaugeMetricFamily(
        "cityloop_requests", "Requests stored, by channel and status.", labels=["channel", "status"]
    )
    for (channel, status), n in hotline_queries.request_counts().items():
        requests.add_metric([channel, status], n)
    overdue = GaugeMetricFamily(
        "cityloop_orders_overdue", "Orders past their response or finish deadline.", labels=["deadline"]
    )
    for deadline, n in hotline_queries.overdue_order_counts(now).items():
        overdue.add_metric([deadline], n)
    alarms = GaugeMetricFamily(
        "cityloop_brain_alarms_open", "Open alarms of the city brain, by type.", labels=["type"]
    )
    for alarm_type, n in brain_queries.open_alarm_counts().items():
        alarms.add_metric([alarm_type], n)
    readings = CounterMetricFamily(
        "cityloop_brain_readings", "Readings the brain accepted, per shard.", labels=["shard"]
    )
    rejects = CounterMetricFamily(
        "cityloop_brain_rejects", "Readings the brain rejected, per shard.", labels=["shard"]
    )
    stream = GaugeMetricFamily(
        "cityloop_brain_stream_sequence",
        "Last NATS stream sequence a shard has checkpointed (compare with the stream's "
        "last sequence for the lag).",
        labels=["shard"],
    )
    age = GaugeMetricFamily(
        "cityloop_brain_checkpoint_age_seconds",
        "Seconds since a shard's last checkpoint: a stuck or dead worker grows it.",
        labels=["shard"],
    )
    for point in brain_queries.checkpoints():
        readings.add_metric([point.name], point.readings)
        rejects.add_metric([point.name], point.rejects)
        stream.add_metric([point.name], point.stream_seq)
        age.add_metric([point.name], max(0.0, (now - point.updated_at).total_seconds()))
    trail = GaugeMetricFamily("cityloop_audit_records", "Records in the audit trail.")
    trail.add_metric([], core_queries.audit_record_count())
    outbox = GaugeMetricFamily(
        "cityloop_notify_messages", "Messages in the notification outbox, by status.", labels=["status"]
    )
    for status, n in notify_queries.backlog().items():
        outbox.add_metric([status], n)
    waiting = GaugeMetricFamily(
        "cityloop_notify_oldest_due_seconds",
        "How long the oldest message that is due has waited to be sent (0 when none waits).",
    )
    waiting.add_metric([], notify_queries.oldest_due_age(now))
    out = [requests, overdue, alarms, readings, rejects, stream, age, trail, outbox, waiting]
    mqtt = brain_queries.mqtt_broker_dropped()
    if mqtt is not None:
        dropped = GaugeMetricFamily(
            "cityloop_mqtt_broker_dropped_messages",
            "Messages the MQTT broker dropped since it started ($SYS/broker/publish/messages/dropped, as a "
            "brain worker last read it): above 0, readings were lost before the brain.",
        )
        dropped.add_metric([], mqtt["dropped"])
        out.append(dropped)
    return out


class _StateCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None

    def collect(self):
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > SCRAPE_CACHE_SECONDS:
                self._cached = (time.monotonic(), _state_families())
            return list(self._cached[1])

    def forget(self) -> None:
        with self._lock:
            self._cached = None


STATE = _StateCollector()


def _allowed(request) -> bool:
    token = config.env("CITYLOOP_METRICS_TOKEN", "") or ""
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    # A local scrape comes straight from the loopback; anything a proxy forwarded is from outside.
    forwarded = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_X_REAL_IP" in request.META
    return request.META.get("REMOTE_ADDR", "") in LOOPBACK and not forwarded


def exposition() -> bytes:
    """The whole text exposition: every worker's process metrics, then the city's state."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process = generate_latest(registry)
    else:
        process = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(STATE)
    return process + generate_latest(state)


@require_GET
@never_cache
def metrics(request):
    if not _allowed(request):
        raise Http404  # the page is not there for strangers
    from prometheus_client import CONTENT_TYPE_LATEST

    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# --------------------------------------------------------------------------- readiness


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _brokers() -> dict[str, tuple[str, int]]:
    named = {}
    nats = config.env("CITYLOOP_NATS_URL")
    if nats:
        first = urlparse(nats.split(",")[0].strip())
        named["nats"] = (first.hostname or "127.0.0.1", first.port or 4222)
    mqtt = config.env("CITYLOOP_MQTT")
    if mqtt:
        parsed = urlparse(mqtt if "://" in mqtt else f"mqtt://{mqtt}")
        named["mqtt"] = (parsed.hostname or "127.0.0.1", parsed.port or 1883)
    return named


def readiness() -> dict[str, bool]:
    checks: dict[str, bool] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
    except Exception:  # noqa: BLE001 - readiness reports any database failure, the log says which
        log.exception("readyz: the database is not reachable")
        checks["database"] = False
    try:
        key = f"cityloop:readyz:{os.getpid()}"
        cache.set(key, "1", 10)
        checks["cache"] = cache.get(key) == "1"
    except Exception:  # noqa: BLE001 - as above, for the cache
        log.exception("readyz: the cache is not usable")
        checks["cache"] = False
    for name, (host, port) in _brokers().items():
        checks[name] = _reachable(host, port)
        if not checks[name]:
            log.error("readyz: %s at %s:%s is not reachable", name, host, port)
    return checks


@require_GET
@never_cache
def readyz(request):
    checks = readiness()
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )
