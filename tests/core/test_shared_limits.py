"""Who the client is (a forged X-Forwarded-For changes nothing) and limits shared by every worker."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from cityloop.core import config, throttle
from cityloop.core.net import free_port
from tests.clock import pinned_command, pinned_env

ROOT = Path(__file__).resolve().parents[2]
PROXY = [ipaddress.ip_network("10.0.0.0/8")]


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_a_forged_forwarded_for_header_does_not_make_a_new_client():
    with override_settings(TRUSTED_PROXIES=[]):
        assert throttle.client_address(_request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"
        assert throttle.client_address(_request("10.1.1.1", "198.51.100.1")) == "10.1.1.1"


def test_behind_a_trusted_proxy_the_client_is_the_nearest_untrusted_hop():
    with override_settings(TRUSTED_PROXIES=PROXY):
        # the client wrote the first hop itself; the proxy appended the address it saw
        assert throttle.client_address(_request("10.1.1.1", "1.2.3.4, 198.51.100.7")) == "198.51.100.7"
        assert throttle.client_address(_request("10.1.1.1", "198.51.100.7, 10.2.2.2")) == "198.51.100.7"
        assert throttle.client_address(_request("10.1.1.1")) == "10.1.1.1"
        assert throttle.client_address(_request("10.1.1.1", "not-an-address")) == "10.1.1.1"
        # a client connecting directly cannot pretend to be behind the proxy
        assert throttle.client_address(_request("203.0.113.5", "198.51.100.7")) == "203.0.113.5"


def test_trusted_proxies_and_the_cache_are_configured_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYLOOP_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert [str(n) for n in config.trusted_proxies()] == ["127.0.0.1/32", "10.0.0.0/8"]
    monkeypatch.setenv("CITYLOOP_TRUSTED_PROXIES", "nginx")
    with pytest.raises(config.ConfigError, match="CITYLOOP_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        config.trusted_proxies()
    monkeypatch.delenv("CITYLOOP_REDIS_URL", raising=False)
    assert config.caches(tmp_path)["default"]["BACKEND"].endswith("db.DatabaseCache")
    monkeypatch.setenv("CITYLOOP_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert config.caches(tmp_path)["default"]["BACKEND"].endswith("redis.RedisCache")
    monkeypatch.setenv("CITYLOOP_REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(config.ConfigError, match="CITYLOOP_REDIS_URL"):
        config.caches(tmp_path)


def _status(url: str, headers: dict) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _guesses_until_refused(tmp_path, extra_env: dict) -> list[int]:
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
        **extra_env,
    }
    for name in (
        "CITYLOOP_DATABASE_URL",
        "CITYLOOP_TESTING",
        "PROMETHEUS_MULTIPROC_DIR",
        "CITYLOOP_TRUSTED_PROXIES",
    ):
        env.pop(name, None)
    env.update({"CITYLOOP_TESTING": "0", **extra_env})
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
        # Each guess names another number and claims another address; the kernel spreads them over both
        # workers.
        return [
            _status(
                f"{base}/api/v1/track/R261201-{n:05d}?code=WRONGCODE1", {"X-Forwarded-For": f"198.51.100.{n}"}
            )
            for n in range(1, 27)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_two_workers_share_one_guessing_limit_whatever_the_forwarded_for_header_says(tmp_path):
    answers = _guesses_until_refused(tmp_path, {})
    assert answers[:20] == [404] * 20
    assert set(answers[20:]) == {429}


@pytest.mark.services
def test_two_workers_share_one_guessing_limit_in_redis(tmp_path):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379; start it to run this test")
    # Every test run on the machine shares the Redis server: a prefix of this run's own.
    answers = _guesses_until_refused(
        tmp_path,
        {
            "CITYLOOP_REDIS_URL": "redis://127.0.0.1:6379/0",
            "CITYLOOP_CACHE_PREFIX": f"test-{os.getpid()}-{time.time_ns()}",
        },
    )
    assert answers[:20] == [404] * 20
    assert set(answers[20:]) == {429}
