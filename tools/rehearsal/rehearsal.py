"""The production path on several hosts, rehearsed on this one machine (``make rehearsal``; root only).

    python tools/rehearsal/rehearsal.py [--smoke] [--load-s 60] [--down-s 5] [--keep]

Each host is a Linux network namespace with its own address on one bridge (tools/rehearsal/net.py):
PostgreSQL (its own ``initdb`` cluster, run as the ``postgres`` user: the machine's own PostgreSQL is
never touched), two web nodes (``cityloop serve``, production settings) behind a proxy
(tools/rehearsal/proxy.py: nginx's upstream rules from deploy/nginx/cityloop.conf). The load runs
on the machine itself through the bridge:

* submits: threads POST /api/v1/requests through the proxy, each with its own Idempotency-Key, and
  send a submit again with the same key until it is acknowledged (2xx with its tracking number);
* the dashboard: a leader's /leaders/ through the proxy, twice a second; any answer but 200 is a
  ``dashboard_failure``.

In the middle, web node 1 is killed with SIGKILL (its whole process group) and started again after
``--down-s``; its recovery time is from the kill to its first 200 on /readyz. Afterwards every
acknowledged submit is looked up in the database by its key and tracking number (``submits_lost``)
and keys stored twice are counted (``submits_duplicated``). The last line is

    RESULT submits_acknowledged= submits_lost= submits_duplicated= dashboard_requests= dashboard_failures=
      recovery_s=web1:<s> nproc= load=

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


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", flush=True)


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
        }

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
                if status != 200:
                    self.dashboard_failures.append(f"{time.strftime('%H:%M:%S', time.gmtime())} {status}")
            self.stop.wait(0.5)


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
    ap.add_argument("--load-s", type=float, default=None, help="seconds of load (default 90, smoke 30)")
    ap.add_argument("--down-s", type=float, default=5.0, help="seconds a killed service stays down")
    ap.add_argument("--submitters", type=int, default=4, help="submit threads")
    ap.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per web node")
    ap.add_argument("--keep", action="store_true", help="keep the folder with every host's log")
    args = ap.parse_args(argv)
    load_s = args.load_s or (30.0 if args.smoke else 90.0)
    if os.geteuid() != 0:
        sys.exit("rehearsal: needs root (network namespaces, veths, a bridge); run it as root")
    for tool in ("ip", "runuser"):
        if shutil.which(tool) is None:
            sys.exit(f"rehearsal: {tool} is not installed")

    net = Network()
    work = Path(tempfile.mkdtemp(prefix=f"cityloop-rehearsal-{net.run_id}-", dir="/tmp"))

    def stop_on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_signal)
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
    for name, octet in (("db", 2), ("proxy", 10), ("web1", 11), ("web2", 12)):
        net.add_host(name, octet)
    say(
        f"run {net.prefix}: hosts on {net.subnet}: "
        + ", ".join(f"{h.name} {h.ip}" for h in net.hosts.values())
    )
    city = City(net, work, args)
    city.start_postgres()
    say(f"db: PostgreSQL ({pg_bin().parent.name}) at {city.db_url}")
    token, leader = city.set_up_city()
    say("db: migrated, beijing imported, a dispatcher's token and a leader")
    for name in ("web1", "web2"):
        city.start_web(name)
    city.start_proxy()
    for name in ("web1", "web2"):
        wait_http(net.hosts[name].ip, WEB_PORT, "/readyz", city.procs[name], 120)
    proxy = net.hosts["proxy"]
    wait_http(proxy.ip, PROXY_PORT, "/healthz", city.procs["proxy"], 30)
    say(f"web1, web2 ready; proxy {proxy.ip}:{PROXY_PORT}; setup took {time.monotonic() - started:.0f} s")
    cookie = leader_session(city.env("admin"), leader)
    status, _ = ask(proxy.ip, PROXY_PORT, "GET", "/leaders/", headers={"Cookie": cookie, "Host": proxy.ip})
    if status != 200:
        raise RuntimeError(f"the leader's dashboard answered {status} before any kill")

    run = f"rh{net.run_id}"
    load = Load(proxy, token, cookie, run, args.submitters)
    say(f"load: {args.submitters} submitters and a leader's dashboard through the proxy for {load_s:.0f} s")
    load.start()
    t0 = time.monotonic()
    recovery: dict[str, float] = {}
    time.sleep(load_s / 3)
    victim = city.procs["web1"]
    killed_at = time.monotonic()
    net.kill(victim)
    say(f"kill -9 web1 (gunicorn's process group) at t={killed_at - t0:.1f} s")
    time.sleep(args.down_s)
    proc = city.start_web("web1")
    wait_http(net.hosts["web1"].ip, WEB_PORT, "/readyz", proc, 120)
    recovery["web1"] = time.monotonic() - killed_at
    say(
        f"web1 answers /readyz again {recovery['web1']:.1f} s after the kill ({args.down_s:.0f} s of it down)"
    )
    time.sleep(max(0.0, load_s - (time.monotonic() - t0)))
    load.finish()
    say(
        f"load stopped after {time.monotonic() - t0:.0f} s: {len(load.acked)} submits acknowledged, "
        f"{load.retries} sent again, {load.unacknowledged} given up"
    )
    counts = count_submits(load.acked, run)
    if counts["lost"]:
        say(f"LOST submits (acknowledged, not in the database): {counts['lost'][:10]}")
    if load.dashboard_failures:
        say(f"dashboard failures: {load.dashboard_failures[:10]}")
    load_avg = os.getloadavg()[0]
    rec = ",".join(f"{k}:{v:.1f}" for k, v in recovery.items())
    print(
        f"RESULT submits_acknowledged={len(load.acked)} submits_lost={len(counts['lost'])} "
        f"submits_duplicated={counts['duplicated']} dashboard_requests={load.dashboard_requests} "
        f"dashboard_failures={len(load.dashboard_failures)} recovery_s={rec} "
        f"nproc={os.cpu_count()} load={load_avg:.1f}",
        flush=True,
    )
    return bool(counts["lost"] or counts["duplicated"] or load.dashboard_failures or not load.acked)


if __name__ == "__main__":
    sys.exit(main())
