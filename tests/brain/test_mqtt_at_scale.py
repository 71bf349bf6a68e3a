"""MQTT at meter scale, through a Mosquitto run with deploy/mosquitto/cityloop.conf: two workers share
the device topics, one is killed with SIGKILL and restarted, and every acknowledged reading is in the
engine exactly once.  Also: the ACL of that configuration, and the topic prefix that keeps runs apart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from cityloop.brain.archive import archive
from cityloop.brain.ingest import broker as brokers
from cityloop.brain.ingest import bus
from cityloop.core.actors import SYSTEM
from cityloop.core.net import free_port
from tests.brain.conftest import database_url, device_rows
from tests.clock import pinned_command, pinned_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
N_DEVICES, STEPS, PUBLISHERS = 2_000, 50, 4  # 100,000 single-reading QoS 1 messages


def _client(b, user: str, password: str, client_id: str, *, v5: bool = True):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311
    )
    c.username_pw_set(user, password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _worker(env, durable: str, logs: Path):
    cmd = pinned_command(
        "cityloop.cli.main",
        "brain",
        "worker",
        "--via",
        "mqtt",
        "--durable",
        durable,
        "--maintenance-every",
        "0",
    )
    logs.mkdir(exist_ok=True)
    with open(logs / f"{durable}.log", "ab") as out:
        return subprocess.Popen(cmd, env=pinned_env(env), cwd=ROOT, stdout=out, stderr=out)


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(folder.glob("*.log"))
    )


def _wait_subscribed(workers: dict, logs: Path, timeout: float = 60) -> None:
    """Until every worker's shared subscription is held by the broker (its log says so): a reading
    published before a group's first subscription has no session to wait in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, w in workers.items():
            assert w.poll() is None, f"worker {name} exited: {_logs(logs)}"
        said = [p.read_text(errors="replace").count("MQTT subscribed") for p in logs.glob("*.log")]
        if len(said) == len(workers) and all(said):
            return
        time.sleep(0.1)
    pytest.fail(f"the workers did not subscribe within {timeout:.0f} s: {_logs(logs)}")


def _checkpointed() -> int:
    from cityloop.brain.models import Checkpoint

    cp = Checkpoint.objects.filter(name="main").first()
    return cp.readings if cp else 0


def test_100000_readings_through_two_workers_one_killed_and_restarted_count_exactly_once(
    city, tiny_places, brain_dir, broker
):
    from cityloop.brain.actions.devices import register_devices

    run = uuid.uuid4().hex[:8]
    codes = [f"Q{run}{i:05d}" for i in range(N_DEVICES)]
    places = ["D1S1C1", "D1S2", "D2S1", "D2S2"]
    report = register_devices(
        city=city,
        rows=device_rows(
            tiny_places, [(c, "meter", "water", places[i % 4], "WATER", 900) for i, c in enumerate(codes)]
        ),
        actor=SYSTEM,
    )
    assert report.ok, report.errors
    env = {
        **os.environ,
        **broker.env(),
        "CITYLOOP_DATABASE_URL": database_url(),
        "CITYLOOP_BRAIN_DIR": str(brain_dir),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
    }
    logs = brain_dir.parent / "worker-logs"
    workers = {"a": _worker(env, f"w-a-{run}", logs), "b": _worker(env, f"w-b-{run}", logs)}
    try:
        _wait_subscribed(workers, logs)  # both shared subscriptions are held before the first reading
        deadline = time.monotonic() + 30

        t0 = int(time.time()) - 900 * (STEPS + 1)
        acked = [0] * PUBLISHERS

        def publish(k: int) -> None:
            c = _client(broker, "bench-publisher", "pub-pw", f"pub-{run}-{k}")
            c.connect("127.0.0.1", broker.port)
            c.loop_start()
            infos = []
            for s in range(STEPS):
                for code in codes[k::PUBLISHERS]:
                    payload = orjson.dumps({"t": t0 + 900 * s, "v": round(100 + 0.01 * s, 4)})
                    infos.append(c.publish(bus.device_topic(code, broker.prefix), payload, qos=1))
            for info in infos:
                info.wait_for_publish(120)
                acked[k] += info.is_published()
            c.loop_stop()
            c.disconnect()

        threads = [threading.Thread(target=publish, args=(k,)) for k in range(PUBLISHERS)]
        for th in threads:
            th.start()
        total = N_DEVICES * STEPS
        at_kill = 0
        while time.monotonic() < deadline + 120:
            at_kill = _checkpointed()
            if at_kill >= total // 4:
                break
            time.sleep(0.05)
        os.kill(workers["a"].pid, signal.SIGKILL)
        workers["a"].wait(10)
        assert 0 < at_kill < total, f"the kill was not mid-way ({at_kill} of {total} checkpointed)"
        time.sleep(1)
        workers["a"] = _worker(env, f"w-a-{run}", logs)  # the same client id: its session comes back
        for th in threads:
            th.join(180)
        assert sum(acked) == total, f"the broker acknowledged {sum(acked)} of {total} publishes"

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _checkpointed() < total:
            for name, w in workers.items():
                assert w.poll() is None, f"worker {name} exited: {_logs(logs)}"
            time.sleep(0.2)
        time.sleep(2)  # anything delivered twice after the last checkpoint has had time to arrive
    finally:
        for w in workers.values():
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers.values():
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()
    from cityloop.brain.models import Checkpoint

    cp = Checkpoint.objects.get(name="main")
    con = archive.connect(brain_dir)
    rows, distinct = con.execute("select count(*), count(distinct (device, ts)) from readings").fetchone()
    rejects = dict(con.execute("select reason, count(*) from rejects group by reason").fetchall())
    assert (cp.readings, rows, distinct) == (total, total, total), f"rejects: {rejects}\n{_logs(logs)}"
    assert set(rejects) <= {"duplicate_or_old"}  # deliveries after the kill: repeats, never readings
    assert "dropped" not in broker.log().lower()


def test_the_acl_lets_a_device_publish_only_its_own_readings_and_the_prefix_keeps_runs_apart(broker):
    got: list[str] = []
    sub = _client(broker, brokers.WORKER_USER, "worker-pw", f"sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = lambda c, u, m: got.append(m.topic)
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("#", qos=1)  # everything: the ACL gives the worker only its own prefix
    sub.loop_start()
    time.sleep(0.3)
    m1 = _client(broker, "M1", "m1-pw", "M1")
    m1.connect("127.0.0.1", broker.port)
    m1.loop_start()
    for topic in (
        bus.device_topic("M1", broker.prefix),  # its own: delivered
        bus.device_topic("M2", broker.prefix),  # another device's: refused by the broker
        bus.gateway_topic("GW1", broker.prefix),  # a gateway's: refused
        "otherrun/cityloop/devices/M1/reading",  # outside the prefix: refused
    ):
        m1.publish(topic, b'{"t": 1, "v": 1}', qos=1).wait_for_publish(5)
    gw = _client(broker, "GW1", "gw1-pw", "GW1")
    gw.connect("127.0.0.1", broker.port)
    gw.loop_start()
    gw.publish(bus.gateway_topic("GW1", broker.prefix), b'{"d":[],"t":[],"v":[]}', qos=1).wait_for_publish(5)
    time.sleep(1)
    for c in (m1, gw, sub):
        c.loop_stop()
        c.disconnect()
    assert sorted(got) == sorted(
        [bus.device_topic("M1", broker.prefix), bus.gateway_topic("GW1", broker.prefix)]
    )
    refused = []
    bad = _client(broker, "M1", "wrong", "M1-bad")
    bad.on_connect = lambda c, u, f, reason, p: refused.append(reason.is_failure)
    bad.connect("127.0.0.1", broker.port)
    bad.loop_start()
    time.sleep(0.5)
    bad.loop_stop()
    assert refused == [True] and not bad.is_connected()


def test_the_worker_topics_carry_the_prefix_and_join_the_shared_group(monkeypatch):
    monkeypatch.setenv("CITYLOOP_MQTT_PREFIX", "city-a/cityloop")
    monkeypatch.setenv("CITYLOOP_MQTT_GROUP", "brain")
    assert bus.subscriptions() == [
        "$share/brain/city-a/cityloop/devices/+/reading",
        "$share/brain/city-a/cityloop/gateways/+/batch",
    ]
    assert bus.parse_topic("city-a/cityloop/devices/W1/reading") == ("devices", "W1")
    assert bus.parse_topic("city-a/cityloop/gateways/G/batch") == ("gateways", "G")
    assert bus.parse_topic("city-b/cityloop/devices/W1/reading") is None
    assert bus.parse_topic("city-a/cityloop/devices/W1/other") is None


def test_cityloop_brain_broker_runs_mosquitto_with_the_repository_configuration(tmp_path):
    from cityloop.brain.ingest import broker as brokers

    why = brokers.available()
    if why:
        pytest.skip(why)
    port = free_port()
    env = {**os.environ, "CITYLOOP_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    cmd = pinned_command(
        "cityloop.cli.main",
        "brain",
        "broker",
        "--port",
        str(port),
        "--prefix",
        "try/cityloop",
        "--account",
        "cityloop-worker:pw",
        "--account",
        "sim:pw2",
        "--publisher",
        "sim",
    )
    proc = subprocess.Popen(
        cmd, env=pinned_env(env), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        line = proc.stdout.readline().decode()
        assert f"Mosquitto on 127.0.0.1:{port}" in line and "cityloop.conf" in line, line
        got: list[str] = []
        sub = _client(None, brokers.WORKER_USER, "pw", "try-sub")
        sub.on_message = lambda c, u, m: got.append(m.topic)
        sub.connect("127.0.0.1", port)
        sub.subscribe("try/cityloop/#", qos=1)
        sub.loop_start()
        time.sleep(0.3)
        pub = _client(None, "sim", "pw2", "try-pub")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        pub.publish("try/cityloop/devices/W1/reading", b"1", qos=1).wait_for_publish(5)
        time.sleep(0.5)
        for c in (pub, sub):
            c.loop_stop()
            c.disconnect()
        assert got == ["try/cityloop/devices/W1/reading"]
        assert "cityloop.acl" in (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
    finally:
        # systemctl stop (SIGTERM) stops the broker it started, which runs in a session of its own; read
        # what the command says meanwhile, so a full pipe can never hold it up
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    with pytest.raises(OSError):  # nothing listens on the broker's port any more
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_cityloop_brain_broker_names_a_bad_account():
    from django.core.management import CommandError, call_command

    from cityloop.brain.ingest import broker as brokers

    if brokers.available():
        pytest.skip(brokers.available())
    with pytest.raises(CommandError, match="--account 'sim': write NAME:PASSWORD"):
        call_command("brain", "broker", "--account", "sim")
    with pytest.raises(CommandError, match="--publisher 'x'"):
        call_command("brain", "broker", "--account", "a:b", "--publisher", "x")
