"""Brain fixtures: a fresh brain directory per test, and devices in the tiny city."""

from __future__ import annotations

import pytest

from cityloop.core.actors import SYSTEM


@pytest.fixture(autouse=True)
def brain_dir(settings, tmp_path):
    """Each test gets its own archive and detector state (the database is fresh per test too)."""
    from cityloop.brain import engine

    settings.CITYLOOP_BRAIN_DIR = str(tmp_path / "brain")
    engine.forget_engines()
    yield tmp_path / "brain"
    engine.forget_engines()


def device_rows(places: dict, spec: list[tuple[str, str, str, str, str, int]]) -> list[dict]:
    """Rows for ``register_devices`` from (code, type, kind, place, department, interval_s)."""
    rows = []
    for code, type_, kind, place, department, interval in spec:
        lon, lat = places[place]
        rows.append(
            {
                "code": code,
                "type": type_,
                "kind": kind,
                "lon": str(lon),
                "lat": str(lat),
                "department": department,
                "interval_s": str(interval),
                "installed_at": "2026-01-01T00:00:00+00:00",
                "gateway": f"GW-{kind.upper()}",
            }
        )
    return rows


@pytest.fixture
def devices(city, tiny_places):
    """Water meters W1..W3 (15 min) in D1S1C1, D1S2 and D2S1; a noise sensor N1 (1 min) in D2S2."""
    from cityloop.brain.actions.devices import register_devices

    report = register_devices(
        city=city,
        actor=SYSTEM,
        rows=device_rows(
            tiny_places,
            [
                ("W1", "meter", "water", "D1S1C1", "WATER", 900),
                ("W2", "meter", "water", "D1S2", "WATER", 900),
                ("W3", "meter", "water", "D2S1", "WATER", 900),
                ("N1", "sensor", "noise", "D2S2", "CITYMGMT", 60),
            ],
        ),
    )
    assert report.ok, report.errors
    return {d.code: d for d in report.created}


def database_url() -> str:
    """The test database as a CITYLOOP_DATABASE_URL, for the worker processes a test starts."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto of this test's own, run with deploy/mosquitto/cityloop.conf, and a prefix of its own.
    Accounts: the worker, a test publisher that may write any device's readings, gateway GW1, device M1."""
    import uuid

    from cityloop.brain.ingest import broker as brokers

    why = brokers.available()
    if why:
        pytest.skip(why)
    prefix = f"t{uuid.uuid4().hex[:10]}/cityloop"
    accounts = {brokers.WORKER_USER: "worker-pw", "bench-publisher": "pub-pw", "GW1": "gw1-pw", "M1": "m1-pw"}
    with brokers.start(
        tmp_path / "mosquitto", prefix=prefix, accounts=accounts, publisher="bench-publisher"
    ) as b:
        yield b
