"""The worker against the real brokers: NATS JetStream (SIGKILL and restart) and Mosquitto (MQTT)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
import pytest

from cityloop.brain.archive import archive
from cityloop.brain.ingest import bus
from cityloop.core.actors import SYSTEM
from tests.brain.conftest import database_url, device_rows
from tests.clock import pinned_command, pinned_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
N_DEVICES, STEPS_PER_MESSAGE, MESSAGES = 20, 3, 100


def _need(host: str, port: int, what: str) -> None:
    if not bus.reachable(host, port):
        pytest.skip(f"{what} is not reachable at {host}:{port}; start it to run this test")


def _register(city, tiny_places, codes, gateway=""):
    from cityloop.brain.actions.devices import register_devices

    places = ["D1S1C1", "D1S2", "D2S1", "D2S2"]
    spec = [(c, "meter", "water", places[i % 4], "WATER", 900) for i, c in enumerate(codes)]
    rows = device_rows(tiny_places, spec)
    for row in rows:
        row["gateway"] = gateway or row["gateway"]
    report = register_devices(city=city, rows=rows, actor=SYSTEM)
    assert report.ok, report.errors


def _readings(codes, steps, seed=3):
    """Per device: ``steps`` readings one minute apart ending a minute ago; counters rising."""
    rng = np.random.default_rng(seed)
    t0 = int(time.time()) - 60 * (steps + 1)
    values = {c: np.round(100 + np.cumsum(rng.uniform(0.001, 0.01, steps)), 6) for c in codes}
    return t0, values


def _worker(env, subject, durable, *extra):
    cmd = pinned_command(
        "cityloop.cli.main",
        "brain",
        "worker",
        "--via",
        "nats",
        "--subject",
        subject,
        "--durable",
        durable,
        "--fetch",
        "4",
        "--checkpoint-every",
        "0.01",
        "--maintenance-every",
        "0",
        *extra,
    )
    return subprocess.Popen(
        cmd, env=pinned_env(env), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_a_worker_killed_with_sigkill_and_restarted_loses_nothing_and_counts_nothing_twice(
    city, tiny_places, brain_dir
):
    _need("127.0.0.1", 4222, "NATS (JetStream)")
    from cityloop.brain.models import Checkpoint

    run = uuid.uuid4().hex[:10]
    codes = [f"K{run}-{i:02d}" for i in range(N_DEVICES)]
    _register(city, tiny_places, codes)
    steps = STEPS_PER_MESSAGE * MESSAGES
    t0, values = _readings(codes, steps)
    subject = f"cityloop.readings.test{run}"
    nats = bus.Nats()
    try:
        nats.ensure_stream()
        payloads = []
        for m in range(MESSAGES):
            d, t, v = [], [], []
            for s in range(m * STEPS_PER_MESSAGE, (m + 1) * STEPS_PER_MESSAGE):
                for c in codes:
                    d.append(c), t.append(t0 + 60 * s), v.append(float(values[c][s]))
            payloads.append(orjson.dumps({"d": d, "t": t, "v": v}))
        nats.publish_many(payloads, subject=subject)
    finally:
        nats.close()
    published = N_DEVICES * steps

    env = {
        **os.environ,
        "CITYLOOP_DATABASE_URL": database_url(),
        "CITYLOOP_BRAIN_DIR": str(brain_dir),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
    }
    durable = f"test-{run}"
    first = _worker(env, subject, durable)
    at_kill = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cp = Checkpoint.objects.filter(name="main").first()
        at_kill = cp.readings if cp else 0
        if at_kill >= published // 4:
            break
        if first.poll() is not None:
            pytest.fail(f"the worker exited early: {first.stderr.read().decode()[-2000:]}")
        time.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert 0 < at_kill < published, f"the kill was not mid-way ({at_kill} of {published} checkpointed)"

    second = _worker(env, subject, durable, "--idle-exit", "3")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()[-3000:]

    cp = Checkpoint.objects.get(name="main")
    assert (cp.readings, cp.rejects) == (published, 0)
    con = archive.connect(brain_dir)
    rows = con.execute(
        "select device, count(*), sum(consumption), max(value) from readings group by device"
    ).fetchall()
    assert len(rows) == N_DEVICES
    for device, count, consumption, last in rows:
        assert count == steps, f"{device}: {count} readings archived, {steps} published"
        assert consumption == pytest.approx(values[device][-1] - values[device][0], abs=1e-9)
        assert last == values[device][-1]
    assert con.execute("select count(*) from rejects").fetchone() == (0,)


def test_mqtt_device_topics_and_gateway_batches_reach_the_archive_through_mosquitto(
    city, tiny_places, brain_dir, broker, monkeypatch
):
    from cityloop.brain import worker
    from cityloop.brain.models import Checkpoint

    run = uuid.uuid4().hex[:10]
    codes = [f"M{run}-{i}" for i in range(5)]
    _register(city, tiny_places, codes, gateway=f"gw{run}")
    _register(city, tiny_places, [f"X{run}"], gateway=f"other{run}")
    for name, value in broker.env().items():
        monkeypatch.setenv(name, value)
    t0, values = _readings(codes, 40)
    stop = threading.Event()
    result = {}

    def consume():
        from django.db import connection

        try:
            result["stats"] = worker.run_mqtt(
                client_id=f"cityloop-test-{run}", checkpoint_every=0.2, maintenance_every=0, stop=stop.is_set
            )
        finally:
            connection.close()  # this thread's own connection, or the test database cannot be dropped

    thread = threading.Thread(target=consume)
    thread.start()
    time.sleep(0.5)  # the worker's subscription is in place
    for name, value in broker.env("bench-publisher").items():  # the publisher's account
        monkeypatch.setenv(name, value)
    client = bus.Mqtt(f"cityloop-test-pub-{run}")
    try:
        started = time.perf_counter()
        infos = [
            client.publish(bus.device_topic(c), orjson.dumps({"t": t0 + 60 * s, "v": float(values[c][s])}))
            for s in range(30)
            for c in codes
        ]
        gateway = {
            "d": [c for s in range(30, 40) for c in codes],
            "t": [t0 + 60 * s for s in range(30, 40) for _ in codes],
            "v": [float(values[c][s]) for s in range(30, 40) for c in codes],
        }
        infos.append(client.publish(bus.gateway_topic(f"gw{run}"), orjson.dumps(gateway)))
        # A gateway publishing another gateway's device: rejected as not_bound, never stored.
        infos.append(
            client.publish(
                bus.gateway_topic(f"gw{run}"), orjson.dumps({"d": [f"X{run}"], "t": [t0], "v": [1.0]})
            )
        )
        infos.append(client.publish(bus.device_topic(codes[0]), b"not json"))
        for info in infos:
            info.wait_for_publish(10)
        expected = 40 * len(codes)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cp = Checkpoint.objects.filter(name="main").first()
            if cp and cp.readings + cp.rejects >= expected + 2:
                break
            time.sleep(0.05)
        took = time.perf_counter() - started
    finally:
        client.close()
        stop.set()
        thread.join(20)
    cp = Checkpoint.objects.get(name="main")
    assert (cp.readings, cp.rejects) == (expected, 2), f"after {took:.2f} s"
    con = archive.connect(brain_dir)
    counts = dict(con.execute("select device, count(*) from readings group by device").fetchall())
    assert counts == {c: 40 for c in codes}
    assert sorted(con.execute("select reason from rejects").fetchall()) == [("not_bound",), ("unreadable",)]


@pytest.mark.parametrize(
    "via,sig", [("inproc", signal.SIGTERM), ("mqtt", signal.SIGTERM), ("inproc", signal.SIGINT)]
)
def test_a_worker_stops_on_sigterm_after_the_checkpoint_in_hand(
    city, tiny_places, brain_dir, via, sig, request
):
    """systemctl stop sends SIGTERM, Ctrl-C on `make demo` SIGINT to the whole group: the worker leaves
    within seconds, after its checkpoint, without a traceback."""
    env = {
        **os.environ,
        "CITYLOOP_DATABASE_URL": database_url(),
        "CITYLOOP_BRAIN_DIR": str(brain_dir),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
    }
    if via == "mqtt":
        env.update(request.getfixturevalue("broker").env())
    cmd = pinned_command(
        "cityloop.cli.main",
        "brain",
        "worker",
        "--via",
        via,
        "--devices",
        "5",
        "--durable",
        f"stop-{uuid.uuid4().hex[:6]}",
    )
    proc = subprocess.Popen(
        cmd, env=pinned_env(env), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # wait for its "started" line (however slow the machine), then let it work a moment
        killer = threading.Timer(120, proc.kill)
        killer.start()
        first = proc.stdout.readline().decode()
        killer.cancel()
        assert "started" in first, (first, proc.stderr.read().decode()[-2000:])
        time.sleep(2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert f"worker ({via}) stopped after" in out.decode()
