"""Ctrl-C on ``cityloop serve`` after the heavy pages were seen: seconds to exit, SIGKILLed workers.

    python bench/bench_stop.py [--runs 5] [--workers 4] [--threads 16] [--load 2] [--idle 1]
                               [--data-dir DIR]

Without ``--data-dir`` it loads a demo city (``cityloop demo --load-only``) into a fresh data dir in
/tmp. Each run starts ``cityloop serve`` (production settings, gunicorn) in a session of its own on a
free port, with ``--load`` processes spinning on the CPU beside it from before the start (the report:
"4 workers on 2 busy cores"). As ``leader_sun`` (a session made before the start) it warms every worker:
a new keep-alive connection asks for the dashboard, the connection's socket is found in one worker's
file descriptors (/proc), and a worker not seen before gets the rest on that connection: the pulse, the
hot issues and the brief as PDF. The dashboard's time on a worker that never answered before is that
worker's first-page time. After ``--idle`` seconds the whole process group gets SIGINT, as a terminal's
Ctrl-C sends it, and the bench waits for the server to exit: seconds from the signal, and the lines of
gunicorn's log that say a worker was sent SIGKILL (graceful timeout passed).

Per worker it prints the first-page time and RSS/PSS (``/proc/PID/smaps_rollup``: PSS splits pages
shared with the master and the other workers) before and after the warm-up. The last line is
``RESULT stop_s_max=<s> stop_s_median=<s> sigkills=<n> first_page_ms=<median> first_page_ms_max=<ms>
rss_mb=<median after> pss_mb=<median after>`` over every run and worker. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _serve import free_port, wait_until_up  # noqa: E402 - a sibling module of this script

BIN = Path(sys.executable).parent
PAGES = ["/leaders/", "/brain/", "/leaders/hot-issues/", "/leaders/brief/?format=pdf"]
USER = "leader_sun"
SESSION = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
client = Client()
client.force_login(get_user_model().objects.get(username={user!r}))
print(client.cookies["sessionid"].value)
"""


def server_env(data_dir: Path) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        CITYLOOP_DATA_DIR=str(data_dir), CITYLOOP_TESTING="0", DJANGO_SETTINGS_MODULE="cityloop.settings"
    )
    if os.environ.get("CITYLOOP_DATABASE_URL"):  # a PostgreSQL city, when the caller names one
        env["CITYLOOP_DATABASE_URL"] = os.environ["CITYLOOP_DATABASE_URL"]
    return env


def demo_city(env: dict) -> None:
    done = subprocess.run(
        [str(BIN / "cityloop"), "demo", "--load-only"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"cityloop demo --load-only failed:\n{done.stdout}\n{done.stderr}")


def session_cookie(env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SESSION.format(user=USER)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"could not log {USER} in:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB from smaps_rollup."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Rss", "Pss"):
                fields[name] = int(rest.split()[0]) / 1024
    except OSError:
        return 0.0, 0.0
    return fields.get("Rss", 0.0), fields.get("Pss", 0.0)


def server_side_inode(port: int, client_port: int) -> str | None:
    """The inode of the accepted socket whose peer is our ``client_port`` (/proc/net/tcp)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if int(local.rsplit(":", 1)[1], 16) == port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return inode
    return None


def worker_holding(inode: str, workers: list[int]) -> int | None:
    wanted = f"socket:[{inode}]"
    for pid in workers:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


def get(conn: http.client.HTTPConnection, path: str, cookie: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"})
    answer = conn.getresponse()
    body = answer.read()
    elapsed = time.perf_counter() - started
    if answer.status != 200:
        sys.exit(f"GET {path} answered {answer.status}: {body[:300]!r}")
    return elapsed


def warm_up(port: int, workers: list[int], cookie: str, attempts: int = 60) -> dict[int, float]:
    """Every worker's first dashboard time (ms), after which it served every heavy page once."""
    first: dict[int, float] = {}
    for _ in range(attempts):
        if len(first) == len(workers):
            break
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            elapsed = get(conn, PAGES[0], cookie)
            inode = server_side_inode(port, conn.sock.getsockname()[1])
            pid = worker_holding(inode, workers) if inode else None
            if pid is None or pid in first:
                continue
            first[pid] = elapsed * 1000
            for path in PAGES[1:]:
                get(conn, path, cookie)
        finally:
            conn.close()
    return first


def spinners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]  # noqa: S603


def one_run(env: dict, cookie: str, args, log_path: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - our own command
            [str(BIN / "cityloop"), "serve", "--port", str(port), "--workers", str(args.workers)]
            + ["--threads", str(args.threads)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: SIGINT to it is a terminal's Ctrl-C
        )
    try:
        wait_until_up(url, server, path="/healthz")
        deadline = time.monotonic() + 30
        while len(workers := children(server.pid)) < args.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        before = {pid: memory_mb(pid) for pid in workers}
        first = warm_up(port, workers, cookie)
        after = {pid: memory_mb(pid) for pid in workers}
        time.sleep(args.idle)
        os.killpg(server.pid, signal.SIGINT)
        stopped = time.monotonic()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            sys.exit(f"the server did not exit within 120 s of SIGINT; log in {log_path}")
        stop_s = time.monotonic() - stopped
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = log_path.read_text(errors="replace")
    return {
        "stop_s": stop_s,
        "sigkills": sum("SIGKILL" in line for line in text.splitlines()),
        "exiting": text.count("Worker exiting"),
        "workers": workers,
        "first": first,
        "before": before,
        "after": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--load", type=int, default=2, help="processes spinning on the CPU meanwhile")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds between the warm-up and SIGINT")
    parser.add_argument("--data-dir", type=Path, help="a data dir holding the demo city (else a new one)")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-stop-"))
    env = server_env(data_dir)
    if args.data_dir is None:
        print(f"loading the demo city into {data_dir} ...", flush=True)
        demo_city(env)
    cookie = session_cookie(env)
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"{args.workers} workers x {args.threads} threads, {args.load} spinning processes beside them")
    results = []
    for n in range(args.runs):
        spin = spinners(args.load)
        try:
            run = one_run(env, cookie, args, data_dir / f"bench-stop-{n}.log")
        finally:
            for process in spin:
                process.kill()
                process.wait()
        results.append(run)
        print(
            f"run {n + 1}: stopped in {run['stop_s']:.2f} s, {run['sigkills']} SIGKILL, "
            f"{run['exiting']}/{len(run['workers'])} workers logged 'Worker exiting'; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        for pid in run["workers"]:
            rss0, pss0 = run["before"].get(pid, (0.0, 0.0))
            rss1, pss1 = run["after"].get(pid, (0.0, 0.0))
            page = run["first"].get(pid)
            print(
                f"  worker {pid}: first page {f'{page:.0f} ms' if page is not None else 'not reached'}; "
                f"RSS {rss0:.0f} -> {rss1:.0f} MB, PSS {pss0:.0f} -> {pss1:.0f} MB"
            )
    stops = [r["stop_s"] for r in results]
    pages = [ms for r in results for ms in r["first"].values()]
    rss = [r["after"][p][0] for r in results for p in r["workers"] if p in r["after"]]
    pss = [r["after"][p][1] for r in results for p in r["workers"] if p in r["after"]]
    print(
        f"RESULT stop_s_max={max(stops):.2f} stop_s_median={statistics.median(stops):.2f} "
        f"sigkills={sum(r['sigkills'] for r in results)} "
        f"first_page_ms={statistics.median(pages):.0f} first_page_ms_max={max(pages):.0f} "
        f"rss_mb={statistics.median(rss):.0f} pss_mb={statistics.median(pss):.0f}"
    )


if __name__ == "__main__":
    main()
