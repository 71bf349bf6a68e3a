"""A compressed city day on the production path: PostgreSQL, gunicorn, NATS JetStream, Mosquitto.

    python bench/soak.py [--minutes 20] [--scale 5] [--database-url postgresql://...]
                         [--nats nats://127.0.0.1:4222] [--keep]

A real city day (Beijing's hotline, Pudong's meters and sensors) is, per 24 h:

* 70,000 hotline requests, each dispatched, signed, replied to and followed up by staff;
* 3,080,000 meters x 96 readings (every 15 min) = 295,680,000 readings;
* 40,000 sensors x 1,440 readings (every minute) = 57,600,000 readings;
* leaders looking at their pages.

The soak replays ONE simulated day of a fraction of that city in ``--minutes`` of wall time (the
compression c = 1,440 / minutes).  The fraction is chosen so that the offered load is ``--scale``
times a real day's load per unit of real time: fraction = scale / c (the default scale 5 over 20
minutes: 5/72 of the city, i.e. 213,889 meters, 2,778 sensors and 4,861 requests in the compressed day).

What runs (everything started is stopped at the end, also when a stage fails):

* a fresh PostgreSQL database (``--database-url``; dropped again at the end), migrated, with the
  beijing pack, a dispatcher, a leader and the fraction's meters and sensors registered;
* ``cityloop serve`` (gunicorn, ``--web-workers`` x ``--web-threads``) on a free port;
* a Mosquitto of its own started with ``deploy/mosquitto/cityloop.conf`` (cityloop.brain.ingest.broker),
  with a topic prefix of this run;
* two brain workers as deployed: ``cityloop brain worker --via nats`` on this run's subject of the
  shared NATS JetStream (meters: the head-end system publishes gateway batches of 1,000 readings to
  ``cityloop.readings.<run>.m``), and ``cityloop brain worker --via mqtt`` (sensors: each gateway of up
  to 500 sensors publishes a batch per simulated minute, QoS 1);
* intake: POST /api/v1/requests with a token at an even pace, each with its Idempotency-Key (retried
  with the same key on a connection error, as a client should);
* staff (the hotline's own action module, as the views use it, each action as the right person: the
  dispatcher accepts the suggestion, the receiving street's or department's staff sign and reply,
  the dispatcher records the citizen's answer on the phone) after simulated delays of 10 min, 20 min,
  2 h and 1 h; after the day they clear what is left without waiting;
* a leader opens the leaders' pages (dashboard, one district, one category, rankings) one every
  ``--page-every`` seconds: the page p99 (not part of the scale factor).

Readings come from :class:`cityloop.brain.ingest.simulator.Simulator` (households' daily profile,
sensors' daily wave) for the simulated day that ended when the run began (the engine refuses readings
from the future).  The workers run without their 30 s maintenance (silence checks): in a compressed
day every device would look silent against the wall clock.

**Scale factor.**  For each stream s (requests submitted, requests handled to the end, meter readings,
sensor readings), with V_s its volume in a real day and N_s the items of the run that were processed
(acknowledged and committed; for handling: followed up), T_s the wall time from the start of the load
to the moment the last of them was processed (the drain after the day included):

    scale_s = (N_s / T_s) / (V_s / 86,400 s)

``soak_scale`` is the minimum over the streams: 1.0 is a real city keeping up in real time.  A run
that keeps up reaches the offered ``--scale``; one that falls behind takes longer (T_s grows) and
reports less.

The last line is ``RESULT soak_scale= soak_minutes= requests_submitted= requests_lost= readings_sent=
readings_lost= backlog_end= page_p99_ms= rss_growth_mb=``:

* ``requests_lost``: acknowledged submits missing from the database (or under another number);
* ``readings_lost``: readings the brokers acknowledged that are not in the brain's archive;
* ``backlog_end``: items waiting when the simulated day ended: readings acknowledged but not yet in
  a checkpoint, submits due but not yet acknowledged, staff actions due but not done;
* ``rss_growth_mb``: resident memory of the web server (gunicorn and its workers) and the two brain
  workers at the end of the day minus after its first tenth (warmed up), summed.
"""

from __future__ import annotations

import argparse
import http.client
import math
import multiprocessing as mp
import os
import queue
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson

from _postgres import fresh_postgres  # noqa: E402 - a sibling module of this script
from _serve import free_port, wait_until_up  # noqa: E402 - a sibling module
from bench_intake import PACK, acknowledged, count_rows, cpu_seconds, points_inside_city  # noqa: E402 - a sibling
from bench_intake import cityloop as cityloop_cmd  # noqa: E402
from bench_mqtt import _archive_counts  # noqa: E402 - a sibling module

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAY = 86_400
DEFAULT_MINUTES = 20.0  # setup (about 1 min), the day, the drain and the checks stay within 30 min
DEFAULT_SCALE = 5.0  # offered load in real days per day: what 2 shared cores sustained in short runs
# One real city day (module docstring).
REAL = {
    "requests": 70_000,
    "meters": 3_080_000,
    "meter_interval_s": 900,
    "sensors": 40_000,
    "sensor_interval_s": 60,
}
REAL_PER_S = {
    "intake": REAL["requests"] / DAY,
    "handling": REAL["requests"] / DAY,
    "meters": REAL["meters"] * (DAY // REAL["meter_interval_s"]) / DAY,
    "sensors": REAL["sensors"] * (DAY // REAL["sensor_interval_s"]) / DAY,
}
# Simulated delays of the staff (seconds of the simulated day): dispatch after the submit, sign after
# the dispatch, reply after the signature, the follow-up call after the reply.
STAFF_DELAYS = {"dispatch": 600, "sign": 1200, "reply": 7200, "follow_up": 3600}
REPLY = (
    "您好，经现场核实，您反映的问题已处理完毕，相关设施已恢复正常。"
    "感谢您对城市管理工作的支持，如仍有问题请再次来电。"
)
METER_KINDS = (("water", 0.45), ("power", 0.45), ("gas", 0.10))
SENSOR_KINDS = ("noise", "air", "manhole", "water_level")
METER_BATCH, SENSOR_GATEWAY = 1000, 500
SIM_STEP = 60  # simulated seconds per publishing step


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {msg}", flush=True)


# ---------------------------------------------------------------- memory


def tree_pids(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (MB)."""
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# ---------------------------------------------------------------- setup (main process, Django)


def register_devices(n_meters: int, n_sensors: int) -> dict:
    """Register the fraction's meters (gateways of 1,000) and sensors (gateways of 500)."""
    from cityloop.brain import demo as brain_demo
    from cityloop.brain.actions.devices import register_devices as register
    from cityloop.core.actors import SYSTEM
    from cityloop.org.queries import city_by_code

    city = city_by_code("beijing")
    rng = np.random.default_rng(5)
    kinds = np.array([k for k, _ in METER_KINDS])
    meter_kind = rng.choice(kinds, n_meters, p=[p for _, p in METER_KINDS])
    sensor_kind = rng.choice(np.array(SENSOR_KINDS), n_sensors)
    owners = {k: brain_demo.owner_for(city, k).code for k in (*kinds.tolist(), *SENSOR_KINDS)}
    devices = {
        "meters": [f"SM{i:08d}" for i in range(n_meters)],
        "meter_kinds": meter_kind.tolist(),
        "sensors": [f"SS{i:06d}" for i in range(n_sensors)],
        "sensor_kinds": sensor_kind.tolist(),
        "sensor_gateways": [f"SG{i // SENSOR_GATEWAY:04d}" for i in range(n_sensors)],
    }
    plan = [
        (code, kind, "meter", REAL["meter_interval_s"], f"MG{i // METER_BATCH:05d}")
        for i, (code, kind) in enumerate(zip(devices["meters"], devices["meter_kinds"], strict=True))
    ] + [
        (code, kind, "sensor", REAL["sensor_interval_s"], gw)
        for code, kind, gw in zip(
            devices["sensors"], devices["sensor_kinds"], devices["sensor_gateways"], strict=True
        )
    ]
    # 5,000 places the locator puts in a street of the city (bench_intake's), shared by the devices
    spots = np.array(points_inside_city(PACK, n=5000, seed=9))
    lon, lat = np.resize(spots[:, 0], len(plan)), np.resize(spots[:, 1], len(plan))
    for start in range(0, len(plan), 50_000):
        rows = [
            {
                "code": code,
                "type": typ,
                "kind": kind,
                "lon": f"{x:.6f}",
                "lat": f"{y:.6f}",
                "department": owners[kind],
                "interval_s": str(interval),
                "gateway": gw,
            }
            for (code, kind, typ, interval, gw), x, y in zip(
                plan[start : start + 50_000], lon[start:], lat[start:], strict=False
            )
        ]
        report = register(city=city, rows=rows, actor=SYSTEM)
        if not report.ok:
            sys.exit("device registration: " + "; ".join(report.errors[:5]))
    return devices


def people() -> tuple[int, int, list[str]]:
    """A dispatcher and a leader; returns their ids and the leaders' page URLs to look at."""
    from cityloop.core.actions import add_user
    from cityloop.core.actors import SYSTEM
    from cityloop.org.models import Category, Jurisdiction
    from cityloop.org.queries import city_by_code

    city = city_by_code("beijing")
    made = {
        role: add_user(
            username=f"soak_{role}",
            password=secrets.token_urlsafe(18),
            role=role,
            actor=SYSTEM,
            check_password=False,
        )
        for role in ("dispatcher", "leader")
    }
    district = Jurisdiction.objects.filter(city=city, level="district").order_by("code").first()
    category = Category.objects.filter(city=city, depth=1).order_by("code").first()
    pages = [
        "/leaders/",
        f"/leaders/?district={district.pk}",
        f"/leaders/?category={category.pk}",
        "/leaders/?rate=overdue",
        "/leaders/?alarms=1",
        "/leaders/rankings/street/",
        "/leaders/rankings/department/",
        f"/leaders/rankings/street/?district={district.pk}",
    ]
    return made["dispatcher"].pk, made["leader"].pk, pages


def session_cookie(user_id: int) -> str:
    """A signed-in session of the user, stored where the server reads sessions (the database)."""
    from django.test import Client

    from cityloop.core.models import User

    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    return client.cookies["sessionid"].value


def checkpointed() -> tuple[int, int]:
    """(readings, rejects) in the brain's committed checkpoint."""
    from django.db import connection

    from cityloop.brain.models import Checkpoint

    connection.close()
    cp = Checkpoint.objects.filter(name="main").first()
    return (cp.readings, cp.rejects) if cp else (0, 0)


# ---------------------------------------------------------------- the day's streams (child processes)


class Shared:
    """Counters the children update and the main process reads while the day runs."""

    def __init__(self, ctx):
        self.meters_acked = ctx.Value("q", 0)
        self.sensors_acked = ctx.Value("q", 0)
        self.submits_acked = ctx.Value("q", 0)
        self.intake_done = ctx.Event()
        self.stop = ctx.Event()


def _sleep_until(t: float, stop) -> bool:
    while True:
        left = t - time.time()
        if left <= 0:
            return not stop.is_set()
        if stop.is_set():
            return False
        time.sleep(min(left, 0.5))


def _day_steps(t0: float, wall: float, stop):
    """(k, due) for each simulated step of the day, paced over ``wall`` seconds from ``t0``: step k starts
    when its share of the wall time begins and is due when it ends; stops early once ``stop`` is set."""
    steps = DAY // SIM_STEP
    for k in range(steps):
        due = t0 + (k + 1) * wall / steps
        if not _sleep_until(due - wall / steps, stop):
            return
        yield k, due


def meters_stream(t0, wall, d0, devices, subject, nats_url, shared, results) -> None:
    """The head-end system: every simulated minute's meter readings, in batches of 1,000, to NATS."""
    import asyncio

    import nats

    from cityloop.brain.ingest.simulator import Simulator

    codes = np.array(devices["meters"], dtype=object)
    sim = Simulator(codes, np.array(devices["meter_kinds"]), np.full(len(codes), 900), start=d0, seed=11)
    out = {"meters_sent": 0, "meters_acked": 0, "meters_failed": 0, "meters_lag_s": 0.0}

    async def go():
        nc = await nats.connect(nats_url, max_reconnect_attempts=-1)
        js = nc.jetstream()
        for k, due in _day_steps(t0, wall, shared.stop):
            batch = sim.until(d0 + (k + 1) * SIM_STEP)
            payloads = []
            for s in range(0, len(batch.device), METER_BATCH):
                sl = slice(s, s + METER_BATCH)
                payloads.append(
                    (
                        min(METER_BATCH, len(batch.device) - s),
                        orjson.dumps(
                            {
                                "d": batch.device[sl].tolist(),
                                "t": np.asarray(batch.ts[sl]).tolist(),
                                "v": np.asarray(batch.value[sl]).tolist(),
                            }
                        ),
                    )
                )
            got = await asyncio.gather(
                *(js.publish(subject, p, headers={"Content-Type": "application/json"}) for _, p in payloads),
                return_exceptions=True,
            )
            for (n, _), ack in zip(payloads, got, strict=True):
                out["meters_sent"] += n
                if isinstance(ack, BaseException):
                    out["meters_failed"] += n
                else:
                    out["meters_acked"] += n
                    with shared.meters_acked.get_lock():
                        shared.meters_acked.value += n
            out["meters_lag_s"] = max(out["meters_lag_s"], time.time() - due)
        await nc.drain()

    asyncio.run(go())
    out["meters_last_sent"] = time.time()
    results.put(out)


def sensors_stream(t0, wall, d0, devices, port, user, password, run, prefix, shared, results) -> None:
    """The sensors' gateways: a batch per gateway and simulated minute, QoS 1 to Mosquitto."""
    import paho.mqtt.client as mqtt

    from cityloop.brain.ingest import bus
    from cityloop.brain.ingest.simulator import Simulator

    codes = np.array(devices["sensors"], dtype=object)
    gateway_of = dict(zip(devices["sensors"], devices["sensor_gateways"], strict=True))
    sim = Simulator(codes, np.array(devices["sensor_kinds"]), np.full(len(codes), 60), start=d0, seed=13)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-pub-{run}", protocol=mqtt.MQTTv311
    )
    client.username_pw_set(user, password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    out = {"sensors_sent": 0, "sensors_acked": 0, "sensors_failed": 0, "sensors_lag_s": 0.0}
    waiting: list = []

    def settle(block: bool) -> None:
        keep = []
        for info, n in waiting:
            if block:
                info.wait_for_publish(120)
            if info.is_published():
                out["sensors_acked"] += n
                with shared.sensors_acked.get_lock():
                    shared.sensors_acked.value += n
            elif block:
                out["sensors_failed"] += n
            else:
                keep.append((info, n))
        waiting[:] = keep

    for k, due in _day_steps(t0, wall, shared.stop):
        batch = sim.until(d0 + (k + 1) * SIM_STEP)
        gws = np.array([gateway_of[c] for c in batch.device.tolist()])
        for gw in np.unique(gws):
            mine = np.flatnonzero(gws == gw)
            payload = orjson.dumps(
                {
                    "d": batch.device[mine].tolist(),
                    "t": np.asarray(batch.ts)[mine].tolist(),
                    "v": np.asarray(batch.value)[mine].tolist(),
                }
            )
            waiting.append((client.publish(bus.gateway_topic(str(gw), prefix), payload, qos=1), len(mine)))
            out["sensors_sent"] += len(mine)
        settle(block=False)
        out["sensors_lag_s"] = max(out["sensors_lag_s"], time.time() - due)
    settle(block=True)
    client.loop_stop()
    client.disconnect()
    out["sensors_last_sent"] = time.time()
    results.put(out)


def intake_stream(t0, wall, n, url, token, points, out_prefix, shared, results, threads=8) -> None:
    """Citizens' submits through the API at an even pace; each acknowledged one is written down."""
    host, port = url.removeprefix("http://").split(":")
    lock, counter = threading.Lock(), iter(range(n))
    latencies: list[float] = []
    stats = {"retries": 0, "failed": 0, "last_ack": t0, "lag": 0.0}

    def worker(tid: int) -> None:
        with open(f"{out_prefix}.soak.{tid}.acked", "w") as out:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None or not _sleep_until(t0 + (i + 0.5) * wall / n, shared.stop):
                    break
                key = f"soak-{tid}-{i}"
                x, y = points[i % len(points)]
                body = orjson.dumps(
                    {
                        "description": f"路灯不亮，晚上很黑，请尽快修理（{key}）",
                        "caller_phone": "13800001234",
                        "lon": x,
                        "lat": y,
                        "attributes": {"k": key},
                    }
                )
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": key,
                }
                began = time.time()
                with lock:
                    stats["lag"] = max(stats["lag"], began - (t0 + (i + 0.5) * wall / n))
                for attempt in range(4):
                    # a connection per submit, as citizens' phones and the call centre's desks do (gunicorn
                    # closes a keep-alive connection idle for 2 s; the pace leaves them idle longer)
                    conn = http.client.HTTPConnection(host, int(port), timeout=30)
                    try:
                        conn.request("POST", "/api/v1/requests", body=body, headers=headers)
                        answer = conn.getresponse()
                        text = answer.read()
                    except (OSError, http.client.HTTPException):
                        with lock:
                            stats["retries"] += 1
                        time.sleep(0.5 * (attempt + 1))
                        continue
                    finally:
                        conn.close()
                    if 200 <= answer.status < 300:
                        number = orjson.loads(text).get("tracking_no", "?")
                        out.write(f"{answer.status} {number} {key}\n")
                        with lock:
                            latencies.append(time.time() - began)
                            stats["last_ack"] = max(stats["last_ack"], time.time())
                        with shared.submits_acked.get_lock():
                            shared.submits_acked.value += 1
                    else:
                        out.write(f"{answer.status} - -\n")
                        with lock:
                            stats["failed"] += 1
                    break
                else:
                    out.write("000 - -\n")
                    with lock:
                        stats["failed"] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    shared.intake_done.set()
    latencies.sort()
    results.put(
        {
            "intake_p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else math.nan,
            "intake_retries": stats["retries"],
            "intake_failed": stats["failed"],
            "intake_last_ack": stats["last_ack"],
            "intake_lag_s": stats["lag"],
        }
    )


def staff_stream(
    t0, wall, compression, dispatcher_id, shared, results, drain_limit, office, clerks=2
) -> None:
    """The hotline's staff, through the action module the views use, each action as the right person.

    One office (a process; ``office`` = (k, n) of n offices) of ``clerks`` threads; every clerk of every
    office has its own share of the requests by id (one request's orders stay with one clerk) and
    dispatches, signs, replies and calls back what is due in it, oldest first."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, connection, connections
    from django.db.models import F
    from django.utils import timezone

    from cityloop.core.actions import add_user
    from cityloop.core.actors import SYSTEM
    from cityloop.core.models import User
    from cityloop.hotline import actions, queries
    from cityloop.hotline.models import Order, OrderStatus, Request, Status

    connections.close_all()
    dispatcher = User.objects.get(pk=dispatcher_id)
    connection.close()
    units: dict[tuple[str, int], User | None] = {}
    lock = threading.Lock()
    done = {"dispatch": 0, "sign": 0, "reply": 0, "follow_up": 0, "errors": 0}
    errors: list[str] = []
    last_action = [t0]
    end = t0 + wall

    def unit_user(order: Order) -> User:
        key = ("street", order.street_id) if order.street_id else ("department", order.department_id)
        name = f"soak_{key[0]}_{key[1]}"
        with lock:
            if units.get(key) is None:  # the other office may have made the unit's user already
                units[key] = User.objects.filter(username=name).first()
            if units[key] is None:
                try:
                    units[key] = add_user(
                        username=name,
                        password=secrets.token_urlsafe(18),
                        role=key[0],
                        street=order.street if order.street_id else None,
                        department=order.department if not order.street_id else None,
                        actor=SYSTEM,
                        check_password=False,
                    )
                except (ValidationError, IntegrityError):  # made by the other office just now
                    units[key] = User.objects.get(username=name)
            return units[key]

    def due(kind: str, draining: bool):
        return timezone.now() - timedelta(seconds=0 if draining else STAFF_DELAYS[kind] / compression)

    def work(draining: bool, mine=None) -> dict:
        """The querysets of what is due now (of one clerk's share when ``mine`` = (k, n))."""
        qs = {
            "dispatch": Request.objects.filter(status=Status.NEW, created_at__lte=due("dispatch", draining)),
            "sign": Order.objects.filter(
                status=OrderStatus.PENDING, dispatched_at__lte=due("sign", draining)
            ),
            "reply": Order.objects.filter(status=OrderStatus.SIGNED, signed_at__lte=due("reply", draining)),
            "follow_up": queries.follow_up_queue().filter(replied_at__lte=due("follow_up", draining)),
        }
        if mine is not None:
            k, n = mine
            for kind in qs:
                field = "id" if kind in ("dispatch", "follow_up") else "request_id"
                qs[kind] = qs[kind].annotate(share=F(field) % n).filter(share=k)
        return qs

    def pending(draining: bool) -> dict[str, int]:
        return {kind: q.count() for kind, q in work(draining).items()}

    def act(kind: str, fn) -> None:
        try:
            fn()
            with lock:
                done[kind] += 1
        except (ValidationError, ValueError) as exc:
            with lock:
                done["errors"] += 1
                if len(errors) < 5:
                    errors.append(f"{kind}: {exc}")

    def dispatch(r: Request) -> None:
        try:
            actions.accept_suggestion(r, actor=dispatcher)
        except ValidationError:  # no responsible unit for the category: the street where it happened
            actions.dispatch_request(r, units=[("street", r.street, "street")], actor=dispatcher)

    def share(k: int) -> tuple[int, int]:
        return office[0] * clerks + k, office[1] * clerks

    def clerk(k: int) -> None:
        try:
            while True:
                draining = time.time() >= end
                if shared.stop.is_set() or (draining and time.time() > end + drain_limit):
                    return
                qs = work(draining, share(k))
                worked = 0
                for r in qs["dispatch"].order_by("created_at")[:10]:
                    act("dispatch", lambda r=r: dispatch(r))
                    worked += 1
                for o in (
                    qs["sign"]
                    .select_related("request", "street", "department")
                    .order_by("dispatched_at")[:10]
                ):
                    act("sign", lambda o=o: actions.sign_order(o, actor=unit_user(o)))
                    worked += 1
                for o in (
                    qs["reply"].select_related("request", "street", "department").order_by("signed_at")[:10]
                ):
                    act(
                        "reply",
                        lambda o=o: actions.reply_order(
                            o, outcome="resolved", text=REPLY, actor=unit_user(o)
                        ),
                    )
                    worked += 1
                for r in qs["follow_up"][:10]:
                    act(
                        "follow_up",
                        lambda r=r: actions.record_follow_up(
                            r, resolved=True, satisfaction="satisfied", channel="phone", actor=dispatcher
                        ),
                    )
                    worked += 1
                if worked:
                    with lock:
                        last_action[0] = max(last_action[0], time.time())
                elif (
                    draining
                    and shared.intake_done.is_set()
                    and not any(q.exists() for q in work(True, share(k)).values())
                ):
                    return
                else:
                    time.sleep(0.2)
        finally:
            connection.close()

    pool = [threading.Thread(target=clerk, args=(k,)) for k in range(clerks)]
    for t in pool:
        t.start()
    while time.time() < end and any(t.is_alive() for t in pool):
        time.sleep(0.2)
    first = office[0] == 0  # the first office counts the whole city's queues
    backlog_end = pending(False) if first else {}  # what was due when the day ended and is not done
    for t in pool:
        t.join()
    results.put(
        {
            f"staff{office[0]}": {
                "done": done,
                "errors": errors,
                "backlog_end": backlog_end,
                "left": pending(True) if first else {},
                "last_action": last_action[0],
            }
        }
    )


def leader_stream(t0, wall, url, cookie, pages, every, shared, results) -> None:
    """A leader opening the leaders' pages in turn, one every ``every`` seconds, through the server."""
    host, port = url.removeprefix("http://").split(":")
    times, failures, k = [], {}, 0
    while _sleep_until(t0 + k * every, shared.stop) and time.time() < t0 + wall:
        page = pages[k % len(pages)]
        k += 1
        began = time.perf_counter()
        conn = http.client.HTTPConnection(host, int(port), timeout=60)  # gunicorn closes idle ones after 2 s
        try:
            conn.request("GET", page, headers={"Cookie": f"sessionid={cookie}", "Accept-Language": "zh-hans"})
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            continue
        finally:
            conn.close()
        if answer.status != 200:
            failures[f"{page} {answer.status}"] = failures.get(f"{page} {answer.status}", 0) + 1
            continue
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    results.put(
        {
            "page_views": len(times),
            "page_failures": failures,
            "page_p50_ms": statistics.median(times) if times else math.nan,
            "page_p99_ms": times[int(0.99 * (len(times) - 1))] if times else math.nan,
            "page_max_ms": times[-1] if times else math.nan,
        }
    )


# ---------------------------------------------------------------- orchestration


def start(cmd: list[str], env: dict, logfile: Path) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own command)
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(logfile, "wb"),  # noqa: SIM115 (the process writes it for its whole life)
        start_new_session=True,  # its own process group: stopped with everything it started
    )


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


def nats_cleanup(nats_url: str, durable: str, subject: str) -> None:
    """This run's consumer and messages off the shared JetStream."""
    import asyncio

    import nats

    from cityloop.brain.ingest import bus

    async def go():
        nc = await nats.connect(nats_url, connect_timeout=3, max_reconnect_attempts=1)
        js = nc.jetstream()
        for action in (js.delete_consumer(bus.STREAM, durable), js.purge_stream(bus.STREAM, subject=subject)):
            try:
                await action
            except Exception as exc:  # noqa: BLE001 (cleanup reports and goes on)
                print(f"nats cleanup: {type(exc).__name__}: {exc}")
        await nc.close()

    asyncio.run(go())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--minutes",
        type=float,
        default=float(os.environ.get("SOAK_MINUTES", DEFAULT_MINUTES)),
        help=f"wall minutes of the compressed day (SOAK_MINUTES; default {DEFAULT_MINUTES:g})",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("SOAK_SCALE", DEFAULT_SCALE)),
        help="offered load, in real city days per day of wall time (SOAK_SCALE)",
    )
    ap.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL URL of a database to create and drop "
        "(default postgresql://postgres@127.0.0.1:5432/soak_<run>)",
    )
    ap.add_argument("--nats", default=os.environ.get("CITYLOOP_NATS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--web-threads", type=int, default=8)
    ap.add_argument(
        "--staff-offices", type=int, default=2, help="staff processes (2 clerks each; one per core)"
    )
    ap.add_argument("--page-every", type=float, default=2.0, help="seconds between a leader's page views")
    ap.add_argument("--drain", type=float, default=300, help="at most this many seconds after the day")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and the database")
    args = ap.parse_args(argv)

    from cityloop.brain.ingest import broker as brokers
    from cityloop.brain.ingest import bus

    why = brokers.available()
    if why:
        sys.exit(f"soak: {why}")
    nats_host, nats_port = args.nats.split("//")[-1].split(",")[0].rsplit(":", 1)
    if not bus.reachable(nats_host, int(nats_port)):
        sys.exit(f"soak: no NATS server at {args.nats}")

    run = uuid.uuid4().hex[:8]
    wall = args.minutes * 60
    compression = DAY / wall
    fraction = args.scale / compression
    n_meters = max(METER_BATCH, round(REAL["meters"] * fraction))
    n_sensors = max(50, round(REAL["sensors"] * fraction))
    n_requests = max(20, round(REAL["requests"] * fraction))
    url_db = args.database_url or f"postgresql://postgres@127.0.0.1:5432/soak_{run}"
    data_dir = Path(tempfile.mkdtemp(prefix=f"cityloop-soak-{run}-", dir="/tmp"))
    subject_root = f"cityloop.readings.{run}"
    durable = f"soak-{run}"
    prefix = f"soak{run}/cityloop"
    log(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; run {run}; "
        f"{args.minutes:g} min for 24 simulated hours (x{compression:.1f}); offered scale {args.scale:g} "
        f"= {fraction:.4f} of the city: {n_meters:,} meters, {n_sensors:,} sensors, {n_requests:,} requests"
    )
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(data_dir),
        "CITYLOOP_DATABASE_URL": url_db,
        "CITYLOOP_DEBUG": "false",
        "CITYLOOP_NATS_URL": args.nats,
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("CITYLOOP_TESTING", None)
    procs: dict[str, subprocess.Popen] = {}
    children: list = []
    broker = None
    shared = None
    t_setup = time.perf_counter()
    try:
        fresh_postgres(url_db)
        cityloop_cmd(env, "migrate", "--verbosity", "0")
        cityloop_cmd(env, "city", "import", "beijing")
        os.environ.update({k: v for k, v in env.items() if k.startswith("CITYLOOP_")})
        os.environ.pop("CITYLOOP_TESTING", None)
        os.environ["DJANGO_SETTINGS_MODULE"] = "cityloop.settings"
        sys.path.insert(0, str(ROOT / "src"))
        import django

        django.setup()
        from django.db import connections

        dispatcher_id, leader_id, pages = people()
        token = (
            cityloop_cmd(env, "token", "create", "soak_dispatcher", "--name", "soak", "--scope", "hotline")
            .strip()
            .splitlines()[-1]
        )
        began = time.perf_counter()
        devices = register_devices(n_meters, n_sensors)
        log(f"registered {n_meters + n_sensors:,} devices in {time.perf_counter() - began:.1f} s")
        cookie = session_cookie(leader_id)
        points = points_inside_city(PACK)

        accounts = {
            brokers.WORKER_USER: secrets.token_urlsafe(12),
            "soak-publisher": secrets.token_urlsafe(12),
        }
        broker = brokers.start(
            data_dir / "mosquitto", prefix=prefix, accounts=accounts, publisher="soak-publisher"
        )
        env.update(broker.env())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs["web"] = start(
            [
                str(BIN / "cityloop"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.web_workers),
                "--threads",
                str(args.web_threads),
            ],
            env,
            data_dir / "web.log",
        )
        worker = [str(BIN / "cityloop"), "brain", "worker", "--maintenance-every", "0"]
        procs["brain-nats"] = start(
            [*worker, "--via", "nats", "--subject", f"{subject_root}.>", "--durable", durable],
            env,
            data_dir / "brain-nats.log",
        )
        procs["brain-mqtt"] = start(
            [*worker, "--via", "mqtt", "--durable", f"soak-mqtt-{run}"], env, data_dir / "brain-mqtt.log"
        )
        wait_until_up(url, procs["web"])
        deadline = time.monotonic() + 120
        for name, mark in (("brain-nats", "worker: NATS"), ("brain-mqtt", "MQTT subscribed")):
            while mark not in (data_dir / f"{name}.log").read_text(errors="replace"):
                if procs[name].poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"{name} did not start: {(data_dir / f'{name}.log').read_text()[-2000:]}")
                time.sleep(0.2)
        log(
            f"server up at {url}, /readyz {status_of(url + '/readyz')}; workers consuming; "
            f"setup {time.perf_counter() - t_setup:.0f} s"
        )
        base_readings, base_rejects = checkpointed()
        connections.close_all()

        ctx = mp.get_context("fork")
        shared = Shared(ctx)
        results = ctx.Queue()
        t0 = time.time() + 2
        d0 = int(t0) - DAY - 120  # the simulated day ends two minutes before the run begins
        out_prefix = str(data_dir / "submits")
        specs = {
            "meters": (
                meters_stream,
                (t0, wall, d0, devices, f"{subject_root}.m", args.nats, shared, results),
            ),
            "sensors": (
                sensors_stream,
                (
                    t0,
                    wall,
                    d0,
                    devices,
                    broker.port,
                    "soak-publisher",
                    accounts["soak-publisher"],
                    run,
                    prefix,
                    shared,
                    results,
                ),
            ),
            "intake": (
                intake_stream,
                (t0, wall, n_requests, url, token, points, out_prefix, shared, results),
            ),
            **{
                f"staff{k}": (
                    staff_stream,
                    (
                        t0,
                        wall,
                        compression,
                        dispatcher_id,
                        shared,
                        results,
                        args.drain,
                        (k, args.staff_offices),
                    ),
                )
                for k in range(args.staff_offices)
            },
            "leader": (leader_stream, (t0, wall, url, cookie, pages, args.page_every, shared, results)),
        }
        for name, (target, targs) in specs.items():
            child = ctx.Process(target=target, args=targs, name=name)
            child.start()
            children.append(child)
        # the servers, and the simulated city's own processes (publishers, citizens, staff, leader)
        watched = {name: p.pid for name, p in procs.items()} | {c.name: c.pid for c in children}
        rss0: dict[str, float] = {}
        cpu0: dict[str, float] = {}
        tick = t0
        rss1: dict[str, float] = {}
        backlog: dict[str, int] = {}
        next_print = t0 + 30
        while time.time() < t0 + wall:
            now = time.time()
            if not rss0 and now >= t0 + wall / 10:
                rss0 = {n: rss_mb(watched[n]) for n in procs}
                cpu0 = {n: cpu_seconds(pid) for n, pid in watched.items()}
                tick = time.time()
            for name, p in procs.items():
                if p.poll() is not None:
                    sys.exit(f"{name} exited with {p.returncode} during the day")
            if now >= next_print:
                got, rej = checkpointed()
                sent = shared.meters_acked.value + shared.sensors_acked.value
                log(
                    f"day {100 * (now - t0) / wall:4.1f} %: readings acked {sent:,}, checkpointed "
                    f"{got - base_readings + rej - base_rejects:,}; "
                    f"submits acked {shared.submits_acked.value:,}; "
                    f"load average {os.getloadavg()[0]:.1f}"
                )
                next_print += 60
            time.sleep(1)
        rss1 = {n: rss_mb(watched[n]) for n in procs}
        cpu = {n: cpu_seconds(pid) - cpu0[n] for n, pid in watched.items()}
        cpu_wall = time.time() - tick
        got, rej = checkpointed()
        acked_now = shared.meters_acked.value + shared.sensors_acked.value
        backlog["readings"] = max(0, acked_now - (got - base_readings + rej - base_rejects))
        backlog["submits"] = max(
            0, math.floor(n_requests * min(1.0, (time.time() - t0) / wall)) - shared.submits_acked.value
        )
        log(
            f"the day is over: backlog readings {backlog['readings']:,}, "
            f"submits {backlog['submits']:,}; draining"
        )

        # Collect each stream's figures; the readings are done when the checkpoint holds every reading
        # the brokers acknowledged (watched meanwhile: the staff may still be clearing their queue).
        outcome: dict = {}
        want = len(children)
        drain_end = t0 + wall + args.drain + 60
        readings_done = None
        target = None
        while time.time() < drain_end and (len(outcome) < want or readings_done is None):
            try:
                part = results.get(timeout=0.5)
                outcome[next(k for k in part)] = part
            except queue.Empty:
                if len(outcome) < want and not any(c.is_alive() for c in children) and results.empty():
                    break
            if "meters_sent" in outcome and "sensors_sent" in outcome and readings_done is None:
                acked_meters = outcome["meters_sent"]["meters_acked"]
                acked_sensors = outcome["sensors_sent"]["sensors_acked"]
                target = base_readings + base_rejects + acked_meters + acked_sensors
                got, rej = checkpointed()
                if got + rej >= target:
                    readings_done = time.time()
        merged: dict = {}
        for part in outcome.values():
            merged.update(part)
        offices = [merged.pop(k) for k in list(merged) if k.startswith("staff") and k[5:].isdigit()]
        merged["staff"] = {
            kind: sum(o["done"][kind] for o in offices) for kind in (offices[0]["done"] if offices else {})
        }
        merged["staff_errors"] = [e for o in offices for e in o["errors"]]
        merged["staff_backlog_end"] = {k: v for o in offices for k, v in o["backlog_end"].items()}
        merged["staff_left"] = {k: v for o in offices for k, v in o["left"].items()}
        if len(offices) == args.staff_offices:
            merged["staff_last_action"] = max(o["last_action"] for o in offices)
        if len(outcome) < want:
            alive = [c.name for c in children if c.is_alive()]
            print(f"soak: {want - len(outcome)} stream(s) did not finish: {alive}")
        acked_meters, acked_sensors = merged.get("meters_acked", 0), merged.get("sensors_acked", 0)
        if readings_done is None:
            readings_done = time.time()
            print("soak: the checkpoint did not catch up with the readings within the drain")
        got, rej = checkpointed()
        log(
            f"drained: checkpoint {got + rej - base_readings - base_rejects:,} "
            f"of {acked_meters + acked_sensors:,} readings"
        )
        for name in ("brain-nats", "brain-mqtt", "web"):
            stop_group(procs[name])
        rows, distinct = _archive_counts(data_dir)
        base_archive = base_readings  # a fresh city: nothing archived before the day
        acked, statuses = acknowledged(Path(out_prefix))
        counts = count_rows(env, acked)
        from django.db.models import Count

        from cityloop.hotline.models import Request, Status

        api = Request.objects.filter(channel="api")
        merged["handled"] = api.filter(status=Status.CLOSED).count()
        merged["handled_statuses"] = dict(api.values_list("status").annotate(n=Count("id")))
    finally:
        if shared is not None:
            shared.stop.set()
        for child in children:
            child.join(10)
            if child.is_alive():
                child.terminate()
                child.join(5)
        for proc in procs.values():
            stop_group(proc)
        if broker is not None:
            broker.stop()
        try:
            nats_cleanup(args.nats, durable, f"{subject_root}.>")
        except Exception as exc:  # noqa: BLE001 (cleanup reports and goes on)
            print(f"nats cleanup failed: {exc}")
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            drop_database(url_db)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept {data_dir} and {url_db}")

    handled = merged.get("handled", 0)
    elapsed = {
        "intake": merged.get("intake_last_ack", t0) - t0,
        "handling": merged.get("staff_last_action", t0) - t0,
        "meters": readings_done - t0,
        "sensors": readings_done - t0,
    }
    done = {"intake": len(acked), "handling": handled, "meters": acked_meters, "sensors": acked_sensors}
    scales = {k: (done[k] / elapsed[k]) / REAL_PER_S[k] if elapsed[k] > 0 else 0.0 for k in done}
    readings_sent = merged.get("meters_sent", 0) + merged.get("sensors_sent", 0)
    readings_lost = max(0, acked_meters + acked_sensors - (distinct - base_archive) - (rej - base_rejects))
    staff_backlog = sum(merged.get("staff_backlog_end", {}).values())
    backlog_end = backlog.get("readings", 0) + backlog.get("submits", 0) + staff_backlog
    growth = {n: rss1.get(n, 0) - rss0.get(n, 0) for n in rss1}
    print(
        "streams: "
        + ", ".join(f"{k} {done[k]:,} in {elapsed[k]:.0f} s = x{scales[k]:.2f} of a real day" for k in done)
    )
    print(
        f"readings: sent {readings_sent:,} (meters {merged.get('meters_sent', 0):,}, sensors "
        f"{merged.get('sensors_sent', 0):,}), acknowledged {acked_meters + acked_sensors:,}, checkpointed "
        f"{got - base_readings:,} + {rej - base_rejects:,} rejects; "
        f"archive {rows:,} rows, {distinct:,} distinct; publisher lag max meters "
        f"{merged.get('meters_lag_s', 0):.1f} s, sensors {merged.get('sensors_lag_s', 0):.1f} s"
    )
    print(
        f"intake: {n_requests:,} due, {len(acked):,} acknowledged ({dict(sorted(statuses.items()))}), "
        f"p99 {merged.get('intake_p99_ms', math.nan):.0f} ms, {merged.get('intake_retries', 0)} retries, "
        f"lag max {merged.get('intake_lag_s', 0):.1f} s; rows {counts['rows']:,}, lost {counts['lost']}, "
        f"duplicated {counts['duplicated']}; audit chain {'intact' if counts['audit_intact'] else 'BROKEN'}"
    )
    print(
        f"staff: {merged.get('staff', {})}; closed {handled:,} of {len(acked):,}; "
        f"statuses {merged.get('handled_statuses', {})}; due but not done when the day ended "
        f"{merged.get('staff_backlog_end', {})}; left {merged.get('staff_left', {})}; "
        f"errors {merged.get('staff_errors', [])}"
    )
    print(
        f"leader: {merged.get('page_views', 0)} page views, "
        f"p50 {merged.get('page_p50_ms', math.nan):.0f} ms, "
        f"p99 {merged.get('page_p99_ms', math.nan):.0f} ms, "
        f"max {merged.get('page_max_ms', math.nan):.0f} ms, "
        f"failures {merged.get('page_failures', {})}"
    )
    print(
        "memory (MB, after the first tenth -> end of the day): "
        + ", ".join(f"{n} {rss0.get(n, 0):.0f} -> {rss1.get(n, 0):.0f}" for n in rss1)
        + f"; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU over the last nine tenths of the day ({cpu_wall:.0f} s wall, cores busy): "
        + ", ".join(f"{n} {c / cpu_wall:.2f}" for n, c in cpu.items())
        + " (PostgreSQL and Mosquitto not counted)"
    )
    print(
        f"RESULT soak_scale={min(scales.values()):.2f} soak_minutes={args.minutes:g} "
        f"requests_submitted={len(acked)} requests_lost={counts['lost']} readings_sent={readings_sent} "
        f"readings_lost={readings_lost} backlog_end={backlog_end} "
        f"page_p99_ms={merged.get('page_p99_ms', math.nan):.0f} "
        f"rss_growth_mb={round(sum(growth.values())) + 0}"
    )
    return 0


def status_of(url: str) -> int:
    """The status of one GET (for /readyz)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def drop_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
