"""``CITYLOOP_DATABASE_POOL``: psycopg's connection pool on PostgreSQL, per process, as the web server
uses it."""

from __future__ import annotations

import os
import subprocess
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from cityloop.core import config
from cityloop.core.net import free_port
from tests.brain.conftest import database_url
from tests.clients import get_when_up
from tests.clock import pinned_command, pinned_env


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("off", None),
        ("2-8", (2, 8)),
        ("4", (4, 4)),
        ("0-1", (0, 1)),
    ],
)
def test_the_pool_setting_is_min_max_connections_per_process(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("CITYLOOP_DATABASE_POOL", raising=False)
    else:
        monkeypatch.setenv("CITYLOOP_DATABASE_POOL", raw)
    pool = config.database_pool()
    assert (pool and (pool["min_size"], pool["max_size"])) == expected


@pytest.mark.parametrize("raw", ["8-2", "0", "-1-4", "two-eight", "1-5000"])
def test_a_bad_pool_setting_names_the_variable_and_the_rule(monkeypatch, raw):
    monkeypatch.setenv("CITYLOOP_DATABASE_POOL", raw)
    if raw == "0":  # "0" reads as off, like the other switches
        assert config.database_pool() is None
        return
    with pytest.raises(config.ConfigError, match=r"CITYLOOP_DATABASE_POOL=.*MIN-MAX.*0 <= MIN <= MAX"):
        config.database_pool()


def test_on_postgresql_the_pool_replaces_persistent_connections(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYLOOP_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    monkeypatch.setenv("CITYLOOP_DATABASE_POOL", "2-8")
    db = config.database(tmp_path)
    assert db["OPTIONS"]["pool"]["max_size"] == 8 and db["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("CITYLOOP_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert "pool" not in config.database(tmp_path)["OPTIONS"]  # SQLite has no server to pool for


def test_behind_pgbouncer_server_side_cursors_are_off_and_a_second_pool_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYLOOP_DATABASE_URL", "postgresql://postgres@127.0.0.1:6432/x")
    monkeypatch.setenv("CITYLOOP_DATABASE_PGBOUNCER", "1")
    monkeypatch.setenv("CITYLOOP_DATABASE_POOL", "off")
    assert config.database(tmp_path)["DISABLE_SERVER_SIDE_CURSORS"] is True
    monkeypatch.setenv("CITYLOOP_DATABASE_POOL", "2-8")
    with pytest.raises(config.ConfigError, match="pgbouncer is the pool"):
        config.database(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_web_worker_with_16_threads_holds_no_more_connections_than_its_pool(tmp_path: Path):
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is for PostgreSQL")
    name = f"cityloop-pool-{uuid.uuid4().hex[:8]}"  # this run's connections, among every other test's
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_")}
    env.update(
        CITYLOOP_DATA_DIR=str(data_dir),
        CITYLOOP_TESTING="1",
        CITYLOOP_DATABASE_URL=f"{database_url()}?application_name={name}",
        CITYLOOP_DATABASE_POOL="1-3",
    )
    server = subprocess.Popen(
        pinned_command(
            "cityloop.cli.main", "serve", "--port", str(port), "--workers", "1", "--threads", "16"
        ),
        env=pinned_env(env),
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/readyz"  # asks the database on every call

    def held() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
            return cursor.fetchone()[0]

    def ready(_: int) -> int:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - our own server
            return answer.status

    try:
        assert get_when_up(url, server=server)[0] == 200
        most = 0
        with ThreadPoolExecutor(32) as clients:
            for _ in range(5):
                futures = [clients.submit(ready, i) for i in range(64)]
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]
                    )
                    most = max(most, cursor.fetchone()[0])
                assert [f.result() for f in futures] == [200] * 64
        most = max(most, held())
        # 16 threads, 32 clients at once: without the pool each thread keeps a connection of its own
        assert 1 <= most <= 3
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
