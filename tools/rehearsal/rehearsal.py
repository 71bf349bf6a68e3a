"""The production path on several hosts, rehearsed on this one machine (``make rehearsal``; root only).

    python tools/rehearsal/rehearsal.py [--smoke] [--load-s 120] [--down-s 5] [--keep]

Each host is a Linux network namespace with its own address on one bridge (tools/rehearsal/net.py):
PostgreSQL (its own ``initdb`` cluster, run as the ``postgres`` user: the machine's own PostgreSQL is
never touched), two web nodes (``cityloop serve``, production settings) behind a proxy
(tools/rehearsal/proxy.py: nginx's upstream rules from deploy/nginx/cityloop.conf), a 3-node NATS
JetStream cluster with the readings stream on all three, Mosquitto (deploy/mosquitto/cityloop.conf), and
two brain hosts: brain1 runs ``cityloop brain worker --via nats`` for shard 0, brain2 for shard 1 and
``--via mqtt`` for the meters on Mosquitto, each shard with its own checkpoint and brain directory.
The load runs on the machine itself, through the bridge:

* submits: threads POST /api/v1/requests through the proxy, each with its own Idempotency-Key, and
  send a submit again with the same key until it is acknowledged (2xx with its tracking number);
* the dashboard: a leader's /leaders/ through the proxy, twice a second; any answer but 200 is a
  ``dashboard_failure``;
* readings: water meters of both NATS shards publish to the cluster, each batch with a Nats-Msg-Id,
  sent again with the same id until JetStream acknowledges it; the MQTT meters publish one reading a
  message with QoS 1 (sent once Mosquitto's PUBACK is back).

During the load web1, nats2 and brain1's worker are each killed with SIGKILL and started again after
``--down-s``; each one's recovery time is reported (docs/operations.md, "Rehearsal"). Afterwards every
acknowledged submit is looked up in the database by its key and tracking number, and every
acknowledged reading in its shard's archive. The last line is

    RESULT submits_acknowledged= submits_lost= submits_duplicated= readings_sent= readings_lost=
      readings_duplicated= dashboard_requests= dashboard_failures= recovery_s=web1:,nats2:,brain1:
      nproc= load=

and the exit status is 1 when anything acknowledged was lost or duplicated or the dashboard failed.
Everything (processes, namespaces, veths, bridge, temporary folders) is removed at the end, also on
failure, Ctrl-C or SIGTERM; ``--keep`` keeps the folder with every host's log.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from net import Host, Network, Proc, leftovers  # noqa: E402 - a sibling module of this script

ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
PG_PORT = 5432
WEB_PORT = 8000
PROXY_PORT = 80
NATS_PORT, NATS_ROUTE_PORT = 4222, 6222
SHARDS = ("0", "1")  # NATS shards: brain1 owns 0, brain2 owns 1
MQTT_SHARD = "m"  # the meters publishing to Mosquitto: brain2's second shard
OWNER = {"0": "brain1", "1": "brain2", MQTT_SHARD: "brain2"}
MQTT_PORT = 1883
PUBLISHER = "rh-publisher"  # the MQTT account of the simulated meters
DEVICES_PER_SHARD = 50


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


def binary(name: str) -> str:
    """The program's full path ("" when missing); daemons often live in /usr/sbin, not on every PATH."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or ""


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        sys.exit("rehearsal: PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin)")
    return found[-1].parent


def ask(host: str, port: int, method: str, path: str, *, body=None, headers=None, timeout=10.0):
    """(status, body); raises OSError/http.client errors when the connection fails."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def wait_http(host: str, port: int, path: str, proc: Proc | None, timeout: float) -> float:
    """Seconds until ``path`` answers 200; exits naming the log when the process dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.what} exited with {proc.popen.returncode}; see {proc.log}")
        try:
            if ask(host, port, "GET", path, timeout=2)[0] == 200:
                return time.monotonic() - started
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"http://{host}:{port}{path} did not answer 200 within {timeout:.0f} s")


def wait_log(proc: Proc, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.log.read_text(errors="replace"):
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.what} exited with {proc.popen.returncode}; see {proc.log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.what} did not log {text!r} within {timeout:.0f} s; see {proc.log}")
        time.sleep(0.2)


class City:
    """The hosts and their services for one run."""

    def __init__(self, net: Network, work: Path, args):
        self.net, self.work, self.args = net, work, args
        self.procs: dict[str, Proc] = {}
        self.db_url = ""
        self.base_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CITYLOOP_") and k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
        }
        self.base_env.update(
            {"PYTHONPATH": str(ROOT / "src"), "PYTHONDONTWRITEBYTECODE": "1", "CITYLOOP_DEBUG": "false"}
        )
        (work / "keys").mkdir(mode=0o700)
        self.secret_file = work / "secret_key"
        self.secret_file.write_text(secrets.token_urlsafe(50))
        self.mqtt_accounts = {
            "cityloop-worker": secrets.token_urlsafe(12),
            PUBLISHER: secrets.token_urlsafe(12),
        }

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"

    # -- PostgreSQL ------------------------------------------------------------------------------
    def start_postgres(self) -> None:
        db = self.net.hosts["db"]
        data = self.work / "pg"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        self.work.chmod(0o755)
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(pg_bin() / "initdb"), "-D", str(data), "-A", "trust"]
            + ["-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr}")
        with open(data / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.net.subnet} trust\n")
        self.procs["db"] = self.net.start(
            db,
            "postgres",
            [str(pg_bin() / "postgres"), "-D", str(data), "-c", f"listen_addresses={db.ip}"]
            + ["-c", f"port={PG_PORT}", "-c", f"unix_socket_directories={data}", "-c", "max_connections=200"],
            env=self.base_env,
            log=self.log("db-postgres"),
            user="postgres",
        )
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [str(pg_bin() / "pg_isready"), "-h", db.ip, "-p", str(PG_PORT)], capture_output=True
            )
            if ready.returncode == 0:
                break
            if self.procs["db"].popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.log('db-postgres')}")
            time.sleep(0.3)
        subprocess.run(
            [str(pg_bin() / "psql"), "-h", db.ip, "-U", "postgres", "-qc", "CREATE DATABASE cityloop"],
            check=True,
            capture_output=True,
        )
        self.db_url = f"postgresql://postgres@{db.ip}:{PG_PORT}/cityloop"

    # -- CityLoop ------------------------------------------------------------------------------
    def env(self, host: str) -> dict:
        data = self.work / f"{host}-data"
        data.mkdir(exist_ok=True)
        return {
            **self.base_env,
            "CITYLOOP_DATA_DIR": str(data),
            "CITYLOOP_DATABASE_URL": self.db_url,
            "CITYLOOP_SECRET_KEY_FILE": str(self.secret_file),
            "CITYLOOP_KEY_DIR": str(self.work / "keys"),
            "CITYLOOP_ALLOWED_HOSTS": ",".join(h.ip for h in self.net.hosts.values()),
            "CITYLOOP_TRUSTED_PROXIES": self.net.hosts["proxy"].ip,
            "CITYLOOP_CITY": "beijing",
            "CITYLOOP_NATS_URL": self.nats_url,
            "CITYLOOP_NATS_REPLICAS": "3",
            "CITYLOOP_MQTT": f"{self.net.hosts['mqtt'].ip}:{MQTT_PORT}",
            "CITYLOOP_MQTT_USERNAME": "cityloop-worker",
            "CITYLOOP_MQTT_PASSWORD": self.mqtt_accounts["cityloop-worker"],
        }

    @property
    def nats_url(self) -> str:
        return ",".join(f"nats://{self.net.hosts[f'nats{i}'].ip}:{NATS_PORT}" for i in (1, 2, 3))

    def cityloop(self, *args: str) -> str:
        """A ``cityloop`` command run from the machine itself (an operator's shell) against the city."""
        done = subprocess.run(
            [str(BIN / "cityloop"), *args], env=self.env("admin"), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"cityloop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def set_up_city(self) -> tuple[str, str]:
        """Migrations, the beijing pack, a dispatcher's API token and a leader; (token, leader)."""
        self.cityloop("migrate", "--verbosity", "0")
        self.cityloop("city", "import", "beijing")
        self.cityloop(
            "user",
            "add",
            "rehearsal_dispatcher",
            "--role",
            "dispatcher",
            f"--password={secrets.token_urlsafe(18)}",
        )
        token = (
            self.cityloop(
                "token", "create", "rehearsal_dispatcher", "--name", "rehearsal", "--scope", "hotline"
            )
            .strip()
            .splitlines()[-1]
        )
        self.cityloop(
            "user", "add", "rehearsal_leader", "--role", "leader", f"--password={secrets.token_urlsafe(18)}"
        )
        return token, "rehearsal_leader"

    def start_web(self, name: str) -> Proc:
        host = self.net.hosts[name]
        proc = self.net.start(
            host,
            f"cityloop serve on {name}",
            [str(BIN / "cityloop"), "serve", "--host", host.ip, "--port", str(WEB_PORT)]
            + ["--workers", str(self.args.web_workers), "--threads", "8"],
            env=self.env(name),
            log=self.log(f"{name}-serve"),
        )
        self.procs[name] = proc
        return proc

    def start_nats(self, i: int) -> Proc:
        """Node i of deploy/nats/'s 3-node JetStream cluster, on its own host and store."""
        host = self.net.hosts[f"nats{i}"]
        store = self.work / f"nats{i}-store"
        store.mkdir(exist_ok=True)
        routes = ", ".join(
            f"nats-route://{self.net.hosts[f'nats{j}'].ip}:{NATS_ROUTE_PORT}" for j in (1, 2, 3)
        )
        conf = self.work / f"nats{i}.conf"
        conf.write_text(
            f"server_name: nats-{i}\nlisten: {host.ip}:{NATS_PORT}\n"
            f"jetstream {{\n  store_dir: {store}\n  max_file_store: 2G\n  max_memory_store: 256M\n}}\n"
            f"cluster {{\n  name: cityloop\n  listen: {host.ip}:{NATS_ROUTE_PORT}\n  routes: [{routes}]\n}}\n"
        )
        proc = self.net.start(
            host,
            f"nats-server on nats{i}",
            [binary("nats-server"), "-c", str(conf)],
            env=self.base_env,
            log=self.log(f"nats{i}"),
        )
        self.procs[f"nats{i}"] = proc
        return proc

    def start_mosquitto(self) -> None:
        """Mosquitto with deploy/mosquitto/cityloop.conf (as cityloop.brain.ingest.broker renders it for
        tests: no TLS, the run's own password file, ACL and persistence), listening on its host."""
        from cityloop.brain.ingest import broker

        host = self.net.hosts["mqtt"]
        conf = broker.render(
            self.work / "mqtt", port=MQTT_PORT, accounts=self.mqtt_accounts, publisher=PUBLISHER
        )
        conf.write_text(
            conf.read_text().replace(f"listener {MQTT_PORT} 127.0.0.1", f"listener {MQTT_PORT} {host.ip}")
        )
        self.procs["mqtt"] = self.net.start(
            host,
            "mosquitto on mqtt",
            [binary("mosquitto"), "-c", str(conf)],
            env=self.base_env,
            log=self.log("mqtt"),
        )
        from cityloop.brain.ingest import bus

        deadline = time.monotonic() + 30
        while not bus.reachable(host.ip, MQTT_PORT):
            if self.procs["mqtt"].popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Mosquitto did not start; see {self.log('mqtt')}")
            time.sleep(0.2)

    def start_brain(self, name: str, shard: str) -> Proc:
        """``cityloop brain worker`` for one shard, as cityloop-brain@<shard>.service runs it: through
        NATS for shards 0 and 1, from Mosquitto's shared subscription for the MQTT meters."""
        env = self.env(name)
        env["CITYLOOP_BRAIN_SHARD"] = shard
        env["CITYLOOP_BRAIN_DIR"] = str(self.brain_dir(shard))
        if shard == MQTT_SHARD:
            via = ["--via", "mqtt", "--durable", f"brain-{name}-mqtt"]
        else:
            via = [
                "--via",
                "nats",
                "--subject",
                f"cityloop.readings.{shard}.>",
                "--durable",
                f"brain-shard-{shard}",
            ]
        proc = self.net.start(
            self.net.hosts[name],
            f"brain worker (shard {shard}) on {name}",
            [str(BIN / "cityloop"), "brain", "worker", *via],
            env=env,
            log=self.log(f"{name}-brain-{shard}"),
        )
        self.procs[f"brain-{shard}"] = proc
        return proc

    def brain_dir(self, shard: str) -> Path:
        return self.work / f"{OWNER[shard]}-data" / f"brain-{shard}"

    def register_devices(self) -> dict[str, list[str]]:
        """Water meters, one a minute, at the city centre: DEVICES_PER_SHARD per shard."""
        shards = {s: [f"RH{s}-{n:03d}" for n in range(DEVICES_PER_SHARD)] for s in OWNER}
        lines = ["code,type,kind,lon,lat,department,interval_s,installed_at,gateway"]
        for n, code in enumerate(c for codes in shards.values() for c in codes):
            lon, lat = 116.39 + (n % 10) / 500, 39.90 + (n // 10) / 500
            lines.append(f"{code},meter,water,{lon:.5f},{lat:.5f},BJ-SWJ,60,2026-01-01T00:00:00+00:00,")
        csv = self.work / "devices.csv"
        csv.write_text("\n".join(lines) + "\n")
        self.cityloop("brain", "devices", "import", str(csv))
        return shards

    def start_proxy(self) -> None:
        host = self.net.hosts["proxy"]
        backends = [f"--backend={self.net.hosts[w].ip}:{WEB_PORT}" for w in ("web1", "web2")]
        self.procs["proxy"] = self.net.start(
            host,
            "proxy",
            [sys.executable, str(HERE / "proxy.py"), "--listen", f"{host.ip}:{PROXY_PORT}", *backends],
            env=self.base_env,
            log=self.log("proxy"),
        )


def leader_session(env: dict, username: str) -> str:
    """A session cookie for the leader, made in the database as a login would (sessions live there, so
    either web node accepts it)."""
    for name in [k for k in os.environ if k.startswith("CITYLOOP_")]:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith("CITYLOOP_")})
    os.environ["DJANGO_SETTINGS_MODULE"] = "cityloop.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.module_loading import import_string

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = next(  # the first backend that can load a user (not the lockout check)
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(import_string(path), "get_user")
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


class Load:
    """Submits and dashboard views through the proxy, from the machine itself."""

    def __init__(self, proxy: Host, token: str, cookie: str, run: str, threads: int):
        self.proxy, self.token, self.cookie, self.run = proxy, token, cookie, run
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[tuple[str, str]] = []  # (tracking number, key)
        self.unacknowledged = 0  # given up on (never acknowledged: not "lost")
        self.retries = 0
        self.dashboard_requests = 0
        self.dashboard_ok_at: list[float] = []  # when each 200 came back (monotonic)
        self.acked_at: list[float] = []
        self.dashboard_failures: list[str] = []
        self.threads = [
            threading.Thread(target=self.submitter, args=(n,), daemon=True) for n in range(threads)
        ]
        self.threads.append(threading.Thread(target=self.dashboard, daemon=True))
        self.points = [(116.397 + dx / 200, 39.909 + dy / 200) for dx in range(-4, 5) for dy in range(-4, 5)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def submit_once(self, key: str, body: bytes) -> tuple[int, bytes]:
        return ask(
            self.proxy.ip,
            PROXY_PORT,
            "POST",
            "/api/v1/requests",
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": key,
                "Host": self.proxy.ip,
            },
            timeout=15,
        )

    def submitter(self, n: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            key = f"{self.run}-{n}-{count}"
            lon, lat = self.points[count % len(self.points)]
            body = json.dumps(
                {
                    "description": f"路灯不亮，晚上很黑（{key}）",
                    "caller_phone": "13800001234",
                    "lon": lon,
                    "lat": lat,
                    "attributes": {"k": key},
                }
            ).encode()
            give_up = time.monotonic() + 60
            while time.monotonic() < give_up:
                try:
                    status, answer = self.submit_once(key, body)
                except (OSError, http.client.HTTPException):
                    status, answer = 0, b""
                if 200 <= status < 300:
                    number = json.loads(answer)["tracking_no"]
                    with self.lock:
                        self.acked.append((number, key))
                        self.acked_at.append(time.monotonic())
                    break
                if 400 <= status < 500 and status not in (408, 429):
                    raise RuntimeError(f"submit {key} refused with {status}: {answer[:300]!r}")
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)
            else:
                with self.lock:
                    self.unacknowledged += 1

    def dashboard(self) -> None:
        while not self.stop.is_set():
            try:
                status, _ = ask(
                    self.proxy.ip,
                    PROXY_PORT,
                    "GET",
                    "/leaders/",
                    headers={"Cookie": self.cookie, "Host": self.proxy.ip},
                    timeout=15,
                )
            except (OSError, http.client.HTTPException) as exc:
                status = f"{type(exc).__name__}"
            with self.lock:
                self.dashboard_requests += 1
                if status == 200:
                    self.dashboard_ok_at.append(time.monotonic())
                else:
                    self.dashboard_failures.append(f"{time.strftime('%H:%M:%S', time.gmtime())} {status}")
            self.stop.wait(0.5)


class Readings:
    """Meter readings published to the NATS cluster, one compact batch per shard and minute of meter
    time, each with a Nats-Msg-Id and sent again with the same id until JetStream acknowledges it."""

    def __init__(self, servers: list[str], shards: dict[str, list[str]], run: str, steps: int, rate: float):
        self.servers, self.shards, self.run, self.steps, self.rate = servers, shards, run, steps, rate
        self.stop = threading.Event()
        self.t0 = int(time.time()) - 60 * (steps + 2)  # the last reading a minute ago: none from the future
        self.acked = dict.fromkeys(shards, 0)  # readings JetStream acknowledged, per shard
        self.acked_ks: dict[str, list[int]] = {shard: [] for shard in shards}
        self.resent = 0
        self.connection_errors = 0
        self.given_up = 0
        self.error = ""
        self.thread = threading.Thread(target=self.main, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=120)

    def pairs(self, shard: str):
        """(meter, reading time) of every reading the broker acknowledged."""
        for k in self.acked_ks[shard]:
            for code in self.shards[shard]:
                yield code, self.t0 + 60 * k

    def main(self) -> None:
        import asyncio

        try:
            asyncio.run(self.publish())
        except Exception as exc:  # noqa: BLE001 - reported in the result, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"

    async def publish(self) -> None:
        import asyncio

        import nats
        import orjson

        async def quiet(exc: Exception) -> None:  # a node going away: counted, not printed
            self.connection_errors += 1

        nc = await nats.connect(
            servers=self.servers,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            error_cb=quiet,
        )
        js = nc.jetstream(timeout=5)
        started = time.monotonic()
        try:
            for k in range(self.steps):
                if self.stop.is_set():
                    break
                for shard, codes in self.shards.items():
                    body = orjson.dumps(
                        {"d": codes, "t": [self.t0 + 60 * k] * len(codes), "v": [100 + k / 100] * len(codes)}
                    )
                    msg_id, give_up = f"{self.run}-{shard}-{k}", time.monotonic() + 60
                    while True:
                        try:
                            await js.publish(
                                f"cityloop.readings.{shard}.rh",
                                body,
                                headers={"Content-Type": "application/json", "Nats-Msg-Id": msg_id},
                            )
                            self.acked[shard] += len(codes)
                            self.acked_ks[shard].append(k)
                            break
                        except Exception:  # noqa: BLE001 - any failure: the same message again, same id
                            if time.monotonic() > give_up:
                                self.given_up += 1
                                break
                            self.resent += 1
                            await asyncio.sleep(0.2)
                await asyncio.sleep(max(0.0, started + (k + 1) / self.rate - time.monotonic()))
        finally:
            await nc.close()


class MqttReadings(Readings):
    """Meters publishing one reading each to ``cityloop/devices/<code>/reading`` on Mosquitto, QoS 1:
    a reading counts as sent once the broker's PUBACK came back (paho sends it again until then)."""

    def __init__(self, address: tuple[str, int], password: str, codes: list[str], run, steps, rate):
        super().__init__([], {MQTT_SHARD: codes}, run, steps, rate)
        self.address, self.password = address, password
        self.acked_pairs: list[tuple[str, int]] = []

    def pairs(self, shard: str):
        yield from self.acked_pairs

    def main(self) -> None:
        try:
            self.publish_mqtt()
        except Exception as exc:  # noqa: BLE001 - reported in the result, the run goes on
            self.error = f"{type(exc).__name__}: {exc}"

    def publish_mqtt(self) -> None:
        import orjson
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{self.run}-meters",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        client.username_pw_set(PUBLISHER, self.password)
        client.max_inflight_messages_set(1000)
        client.connect(*self.address, keepalive=30)
        client.loop_start()
        codes, started = self.shards[MQTT_SHARD], time.monotonic()
        try:
            for k in range(self.steps):
                if self.stop.is_set():
                    break
                ts, value = self.t0 + 60 * k, 100 + k / 100
                sent = [
                    (
                        code,
                        client.publish(
                            f"cityloop/devices/{code}/reading", orjson.dumps({"t": ts, "v": value}), qos=1
                        ),
                    )
                    for code in codes
                ]
                for code, info in sent:
                    try:
                        info.wait_for_publish(timeout=30)
                    except (RuntimeError, ValueError):
                        pass
                    if info.is_published():
                        self.acked_pairs.append((code, ts))
                        self.acked[MQTT_SHARD] += 1
                    else:
                        self.given_up += 1
                time.sleep(max(0.0, started + (k + 1) / self.rate - time.monotonic()))
        finally:
            client.loop_stop()
            client.disconnect()


def stream_whole(bus_nats) -> bool:
    """The readings stream has a leader and every replica current and online (R3 whole again)."""
    from cityloop.brain.ingest import bus

    try:
        info = bus_nats._run(bus_nats.js.stream_info(bus.STREAM), timeout=5)
    except Exception:  # noqa: BLE001 - a cluster still electing answers errors or nothing
        return False
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return False
    replicas = cluster.replicas or []
    return len(replicas) == 2 and all(r.current and not r.offline for r in replicas)


def shard_readings() -> dict[str, int]:
    from cityloop.brain.models import Checkpoint

    return {cp.name: cp.readings for cp in Checkpoint.objects.filter(name__in=OWNER)}


def count_readings(city: City, publishers: list[Readings]) -> dict:
    """Per shard, what its host archived against what the broker acknowledged: every (meter, minute)
    acknowledged must be in the shard's archive exactly once."""
    from cityloop.brain.archive import archive

    lost = duplicated = archived = 0
    for readings, shard in ((r, shard) for r in publishers for shard in r.shards):
        con = archive.connect(city.brain_dir(shard))
        rows = con.execute(
            "select device, cast(epoch(ts) as bigint), count(*) from readings group by 1, 2"
        ).fetchall()
        have = {(device, ts): n for device, ts, n in rows}
        archived += sum(have.values())
        duplicated += sum(n - 1 for n in have.values())
        lost += sum(1 for pair in readings.pairs(shard) if pair not in have)
    return {"lost": lost, "duplicated": duplicated, "archived": archived}


def count_submits(acked: list[tuple[str, str]], run: str) -> dict:
    """Acknowledged submits against the rows (the Django set up by :func:`leader_session`)."""
    from cityloop.hotline.models import IdempotencyKey, Request

    rows = list(Request.objects.filter(channel="api").values_list("tracking_no", "attributes"))
    numbers = {number for number, _ in rows}
    keys = dict(IdempotencyKey.objects.values_list("key", "request__tracking_no"))
    row_keys = [attrs.get("k") for _, attrs in rows if str(attrs.get("k", "")).startswith(run)]
    lost = [key for number, key in acked if number not in numbers or keys.get(key) != number]
    return {"rows": len(rows), "lost": lost, "duplicated": len(row_keys) - len(set(row_keys))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="the short version for CI (a few minutes)")
    ap.add_argument("--load-s", type=float, default=None, help="seconds of load (default 120, smoke 45)")
    ap.add_argument("--down-s", type=float, default=5.0, help="seconds a killed service stays down")
    ap.add_argument("--submitters", type=int, default=4, help="submit threads")
    ap.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per web node")
    ap.add_argument("--steps-per-s", type=float, default=4.0, help="readings per meter per second")
    ap.add_argument("--keep", action="store_true", help="keep the folder with every host's log")
    args = ap.parse_args(argv)
    load_s = args.load_s or (45.0 if args.smoke else 120.0)
    if os.geteuid() != 0:
        sys.exit("rehearsal: needs root (network namespaces, veths, a bridge); run it as root")
    for tool in ("ip", "runuser", "nats-server", "mosquitto", "mosquitto_passwd"):
        if not binary(tool):
            sys.exit(
                f"rehearsal: {tool} is not installed (Debian: iproute2, util-linux, nats-server, mosquitto)"
            )
    pg_bin()  # exits naming what is missing

    net = Network()
    work = Path(tempfile.mkdtemp(prefix=f"cityloop-rehearsal-{net.run_id}-", dir="/tmp"))

    def stop_on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(
        signal.SIGINT, stop_on_signal
    )  # also when started with SIGINT ignored (`cmd &` in a script)
    signal.signal(signal.SIGHUP, stop_on_signal)
    failed = True
    try:
        failed = rehearse(net, work, args, load_s)
    except KeyboardInterrupt:
        say("interrupted: tearing down")
    except RuntimeError as exc:
        say(f"FAILED: {exc}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not leave half a network
        left = net.teardown() + leftovers(net.prefix)
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        if left:
            say(f"teardown left: {', '.join(left)}")
            failed = True
        else:
            say(f"teardown: every process, namespace, veth and the bridge of run {net.prefix} removed")
    return 1 if failed else 0


def rehearse(net: Network, work: Path, args, load_s: float) -> bool:
    started = time.monotonic()
    net.up()
    layout = [
        ("db", 2),
        ("proxy", 10),
        ("web1", 11),
        ("web2", 12),
        ("nats1", 21),
        ("nats2", 22),
        ("nats3", 23),
    ]
    for name, octet in layout + [("brain1", 31), ("brain2", 32), ("mqtt", 40)]:
        net.add_host(name, octet)
    say(f"run {net.prefix} on {net.subnet}: " + ", ".join(f"{h.name} {h.ip}" for h in net.hosts.values()))
    city = City(net, work, args)
    city.start_postgres()
    say(f"db: PostgreSQL ({pg_bin().parent.name}) at {city.db_url}")
    for i in (1, 2, 3):
        city.start_nats(i)
    city.start_mosquitto()
    token, leader = city.set_up_city()
    shards = city.register_devices()
    say(f"db: migrated, beijing imported, a dispatcher's token, a leader, {DEVICES_PER_SHARD} meters a shard")
    for name in ("web1", "web2"):
        city.start_web(name)
    city.start_proxy()
    cookie = leader_session(city.env("admin"), leader)  # Django in this process from here on
    from cityloop.brain.ingest import bus

    jet = bus.Nats(f"nats://{net.hosts['nats1'].ip}:{NATS_PORT}")  # the watcher's node is never killed
    try:
        deadline = time.monotonic() + 60
        while True:  # the cluster elects its meta leader, then the stream is made R3
            try:
                jet.ensure_stream()
                break
            except Exception as exc:  # noqa: BLE001 - not yet: JetStream answers errors until elected
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the NATS cluster made no R3 stream within 60 s: {exc}") from exc
                time.sleep(1)
        while not stream_whole(jet):
            if time.monotonic() > deadline:
                raise RuntimeError("the readings stream has no leader with two current replicas")
            time.sleep(0.5)
        say("nats1..3: one JetStream cluster, stream CITYLOOP_READINGS replicated on all three")
        for shard, name in OWNER.items():
            city.start_brain(name, shard)
        # A reading published before any worker of the group has ever subscribed waits nowhere (MQTT keeps
        # no queue without a session); in a city the workers' persistent sessions exist from the first day.
        wait_log(city.procs[f"brain-{MQTT_SHARD}"], "MQTT subscribed", 120)
        for name in ("web1", "web2"):
            wait_http(net.hosts[name].ip, WEB_PORT, "/readyz", city.procs[name], 120)
        proxy = net.hosts["proxy"]
        wait_http(proxy.ip, PROXY_PORT, "/healthz", city.procs["proxy"], 30)
        say(f"web1, web2 ready behind the proxy {proxy.ip}; setup took {time.monotonic() - started:.0f} s")
        status, _ = ask(
            proxy.ip, PROXY_PORT, "GET", "/leaders/", headers={"Cookie": cookie, "Host": proxy.ip}
        )
        if status != 200:
            raise RuntimeError(f"the leader's dashboard answered {status} before any kill")
        return drive(net, city, args, load_s, token, cookie, shards, jet)
    finally:
        jet.close()


def drive(net: Network, city: City, args, load_s: float, token, cookie, shards, jet) -> bool:
    run = f"rh{net.run_id}"
    proxy = net.hosts["proxy"]
    load = Load(proxy, token, cookie, run, args.submitters)
    # room for minutes of meter time beyond the load's length: slow recoveries stretch the run
    steps = int((load_s + 600) * args.steps_per_s)
    readings = Readings(
        city.nats_url.split(","), {s: shards[s] for s in SHARDS}, run, steps=steps, rate=args.steps_per_s
    )
    meters = MqttReadings(
        (net.hosts["mqtt"].ip, MQTT_PORT),
        city.mqtt_accounts[PUBLISHER],
        shards[MQTT_SHARD],
        run,
        steps=steps,
        rate=args.steps_per_s,
    )
    say(
        f"load for {load_s:.0f} s: {args.submitters} submitters and a leader's dashboard through the proxy; "
        f"{args.steps_per_s:g} readings/s from each of {len(SHARDS) * DEVICES_PER_SHARD} meters into NATS "
        f"and {DEVICES_PER_SHARD} into Mosquitto"
    )
    load.start()
    readings.start()
    meters.start()
    t0 = time.monotonic()
    recovery: dict[str, float] = {}
    down = args.down_s

    settle = 3.0  # after a recovery, this long before the next kill or the end of the load

    def at(fraction: float) -> None:
        """At this fraction of the load, but never before the last recovery has settled."""
        time.sleep(max(0.0, t0 + load_s * fraction - time.monotonic(), settle if recovery else 0.0))

    at(0.2)
    killed = time.monotonic()
    net.kill(city.procs["web1"])
    say(f"kill -9 web1 (gunicorn and its workers) at t={killed - t0:.1f} s")
    time.sleep(down)
    proc = city.start_web("web1")
    wait_http(net.hosts["web1"].ip, WEB_PORT, "/readyz", proc, 120)
    recovery["web1"] = time.monotonic() - killed
    back = killed + recovery["web1"]
    say(
        f"web1 answers /readyz {recovery['web1']:.1f} s after the kill; meanwhile web2 alone answered "
        f"{sum(killed <= t < back for t in load.dashboard_ok_at)} dashboards and acknowledged "
        f"{sum(killed <= t < back for t in load.acked_at)} submits"
    )

    at(0.4)
    killed = time.monotonic()
    net.kill(city.procs["nats2"])
    say(f"kill -9 nats2 at t={killed - t0:.1f} s")
    time.sleep(down)
    city.start_nats(2)
    while not stream_whole(jet):
        if time.monotonic() - killed > 120:
            raise RuntimeError("the readings stream was not whole again within 120 s of nats2's kill")
        time.sleep(0.2)
    recovery["nats2"] = time.monotonic() - killed
    say(f"nats2 back: the stream has its three replicas current {recovery['nats2']:.1f} s after the kill")

    at(0.6)
    killed = time.monotonic()
    net.kill(city.procs["brain-0"])
    say(f"kill -9 the shard-0 worker on brain1 at t={killed - t0:.1f} s")
    time.sleep(down)
    backlog = readings.acked["0"]  # acknowledged by JetStream before the restart
    at_kill = shard_readings().get("0", 0)
    city.start_brain("brain1", "0")
    while shard_readings().get("0", 0) < backlog:
        if city.procs["brain-0"].popen.poll() is not None:
            raise RuntimeError(f"the restarted shard-0 worker exited; see {city.procs['brain-0'].log}")
        if time.monotonic() - killed > 120:
            raise RuntimeError("the shard-0 worker did not catch up within 120 s of its kill")
        time.sleep(0.2)
    recovery["brain1"] = time.monotonic() - killed
    say(
        f"brain1's shard 0 caught up {recovery['brain1']:.1f} s after the kill: {backlog - at_kill} "
        f"readings were waiting in JetStream at its restart ({at_kill} checkpointed before the kill)"
    )

    at(1.0)
    load.finish()
    readings.finish()
    meters.finish()
    sent = sum(readings.acked.values()) + meters.acked[MQTT_SHARD]
    say(
        f"load stopped at t={time.monotonic() - t0:.0f} s: {len(load.acked)} submits acknowledged "
        f"({load.retries} sent again, {load.unacknowledged} given up); {sent} readings acknowledged by "
        f"JetStream or Mosquitto ({readings.resent} NATS messages sent again, "
        f"{readings.given_up + meters.given_up} given up)"
        + "".join(f"; a publisher stopped: {r.error}" for r in (readings, meters) if r.error)
    )
    deadline = time.monotonic() + 120
    while sum(shard_readings().values()) < sent and time.monotonic() < deadline:
        for shard in OWNER:
            if city.procs[f"brain-{shard}"].popen.poll() is not None:
                raise RuntimeError(f"the shard-{shard} worker exited; see {city.procs[f'brain-{shard}'].log}")
        time.sleep(0.5)
    time.sleep(2)  # a redelivery after the last checkpoint would show as a second row
    counts = count_submits(load.acked, run)
    got = count_readings(city, [readings, meters])
    say(f"checkpoints: {shard_readings()}; archived rows {got['archived']}")
    if counts["lost"]:
        say(f"LOST submits (acknowledged, not in the database): {counts['lost'][:10]}")
    if load.dashboard_failures:
        say(f"dashboard failures: {load.dashboard_failures[:10]}")
    rec = ",".join(f"{k}:{v:.1f}" for k, v in recovery.items())
    print(
        f"RESULT submits_acknowledged={len(load.acked)} submits_lost={len(counts['lost'])} "
        f"submits_duplicated={counts['duplicated']} readings_sent={sent} readings_lost={got['lost']} "
        f"readings_duplicated={got['duplicated']} dashboard_requests={load.dashboard_requests} "
        f"dashboard_failures={len(load.dashboard_failures)} recovery_s={rec} "
        f"nproc={os.cpu_count()} load={os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return bool(
        counts["lost"]
        or counts["duplicated"]
        or load.dashboard_failures
        or not load.acked
        or got["lost"]
        or got["duplicated"]
        or not sent
        or readings.error
        or meters.error
    )


if __name__ == "__main__":
    sys.exit(main())
