"""E-mail from the outbox to a real SMTP server: throughput, latency, and nothing lost through an SMTP
outage and a SIGKILLed delivery worker.

    python bench/bench_notify.py [--messages 20000] [--clean 5000] [--rate 200] [--workers 2]
                                 [--outage-s 60] [--batch 200] [--backoff-max-s S]
                                 [--database-url postgresql://...] [--keep]

A fresh data dir in /tmp (SQLite, or the PostgreSQL database named in --database-url, dropped and
created again) is migrated. The SMTP server is a recorder of this bench in its own process (aiosmtpd,
like notify.catcher): it appends ``uid<TAB>received_at`` for every message it accepts, from the
``X-CityLoop-Message-Id`` header, flushed before it answers 250, so it can be stopped and started
again without losing a line. ``--workers`` real ``cityloop notify deliver --forever`` processes
(production settings, CITYLOOP_SMTP_HOST/PORT pointing at the recorder) send the outbox. Messages
are queued by this process through ``notify.actions.queue_many``, in transactions of ``rate/20``
messages, so that each row is committed as an action would commit it. Three phases:

1. burst: ``--clean`` messages queued as fast as the producer can; ``notify_per_s`` is messages over
   the time from the first queue to the last receipt;
2. steady: ``--clean`` messages at ``--rate``/s; ``latency_p99_s`` is the 99th percentile of the
   time from the message's ``created_at`` (set just before its transaction commits) to its receipt;
3. outage: ``--messages`` at ``--rate``/s. At 10 % queued every worker is frozen (SIGSTOP), the
   messages leased and not marked sent are counted (``in_flight_at_kill``: status queued and
   ``lease_until`` in the future; with all workers frozen nothing changes while it is counted, so
   it is exact for the whole pool and an upper bound for the one killed); while none is in flight
   the workers are thawed and frozen again a few ms later (up to 400 times), so that the kill finds
   a batch being sent. Then the worker with an SMTP session open (else the first) gets SIGKILL, the
   others SIGCONT, and a new worker starts. At 25 % queued the SMTP server is stopped for
   ``--outage-s`` seconds, then started again on the same port. Then the bench waits until no
   message is queued.

``lost`` = queued uids never received; ``duplicated`` = receipts beyond one per uid (both over
every phase). The last line is ``RESULT notify_per_s= lost= duplicated= in_flight_at_kill=
latency_p99_s= outage_s= messages= drained_after_outage_s=`` (the last: from the SMTP server's return
to the last receipt of the outage run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _postgres import fresh_postgres  # noqa: E402 - a sibling module of this script
from _serve import free_port  # noqa: E402 - a sibling module

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HEADER = b"x-cityloop-message-id:"
PARAMS = {"no": "R20261118-00001", "reply": "The water main on Jinrong Street was repaired."}


# ---------------------------------------------------------------- the SMTP recorder (its own process)


def record(port: int, path: str) -> None:
    """``bench_notify.py _record PORT FILE``: an SMTP server appending ``uid\\treceived_at`` lines."""
    from aiosmtpd.controller import Controller

    out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the process's life; line-buffered

    class Recorder:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received = time.time()
            uid = "-"
            for line in envelope.content.split(b"\r\n"):
                if not line:
                    break  # end of the headers
                if line[: len(HEADER)].lower() == HEADER:
                    uid = line[len(HEADER) :].strip().decode()
                    break
            out.write(f"{uid}\t{received:.6f}\n")  # written before the 250: a receipt is never unrecorded
            return "250 Message accepted for delivery"

    controller = Controller(Recorder(), hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("ready", flush=True)
    while not stop:
        time.sleep(0.1)
    controller.stop()
    out.close()


class Smtp:
    """The recorder process: start, stop and start again on the same port."""

    def __init__(self, port: int, path: Path, log: Path) -> None:
        self.port, self.path, self.log = port, path, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "_record", str(self.port), str(self.path)],
            stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"),  # noqa: SIM115 - the child keeps it
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            sys.exit(f"the SMTP recorder did not start; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with socket.socket() as s:  # really closed: a worker must find it refusing
            assert s.connect_ex(("127.0.0.1", self.port)) != 0


def receipts(path: Path) -> list[tuple[str, float]]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            uid, _, at = line.partition("\t")
            out.append((uid, float(at)))
    return out


# ---------------------------------------------------------------- workers, producer, measurements


class Workers:
    def __init__(self, env: dict, batch: int, logs: Path) -> None:
        self.env, self.batch, self.logs = env, batch, logs
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        n = len(self.procs) + 1
        cmd = [str(BIN / "cityloop"), "notify", "deliver", "--forever", "--batch", str(self.batch)]
        with open(self.logs / f"worker-{n}.log", "ab") as log:
            self.procs.append(subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log))

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def check(self) -> None:
        for i, p in enumerate(self.procs):
            if p.returncode is None and p.poll() is not None and p.returncode != -signal.SIGKILL:
                sys.exit(f"worker {i + 1} exited with {p.returncode}; see {self.logs}")

    def stop_all(self) -> None:
        for p in self.alive():
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _setup(data_dir: Path, database_url: str) -> dict:
    import django

    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(data_dir),
        "CITYLOOP_TESTING": "0",  # production settings in the workers, as a city runs them
        "CITYLOOP_DEBUG": "false",
        "PYTHONPATH": str(ROOT / "src"),
    }
    env.pop("CITYLOOP_DATABASE_URL", None)
    if database_url:
        fresh_postgres(database_url)
        env["CITYLOOP_DATABASE_URL"] = database_url
    os.environ.clear()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    sys.path.insert(0, str(ROOT / "src"))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def produce(n: int, rate: float, phase: str, tick=None) -> None:
    """Queue ``n`` e-mails (``rate``/s, or as fast as possible when 0) in transactions, as actions do."""
    from django.db import transaction

    from cityloop.notify.actions import Note, queue_many
    from cityloop.notify.recipients import To

    chunk = max(1, int(rate // 20)) if rate else 100
    started, made = time.perf_counter(), 0
    while made < n:
        k = min(chunk, n - made)
        with transaction.atomic():
            queue_many(
                Note("request.replied", (To("email", f"c{made + i}@example.cn", language="en"),), PARAMS)
                for i in range(k)
            )
        made += k
        if tick is not None:
            tick(made)
        if rate:
            pause = started + made / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)


def sending(pid: int, port: int) -> bool:
    """Whether process ``pid`` has an SMTP connection to ``port`` open (Linux /proc): a worker holds
    one for the length of a batch, so it is the one with messages in flight."""
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        f = line.split()
        if f[2].endswith(f":{port:04X}") and f[3] == "01" and f[9] in inodes:  # 01: established
            return True
    return False


def queued() -> int:
    from cityloop.notify.models import Message, Status

    return Message.objects.filter(status=Status.QUEUED).count()


def in_flight() -> int:
    from django.utils import timezone

    from cityloop.notify.models import Message, Status

    return Message.objects.filter(status=Status.QUEUED, lease_until__gt=timezone.now()).count()


def wait_drained(workers: Workers, timeout: float, tick=None) -> None:
    deadline, said = time.monotonic() + timeout, time.monotonic()
    while time.monotonic() < deadline:
        pending = tick(None) if tick is not None else None
        workers.check()
        left = queued()
        if left == 0 and pending is None:
            return
        if time.monotonic() - said > 10:
            print(f"  … {left} queued", flush=True)
            said = time.monotonic()
        time.sleep(0.1)
    sys.exit(f"the outbox did not drain within {timeout:.0f} s ({queued()} queued)")


def phase_rows(after_id: int) -> list[tuple[int, str, float]]:
    from cityloop.notify.models import Message

    return [
        (pk, str(uid), created.timestamp())
        for pk, uid, created in Message.objects.filter(pk__gt=after_id).values_list("pk", "uid", "created_at")
    ]


def last_id() -> int:
    from cityloop.notify.models import Message

    return Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000, help="messages in the outage run")
    ap.add_argument("--clean", type=int, default=5_000, help="messages in each clean phase")
    ap.add_argument("--rate", type=float, default=200, help="messages queued per second (steady, outage)")
    ap.add_argument("--workers", type=int, default=2, help="delivery worker processes")
    ap.add_argument("--batch", type=int, default=200, help="messages a worker claims at a time")
    ap.add_argument("--outage-s", type=float, default=60, help="seconds the SMTP server is down")
    ap.add_argument(
        "--backoff-max-s",
        type=float,
        default=0,
        help="CITYLOOP_NOTIFY_BACKOFF_MAX_S for the workers (default: the settings' default)",
    )
    ap.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL URL (its database is dropped and recreated); "
        "SQLite in the fresh data dir by default",
    )
    ap.add_argument("--keep", action="store_true", help="keep the data dir for a look afterwards")
    args = ap.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="cityloop-bench-notify-", dir="/tmp"))
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"data dir {data_dir} ({database}); nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    env = _setup(data_dir, args.database_url)
    port = free_port()
    env.update({"CITYLOOP_SMTP_HOST": "127.0.0.1", "CITYLOOP_SMTP_PORT": str(port)})
    if args.backoff_max_s:
        env["CITYLOOP_NOTIFY_BACKOFF_MAX_S"] = str(args.backoff_max_s)
    backoff = f"CITYLOOP_NOTIFY_BACKOFF_MAX_S={env.get('CITYLOOP_NOTIFY_BACKOFF_MAX_S', 'default (3600)')}"
    got = data_dir / "received.tsv"
    smtp = Smtp(port, got, data_dir / "smtp.log")
    workers = Workers(env, args.batch, data_dir)
    results: dict[str, float] = {}
    try:
        smtp.start()
        for _ in range(args.workers):
            workers.start()
        time.sleep(2)  # the workers import Django and poll; a first message should not wait for that

        # 1. burst
        first = last_id()
        t0 = time.time()
        produce(args.clean, 0, "burst")
        queued_s = time.time() - t0
        wait_drained(workers, 600)
        rows = phase_rows(first)
        uids = {u for _, u, _ in rows}
        last = max(at for uid, at in receipts(got) if uid in uids)
        results["notify_per_s"] = len(rows) / (last - t0)
        print(
            f"burst: {len(rows)} queued in {queued_s:.1f} s, all received {last - t0:.1f} s after the "
            f"first queue: {results['notify_per_s']:.0f} e-mails/s",
            flush=True,
        )

        # 2. steady
        first = last_id()
        produce(args.clean, args.rate, "steady")
        wait_drained(workers, 600)
        rows = phase_rows(first)
        created = {u: c for _, u, c in rows}
        seen: dict[str, float] = {}
        for uid, at in receipts(got):
            if uid in created and uid not in seen:
                seen[uid] = at
        lat = [seen[u] - created[u] for u in seen]
        results["latency_p99_s"] = percentile(lat, 0.99)
        print(
            f"steady {args.rate:.0f}/s: {len(rows)} messages, latency p50 {percentile(lat, 0.5):.3f} s, "
            f"p99 {results['latency_p99_s']:.3f} s, max {max(lat):.3f} s",
            flush=True,
        )

        # 3. outage and a killed worker
        first = last_id()
        state: dict[str, float] = {}

        def tick(made: int | None):
            """Kill at 10 % queued, stop SMTP at 25 %, start it again after --outage-s; returns what
            is still to come (None when nothing is)."""
            now = time.monotonic()
            if made is not None and made >= args.messages * 0.10 and "killed" not in state:
                alive = workers.alive()
                # At 200/s a worker is idle between polls most of the time; the kill is meant to find
                # it holding a batch, so freeze, count, and thaw again until something is in flight.
                for _ in range(400):
                    for p in alive:
                        p.send_signal(signal.SIGSTOP)
                    state["in_flight"] = in_flight()
                    if state["in_flight"]:
                        break
                    for p in alive:
                        p.send_signal(signal.SIGCONT)
                    time.sleep(0.005)
                victim = next((p for p in alive if sending(p.pid, port)), alive[0])
                session = sending(victim.pid, port)
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                for p in alive:
                    if p is not victim:
                        p.send_signal(signal.SIGCONT)
                workers.start()
                state["killed"] = now
                print(
                    f"  SIGKILL worker {workers.procs.index(victim) + 1} at {made} queued "
                    f"({'in an SMTP session' if session else 'between batches'}); "
                    f"{state['in_flight']:.0f} in flight",
                    flush=True,
                )
            if made is not None and made >= args.messages * 0.25 and "down" not in state:
                smtp.stop()
                state["down"] = now
                print(f"  SMTP server stopped at {made} queued, for {args.outage_s:.0f} s", flush=True)
            if "down" in state and "up" not in state and now - state["down"] >= args.outage_s:
                smtp.start()
                state["up"] = now
                state["up_wall"] = time.time()
                print("  SMTP server started again", flush=True)
            return None if "up" in state else "the SMTP server's return"

        produce(args.messages, args.rate, "outage", tick)
        wait_drained(workers, 900, tick)
        rows = phase_rows(first)
        uids = {u for _, u, _ in rows}
        last = max(at for uid, at in receipts(got) if uid in uids)
        results["drain_after_outage_s"] = last - state["up_wall"]
        results["in_flight_at_kill"] = state["in_flight"]
        print(
            f"outage run: {len(rows)} messages, the last received {results['drain_after_outage_s']:.1f} s "
            "after the SMTP server came back",
            flush=True,
        )
    finally:
        workers.stop_all()
        if smtp.proc is not None:
            smtp.stop()

    from cityloop.notify.models import Message, Status

    all_uids = {str(u) for u in Message.objects.values_list("uid", flat=True)}
    got_list = [uid for uid, _ in receipts(got)]
    received = set(got_list)
    lost = len(all_uids - received)
    duplicated = len(got_list) - len(received)
    statuses = {s: Message.objects.filter(status=s).count() for s in Status.values}
    print(f"outbox: {statuses}; {len(all_uids)} queued, {len(received)} received, {len(got_list)} receipts")
    print(
        f"({backoff}; {args.workers} workers, batch {args.batch}, {database}, nproc {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end)"
    )
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"kept {data_dir}")
    print(
        f"RESULT notify_per_s={results['notify_per_s']:.0f} lost={lost} duplicated={duplicated} "
        f"in_flight_at_kill={results['in_flight_at_kill']:.0f} latency_p99_s={results['latency_p99_s']:.2f} "
        f"outage_s={args.outage_s:.0f} messages={args.messages} "
        f"drained_after_outage_s={results['drain_after_outage_s']:.1f}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_record":
        record(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    sys.exit(main())
