"""MQTT end to end: publishers → Mosquitto (deploy/mosquitto/cityloop.conf) → brain workers → engine.

    python bench/bench_mqtt.py [--messages 200000] [--devices 20000] [--workers 2] [--publishers 4]
                               [--batches 2000] [--batch-size 1000] [--client wire|paho] [--quick]

A Mosquitto of its own is started with the repository's configuration (cityloop.brain.ingest.broker),
a throw-away SQLite data dir gets the beijing pack and water meters, and ``--workers`` real
``cityloop brain worker --via mqtt`` processes share the device topics.  Then:

* single readings: ``--publishers`` processes publish ``--messages`` QoS 1 messages of ONE reading
  each, ``--devices`` meters in time order, at most 2,000 unacknowledged each, and count a message
  only when its PUBACK came (cityloop.brain.ingest.wire.publish; ``--client paho`` for paho-mqtt);
* gateway batches: ``--batches`` messages of ``--batch-size`` readings each on gateway topics.

Counted from the engine, not from a subscriber: ``lost`` = readings the broker acknowledged that are
not in the archive; ``duplicated`` = archive rows beyond the distinct (device, time) pairs.  The rate
is acknowledged readings over the time from the first publish to the checkpoint that holds the last
one.  The machine is shared, so each stage also prints the CPU seconds of the workers, Mosquitto and the
publishers per message (per reading for gateway batches): that figure does not depend on what else
runs.  Prints ``RESULT mqtt_msgs_per_s= mqtt_lost= mqtt_duplicated= mqtt_gateway_readings_per_s=
mqtt_gateway_lost= mqtt_broker_dropped=``; bench_brain.py calls :func:`run` for its own RESULT line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WINDOW = 2000  # unacknowledged PUBLISHes per publisher (paho's max_inflight_messages_set likewise)
T0 = 1_780_000_000 // 3600 * 3600  # readings in 2026; the engine refuses only readings from the future


def _setup(data_dir: Path, n_devices: int, n_gateways: int) -> list[str]:
    """Migrate, load the beijing pack, register water meters (bound to gateways); returns their codes."""
    import django

    os.environ["CITYLOOP_DATA_DIR"] = str(data_dir)
    os.environ.pop("CITYLOOP_DATABASE_URL", None)
    os.environ.pop("CITYLOOP_TESTING", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    sys.path.insert(0, str(ROOT / "src"))
    django.setup()
    import numpy as np
    from django.core.management import call_command

    from cityloop.brain import demo as brain_demo
    from cityloop.brain.actions.devices import register_devices
    from cityloop.core.actors import SYSTEM
    from cityloop.org import demo

    call_command("migrate", verbosity=0)
    demo.load("beijing")
    from cityloop.org.queries import city_by_code

    city = city_by_code("beijing")
    lon, lat = brain_demo._points(city, n_devices, np.random.default_rng(3))
    owner = brain_demo.owner_for(city, "water")
    codes = [f"MQ{i:07d}" for i in range(n_devices)]
    rows = [
        {
            "code": code,
            "type": "meter",
            "kind": "water",
            "lon": f"{x:.6f}",
            "lat": f"{y:.6f}",
            "department": owner.code,
            "interval_s": "900",
            "gateway": f"GW{i % n_gateways:03d}",
        }
        for i, (code, x, y) in enumerate(zip(codes, lon, lat, strict=True))
    ]
    report = register_devices(city=city, rows=rows, actor=SYSTEM)
    if not report.ok:
        sys.exit("; ".join(report.errors[:5]))
    return codes


def _checkpointed() -> int:
    from django.db import connection

    from cityloop.brain.models import Checkpoint

    connection.close()  # a fresh read of what the workers committed
    cp = Checkpoint.objects.filter(name="main").first()
    return cp.readings + cp.rejects if cp else 0  # every reading the workers have dealt with


def _client(port: int, user: str, password: str, client_id: str):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    c.username_pw_set(user, password)
    c.max_inflight_messages_set(WINDOW)  # the publisher's window: it waits for PUBACKs beyond it
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _publish_job(port: int, client_id: str, job: list[tuple[str, bytes]], results, client: str) -> None:
    if client == "paho":
        c = _client(port, "bench-publisher", "pub", client_id)
        infos = [c.publish(topic, payload, qos=1) for topic, payload in job]
        acked = 0
        for info in infos:
            info.wait_for_publish(600)
            acked += info.is_published()
        c.loop_stop()
        c.disconnect()
    else:  # each message still one QoS 1 PUBLISH, counted only when its PUBACK came
        from cityloop.brain.ingest import wire

        acked = wire.publish(
            "127.0.0.1", port, client_id, job, username="bench-publisher", password="pub", window=WINDOW
        )
    results.put((acked, time.process_time()))


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _publish(
    port: int, run: str, jobs: list[list[tuple[str, bytes]]], client: str = "wire"
) -> tuple[int, float, float]:
    """Each job from its own process and client; returns (messages the broker acknowledged, start time,
    CPU seconds the publishers used)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_publish_job, args=(port, f"bench-pub-{run}-{k}", job, results, client))
        for k, job in enumerate(jobs)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    got = [results.get(timeout=900) for _ in procs]
    for p in procs:
        p.join()
    return sum(a for a, _cpu in got), started, sum(c for _a, c in got)


def _cpu_line(procs, broker, cpu0, pub_cpu: float, n: int, unit: str) -> str:
    """Where the CPU went: on a shared machine the rate says how busy the others were, this does not."""
    workers = sum(_cpu(p.pid) for p in procs) - sum(cpu0[0])
    mosq = _cpu(broker.process.pid) - cpu0[1]
    total = workers + mosq + pub_cpu
    per = 1e6 / max(n, 1)
    return (
        f"CPU: workers {workers:.2f} s, Mosquitto {mosq:.2f} s, publishers {pub_cpu:.2f} s = "
        f"{total * per:.1f} µs per {unit} (workers {workers * per:.1f}, Mosquitto {mosq * per:.1f}, "
        f"publishers {pub_cpu * per:.1f})"
    )


def _wait_for(target: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _checkpointed() >= target:
            return time.perf_counter()
        time.sleep(0.05)
    return time.perf_counter()


def _archive_counts(brain_dir: Path) -> tuple[int, int]:
    from cityloop.brain.archive import archive

    con = archive.connect(brain_dir)
    return con.execute("select count(*), count(distinct (device, ts)) from readings").fetchone()


def run(
    *,
    messages: int = 200_000,
    devices: int = 20_000,
    workers: int = 2,
    publishers: int = 4,
    batches: int = 2_000,
    batch_size: int = 1_000,
    keep: bool = False,
    client: str = "wire",
) -> dict:
    from cityloop.brain.ingest import broker as brokers
    from cityloop.brain.ingest import bus

    why = brokers.available()
    if why:
        return {"skipped": why}
    data_dir = Path(tempfile.mkdtemp(prefix="cityloop-bench-mqtt-"))
    n_gateways = max(1, batches // 10)
    out: dict = {}
    procs: list[subprocess.Popen] = []
    broker = None
    try:
        t = time.perf_counter()
        codes = _setup(data_dir, devices, n_gateways)
        print(f"mqtt: setup (migrate, beijing pack, {devices:,} meters) in {time.perf_counter() - t:.1f} s")
        prefix = f"bench{uuid.uuid4().hex[:8]}/cityloop"
        accounts = {brokers.WORKER_USER: "worker", "bench-publisher": "pub"}
        broker = brokers.start(
            data_dir / "mosquitto", prefix=prefix, accounts=accounts, publisher="bench-publisher"
        )
        env = {
            **os.environ,
            **broker.env(),
            "CITYLOOP_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT / "src"),
        }
        run_id = uuid.uuid4().hex[:6]
        for k in range(workers):
            procs.append(
                subprocess.Popen(  # noqa: S603 (our own command)
                    [
                        str(BIN / "cityloop"),
                        "brain",
                        "worker",
                        "--via",
                        "mqtt",
                        "--durable",
                        f"bench-w{k}-{run_id}",
                        "--maintenance-every",
                        "0",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(data_dir / f"worker{k}.log", "wb"),  # noqa: SIM115 (the worker's for its life)
                )
            )
        deadline = time.monotonic() + 120  # every worker's shared subscription is held by the broker
        while not all("MQTT subscribed" in (data_dir / f"worker{k}.log").read_text() for k in range(workers)):
            for k, p in enumerate(procs):
                if p.poll() is not None:
                    sys.exit(f"worker {k} exited: {(data_dir / f'worker{k}.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                sys.exit("the workers did not subscribe within 120 s")
            time.sleep(0.1)
        base_cp = _checkpointed()  # the demo city's own devices and their history
        base_rows, base_distinct = _archive_counts(data_dir)

        # 1. one reading per message
        steps = max(1, messages // devices)
        total = steps * devices
        jobs: list[list[tuple[str, bytes]]] = [[] for _ in range(publishers)]
        for s in range(steps):
            for i, code in enumerate(codes):
                payload = orjson.dumps({"t": T0 + 900 * s, "v": round(100 + 0.01 * s + i * 1e-6, 6)})
                jobs[i % publishers].append((bus.device_topic(code, prefix), payload))
        cpu0 = [_cpu(p.pid) for p in procs], _cpu(broker.process.pid)
        acked, started, pub_cpu = _publish(broker.port, run_id, jobs, client)
        done = _wait_for(base_cp + acked, 600)
        cpu = _cpu_line(procs, broker, cpu0, pub_cpu, acked, "message")
        time.sleep(2)  # late repeats would land now
        rows, distinct = _archive_counts(data_dir)
        rows, distinct = rows - base_rows, distinct - base_distinct
        out.update(
            mqtt_msgs_per_s=acked / (done - started),
            mqtt_acked=acked,
            mqtt_lost=max(0, acked - distinct),
            mqtt_duplicated=rows - distinct,
            mqtt_published=total,
        )
        print(
            f"mqtt[one reading per message]: {acked:,} of {total:,} QoS 1 messages acknowledged by the "
            "broker, "
            f"in the engine {distinct:,} distinct readings ({rows:,} archive rows) after "
            f"{done - started:.2f} s = {out['mqtt_msgs_per_s']:,.0f} msg/s; {publishers} publishers, "
            f"{workers} workers"
        )
        print(f"mqtt[one reading per message] {cpu}")

        # 2. gateway batches (each gateway's own meters, later times)
        index = {code: i for i, code in enumerate(codes)}  # the same counter offsets as above
        by_gateway: dict[int, list[str]] = {}
        for i, code in enumerate(codes):
            by_gateway.setdefault(i % n_gateways, []).append(code)
        jobs = [[] for _ in range(publishers)]
        base_cp, base_rows, base_distinct = _checkpointed(), base_rows + rows, base_distinct + distinct
        sent = 0
        cursor = dict.fromkeys(by_gateway, 0)
        for b in range(batches):
            g = b % n_gateways
            mine = by_gateway[g]
            d, ts, v = [], [], []
            for _ in range(batch_size):
                j = cursor[g]
                cursor[g] += 1
                step = steps + j // len(mine)
                (
                    d.append(mine[j % len(mine)]),
                    ts.append(T0 + 900 * step),
                    v.append(round(100 + 0.01 * step + index[mine[j % len(mine)]] * 1e-6, 6)),
                )
            jobs[b % publishers].append(
                (bus.gateway_topic(f"GW{g:03d}", prefix), orjson.dumps({"d": d, "t": ts, "v": v}))
            )
            sent += batch_size
        cpu0 = [_cpu(p.pid) for p in procs], _cpu(broker.process.pid)
        g_acked, started, pub_cpu = _publish(broker.port, run_id + "g", jobs, client)
        done = _wait_for(base_cp + g_acked * batch_size, 600)
        g_cpu = _cpu_line(procs, broker, cpu0, pub_cpu, g_acked * batch_size, "reading")
        time.sleep(2)
        rows, distinct = _archive_counts(data_dir)
        got = distinct - base_distinct
        out.update(
            mqtt_gateway_readings_per_s=g_acked * batch_size / (done - started),
            mqtt_gateway_lost=max(0, g_acked * batch_size - got),
            mqtt_gateway_duplicated=(rows - base_rows) - got,
        )
        print(
            f"mqtt[gateway batches]: {g_acked:,} of {batches:,} batches of {batch_size:,} acknowledged, "
            f"{got:,} of {sent:,} readings in the engine after {done - started:.2f} s = "
            f"{out['mqtt_gateway_readings_per_s']:,.0f} readings/s"
        )
        print(f"mqtt[gateway batches] {g_cpu}")
        from cityloop.brain import queries

        dropped = (queries.mqtt_broker_dropped() or {}).get("dropped", 0)
        out["mqtt_broker_dropped"] = dropped
        print(f"mqtt: the broker counted {dropped} dropped message(s) ($SYS/broker/publish/messages/dropped)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        if broker is not None:
            broker.stop()  # also when a stage failed: no Mosquitto is left running
        if keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--devices", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--batches", type=int, default=2_000)
    ap.add_argument("--batch-size", type=int, default=1_000)
    ap.add_argument("--quick", action="store_true", help="20,000 messages and 200 batches")
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    ap.add_argument(
        "--client",
        choices=("wire", "paho"),
        default="wire",
        help="the publishers' MQTT client: cityloop.brain.ingest.wire (default) or paho-mqtt",
    )
    args = ap.parse_args()
    if args.quick:
        args.messages, args.batches, args.devices = 20_000, 200, 5_000
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    r = run(
        messages=args.messages,
        devices=args.devices,
        workers=args.workers,
        publishers=args.publishers,
        batches=args.batches,
        batch_size=args.batch_size,
        keep=args.keep,
        client=args.client,
    )
    if "skipped" in r:
        sys.exit(f"mqtt: skipped ({r['skipped']})")
    print(
        f"RESULT mqtt_msgs_per_s={r['mqtt_msgs_per_s']:.0f} mqtt_lost={r['mqtt_lost']} "
        f"mqtt_duplicated={r['mqtt_duplicated']} "
        f"mqtt_gateway_readings_per_s={r['mqtt_gateway_readings_per_s']:.0f} "
        f"mqtt_gateway_lost={r['mqtt_gateway_lost']} mqtt_broker_dropped={r['mqtt_broker_dropped']}"
    )


if __name__ == "__main__":
    main()
