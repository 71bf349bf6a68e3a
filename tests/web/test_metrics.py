"""/metrics (Prometheus text format, all gunicorn workers added up) and /readyz."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cityloop.core.actors import SYSTEM
from cityloop.core.net import free_port
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Channel
from cityloop.web import metrics
from tests.clock import pinned_command, pinned_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch):
    monkeypatch.delenv("CITYLOOP_METRICS_TOKEN", raising=False)
    monkeypatch.delenv("CITYLOOP_NATS_URL", raising=False)
    monkeypatch.delenv("CITYLOOP_MQTT", raising=False)
    metrics.STATE.forget()
    yield
    metrics.STATE.forget()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_channel_and_status_and_time_every_route(client, city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    for channel in (Channel.PHONE, Channel.PHONE, Channel.WEB):
        actions.submit_request(
            Submission(
                description="楼里停水了",
                caller_phone="13812345678",
                lon=lon,
                lat=lat,
                category_code="02.01.01",
            ),
            city=city,
            channel=channel,
            actor=SYSTEM,
        )
    assert client.get("/healthz").status_code == 200
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain")
    found = samples(answer.content.decode())
    by_channel = {labels: value for (name, labels), value in found.items() if name == "cityloop_requests"}
    assert sum(v for labels, v in by_channel.items() if ("channel", "phone") in labels) == 2
    assert sum(v for labels, v in by_channel.items() if ("channel", "web") in labels) == 1
    assert (
        found[
            (
                "cityloop_http_request_duration_seconds_count",
                (("method", "GET"), ("route", "healthz"), ("status", "2xx")),
            )
        ]
        >= 1
    )
    for name in (
        "cityloop_orders_overdue",
        "cityloop_audit_records",
        "cityloop_notify_messages",
        "cityloop_notify_oldest_due_seconds",
    ):
        assert any(key[0] == name for key in found), name


def test_metrics_are_not_there_for_a_stranger(client, db, monkeypatch):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    monkeypatch.setenv("CITYLOOP_METRICS_TOKEN", "s3cret-scraper-token")
    assert client.get("/metrics").status_code == 404  # loopback alone is not enough once a token is set
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    ok = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-scraper-token")
    assert ok.status_code == 200


def test_readyz_checks_database_cache_and_the_configured_brokers(client, db, monkeypatch):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("CITYLOOP_NATS_URL", f"nats://127.0.0.1:{closed}")
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json() == {
        "status": "not ready",
        "checks": {"database": "ok", "cache": "ok", "nats": "failed"},
    }


def test_a_scrape_adds_up_every_gunicorn_worker(tmp_path):
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
    }
    for name in (
        "CITYLOOP_DATABASE_URL",
        "CITYLOOP_TESTING",
        "PROMETHEUS_MULTIPROC_DIR",
        "CITYLOOP_METRICS_TOKEN",
    ):
        env.pop(name, None)
    migrate = subprocess.run(
        pinned_command("cityloop.cli.main", "migrate", "--verbosity", "0"),
        env=pinned_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    server = subprocess.Popen(
        pinned_command("cityloop.cli.main", "serve", "--port", str(port), "--workers", "2", "--threads", "2"),
        env=pinned_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.2)
        for _ in range(39):  # with the probe above: 40, spread over both workers by the kernel
            urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
        found = samples(urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode())
    finally:
        server.terminate()
        server.wait(timeout=30)
    key = (
        "cityloop_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "healthz"), ("status", "2xx")),
    )
    assert found.get(key) == 40
    assert (tmp_path / "data" / "metrics").is_dir()


def test_the_first_requests_of_a_new_worker_never_fail_on_making_the_histogram():
    """Sixteen threads answering a worker's first requests at once made the histogram sixteen times; all but
    one raised "Duplicated timeseries" after the request was stored, so stored submits came back as 500s."""
    import threading

    from prometheus_client import REGISTRY

    if metrics._http_seconds is not None:
        REGISTRY.unregister(metrics._http_seconds)
    metrics._http_seconds = None
    start, made, failed = threading.Barrier(16), [], []

    def first_request():
        start.wait()
        try:
            made.append(metrics.http_seconds())
        except Exception as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [] and len({id(h) for h in made}) == 1
