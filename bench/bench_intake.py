"""Intake throughput: POST /api/v1/requests against a production-mode server, then count the rows.

    python bench/bench_intake.py [--duration 20] [--warmup 10] [--connections 16]
                                 [--workers 2] [--threads 16] [--database-url postgresql://...]

It creates a fresh data dir in /tmp (SQLite, or the PostgreSQL database named in --database-url,
dropped and created again), runs ``cityloop migrate``, ``cityloop city import beijing``, adds a
dispatcher and an API token with the hotline scope, starts ``cityloop serve`` (gunicorn) on
127.0.0.1 at a free port, and drives it with ``wrk`` (bench/intake.lua: compact JSON, random points
inside Beijing, a unique Idempotency-Key per submit) for a warm-up and then the timed run. Every
acknowledged (2xx) submit is recorded and compared with the database afterwards:

* ``lost``: acknowledged submits whose idempotency key or tracking number is not in the database;
* ``duplicated``: rows beyond one per idempotency key.

Before the server starts, the same database gets a bare-insert ceiling: as many threads as wrk has
connections, each with its own connection (psycopg, or sqlite3 with the server's pragmas), insert one
request-sized row per transaction into a scratch table for ``--ceiling-seconds``; rows/s is what the
database alone takes with one commit per submit and no web stack, parsing, locating or audit trail.

The last line printed is ``RESULT intake_rps=<n> p99_ms=<n> lost=<n> duplicated=<n> ceiling=<n>
ratio=<x> cpu_ms_server=<x> cpu_ms_db=<x>`` (rps of acknowledged submits and p99 of the timed run;
lost/duplicated over every submit, warm-up included; ratio = intake_rps / ceiling; CPU milliseconds
per submit of the timed run: the server's processes, and the PostgreSQL backends connected to the
bench's database when it runs on this machine, 0 for SQLite, whose work is in the server's).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _postgres import fresh_postgres  # noqa: E402 - a sibling module of this script
from _serve import free_port, wait_until_up  # noqa: E402 - a sibling module

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "intake.lua"
PACK = ROOT / "src" / "cityloop" / "org" / "packs" / "beijing" / "jurisdictions.geojson"


def cityloop(env: dict, *args: str) -> str:
    done = subprocess.run([str(BIN / "cityloop"), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cityloop {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def points_inside_city(path: Path, n: int = 5000, seed: int = 7) -> list[tuple[float, float]]:
    """Uniform random points of the pack's bbox that the locator places in a street of the city."""
    import numpy as np
    import shapely

    sys.path.insert(0, str(ROOT / "src"))
    from cityloop.org.locator import Locator

    locator = Locator.from_geojson(path)
    minx, miny, maxx, maxy = shapely.total_bounds([a.geometry for a in locator.areas.values()])
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(minx, maxx, n * 20), rng.uniform(miny, maxy, n * 20)
    streets = locator.locate_many(lon, lat).codes("street")
    inside = [
        (round(float(x), 6), round(float(y), 6)) for x, y, s in zip(lon, lat, streets, strict=True) if s
    ]
    if len(inside) < 100:
        sys.exit(f"only {len(inside)} random points fell inside the streets of {path}")
    return inside[:n]


def run_wrk(
    url: str, env: dict, *, seconds: int, connections: int, threads: int, points: Path, out: Path, tag: str
) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(points),
        str(out),
        tag,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no summary:\n{done.stdout}")
    return json.loads(line[len("WRKJSON ") :])


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux /proc; OSError elsewhere or when gone)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants so far (Linux /proc; 0 elsewhere)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += process_cpu(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def database_cpu(url: str) -> dict[int, float] | None:
    """CPU seconds so far of each server process connected to the bench's PostgreSQL database, or
    None when that is not a local PostgreSQL (SQLite runs inside the server's own processes)."""
    if not url:
        return None
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    found = {}
    for pid in pids:
        try:
            found[pid] = process_cpu(pid)
        except OSError:
            continue  # another machine's (or another user's hidden) process
    return found or None


CEILING_ROW = (
    "路灯不亮，晚上很黑（bench）",
    '{"k": "ceiling", "channel": "api"}',
    "13800001234",
    116.397,
    39.909,
)


def bare_insert_ceiling(env: dict, *, seconds: float, clients: int) -> float:
    """Rows/s that ``clients`` threads reach inserting one request-sized row per transaction."""
    url = env.get("CITYLOOP_DATABASE_URL", "")
    if url:
        import psycopg

        def connect():
            return psycopg.connect(url, autocommit=True)

        create = (
            "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), "
            "description text, attributes jsonb, phone text, lon double precision, lat double precision)"
        )
        insert = (
            "INSERT INTO bench_ceiling (description, attributes, phone, lon, lat) VALUES (%s, %s, %s, %s, %s)"
        )
    else:
        import sqlite3

        path = Path(env["CITYLOOP_DATA_DIR"]) / "cityloop.sqlite3"

        def connect():
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            return conn

        create = (
            "CREATE TABLE bench_ceiling (id integer PRIMARY KEY AUTOINCREMENT, "
            "at text NOT NULL DEFAULT CURRENT_TIMESTAMP, description text, attributes text, phone text, "
            "lon real, lat real)"
        )
        insert = "INSERT INTO bench_ceiling (description, attributes, phone, lon, lat) VALUES (?, ?, ?, ?, ?)"
    admin = connect()
    admin.execute("DROP TABLE IF EXISTS bench_ceiling")
    admin.execute(create)
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = connect()
        try:
            while time.monotonic() < stop:
                conn.execute(insert, CEILING_ROW)  # autocommit: one transaction, one commit per row
                counts[n] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    admin.execute("DROP TABLE bench_ceiling")
    admin.close()
    return sum(counts) / elapsed


def acknowledged(out: Path) -> tuple[list[tuple[str, str]], dict[str, int]]:
    acked, statuses = [], {}
    for name in glob.glob(f"{out}.*.acked"):
        for line in Path(name).read_text().splitlines():
            status, number, key = line.split(" ")
            statuses[status] = statuses.get(status, 0) + 1
            if status.startswith("2"):
                acked.append((number, key))
    return acked, statuses


def count_rows(env: dict, acked: list[tuple[str, str]]) -> dict:
    """Compare the acknowledged submits with the rows (in this process, with the server's settings)."""
    os.environ.update({k: env[k] for k in ("CITYLOOP_DATA_DIR", "CITYLOOP_DATABASE_URL") if k in env})
    os.environ["DJANGO_SETTINGS_MODULE"] = "cityloop.settings"
    import django

    django.setup()
    from cityloop.core import audit
    from cityloop.hotline.models import IdempotencyKey, Request

    rows = list(Request.objects.filter(channel="api").values_list("tracking_no", "attributes"))
    numbers = {number for number, _ in rows}
    row_keys = [attrs.get("k") for _, attrs in rows]
    keys = dict(IdempotencyKey.objects.values_list("key", "request__tracking_no"))
    lost = sum(1 for number, key in acked if number not in numbers or keys.get(key) != number)
    duplicated = len(rows) - len(set(row_keys))
    return {"rows": len(rows), "lost": lost, "duplicated": duplicated, "audit_intact": audit.verify().intact}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=20, help="seconds of the timed run")
    ap.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="seconds of load before the timed run (each worker builds the city locator on its first submit)",
    )
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    ap.add_argument("--threads", type=int, default=16, help="threads per gunicorn worker")
    ap.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL URL (its database is dropped and recreated); "
        "SQLite in the fresh data dir by default",
    )
    ap.add_argument(
        "--ceiling-seconds", type=float, default=5, help="seconds of the bare-insert ceiling (0: skip it)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the data dir for a look afterwards")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install -y wrk)")

    data_dir = Path(tempfile.mkdtemp(prefix="cityloop-bench-intake-", dir="/tmp"))
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(data_dir),
        "CITYLOOP_DEBUG": "false",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("CITYLOOP_DATABASE_URL", None)
    if args.database_url:
        fresh_postgres(args.database_url)
        env["CITYLOOP_DATABASE_URL"] = args.database_url
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"data dir {data_dir} ({database}); setting up the beijing pack", flush=True)
    cityloop(env, "migrate", "--verbosity", "0")
    cityloop(env, "city", "import", "beijing")
    # "--password=" form: a generated password may start with "-", which argparse would take for an option.
    cityloop(
        env,
        "user",
        "add",
        "bench_dispatcher",
        "--role",
        "dispatcher",
        f"--password={secrets.token_urlsafe(18)}",
    )
    token = (
        cityloop(env, "token", "create", "bench_dispatcher", "--name", "bench intake", "--scope", "hotline")
        .strip()
        .splitlines()[-1]
    )
    ceiling = 0.0
    if args.ceiling_seconds:
        ceiling = bare_insert_ceiling(env, seconds=args.ceiling_seconds, clients=args.connections)
        print(
            f"bare-insert ceiling: {ceiling:.0f} rows/s ({args.connections} clients, one row per commit)",
            flush=True,
        )
    points_file = data_dir / "points.txt"
    points_file.write_text("".join(f"{x} {y}\n" for x, y in points_inside_city(PACK)))

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(BIN / "cityloop"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "server.log", "w"),
    )
    try:
        wait_until_up(url, server)
        wrk_env = {**env, "BENCH_TOKEN": token}
        out = data_dir / "submits"
        print(
            f"server up at {url} ({args.workers} workers x {args.threads} threads); "
            f"warm-up {args.warmup} s, then {args.duration} s with {args.connections} connections",
            flush=True,
        )
        if args.warmup:
            run_wrk(
                url,
                wrk_env,
                seconds=args.warmup,
                connections=args.connections,
                threads=args.wrk_threads,
                points=points_file,
                out=out,
                tag="warm",
            )
        server_cpu, load_cpu = cpu_seconds(server.pid), os.times()
        db_before = database_cpu(args.database_url)
        timed = run_wrk(
            url,
            wrk_env,
            seconds=args.duration,
            connections=args.connections,
            threads=args.wrk_threads,
            points=points_file,
            out=out,
            tag="timed",
        )
        server_cpu = cpu_seconds(server.pid) - server_cpu
        db_after = database_cpu(args.database_url)
        db_cpu = None
        if db_before is not None and db_after is not None:
            # a backend that started during the run counts from zero; one that ended is not seen
            db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in db_after.items())
        load_cpu = (
            os.times().children_user
            + os.times().children_system
            - load_cpu.children_user
            - load_cpu.children_system
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    acked, statuses = acknowledged(out)
    counts = count_rows(env, acked)
    # Only acknowledged submits count: a server answering 500 at once is not fast.
    rps = (timed["requests"] - timed["status"]) / (timed["duration_us"] / 1e6)
    errors = {k: timed[k] for k in ("connect", "read", "write", "status", "timeout") if timed[k]}
    print(
        f"timed run: {timed['requests']} submits in {timed['duration_us'] / 1e6:.1f} s; latency p50 "
        f"{timed['p50_us'] / 1000:.1f} ms, p90 {timed['p90_us'] / 1000:.1f} ms, "
        f"p99 {timed['p99_us'] / 1000:.1f} ms, "
        f"max {timed['max_us'] / 1000:.1f} ms; errors {errors or 'none'}"
    )
    per_submit = {"server": server_cpu / timed["requests"] * 1000}
    if db_cpu is not None:
        per_submit["db"] = db_cpu / timed["requests"] * 1000
    database_part = f", PostgreSQL backends {per_submit['db']:.2f} ms" if "db" in per_submit else ""
    print(
        f"CPU per submit: server {per_submit['server']:.2f} ms{database_part}, load generator "
        f"{load_cpu / timed['requests'] * 1000:.2f} ms (machine load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"responses by status (warm-up + timed): {dict(sorted(statuses.items()))}; acknowledged "
        f"{len(acked)}, "
        f"rows {counts['rows']}; audit chain {'intact' if counts['audit_intact'] else 'BROKEN'}"
    )
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"kept {data_dir}")
    ratio = f"{rps / ceiling:.2f}" if ceiling else "-"
    print(
        f"RESULT intake_rps={rps:.0f} p99_ms={timed['p99_us'] / 1000:.0f} lost={counts['lost']} "
        f"duplicated={counts['duplicated']} ceiling={ceiling:.0f} ratio={ratio} "
        f"cpu_ms_server={per_submit['server']:.2f} cpu_ms_db={per_submit.get('db', 0):.2f} "
        f"nproc={os.cpu_count()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
