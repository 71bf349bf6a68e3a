"""``cityloop brain …``: devices, the worker, the simulator, archive queries and the NAB run."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import actors


class Command(BaseCommand):
    help = "The city brain: devices import, demo-devices, worker, simulate, query, nab"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        devices = sub.add_parser("devices", help="the device registry")
        dsub = devices.add_subparsers(dest="devices_action", required=True)
        imp = dsub.add_parser("import", help="import devices from CSV (all-or-nothing)")
        imp.add_argument("csv")
        imp.add_argument("--city", default="", help="city or pack code (default: the deployment's city)")
        demo = sub.add_parser("demo-devices", help="register N demo devices across the city's streets")
        demo.add_argument("n", type=int)
        demo.add_argument("--city", default="")
        worker = sub.add_parser("worker", help="consume readings, detect, roll up, close the loop")
        add_worker_arguments(worker)
        sim = sub.add_parser("simulate", help="send simulated readings")
        sim.add_argument("--devices", type=int, default=1000, help="use (and register if needed) N devices")
        sim.add_argument("--via", choices=["http", "mqtt", "nats", "inproc"], default="inproc")
        sim.add_argument("--rate", type=float, default=1.0, help="simulated seconds per real second")
        sim.add_argument("--duration", type=float, default=60.0, help="real seconds to run")
        sim.add_argument("--url", default="http://127.0.0.1:8000", help="for --via http")
        sim.add_argument("--token", default="", help="for --via http: a token with scope brain")
        sim.add_argument("--problems", action="store_true", help="inject leaks, stuck meters and outages")
        query = sub.add_parser("query", help="SQL over the Parquet archive (views: readings, rejects)")
        query.add_argument("sql")
        query.add_argument("--limit", type=int, default=50)
        broker = sub.add_parser(
            "broker",
            help="run Mosquitto on this machine with deploy/mosquitto/cityloop.conf (loopback, no TLS), "
            "to try MQTT devices and workers",
        )
        broker.add_argument("--port", type=int, default=1883)
        broker.add_argument(
            "--prefix", default="", help="topic prefix (default CITYLOOP_MQTT_PREFIX or cityloop)"
        )
        broker.add_argument(
            "--account",
            action="append",
            default=[],
            metavar="NAME:PASSWORD",
            help="an MQTT account (a gateway id, a device code or cityloop-worker); repeat for more",
        )
        broker.add_argument(
            "--publisher",
            default="",
            metavar="NAME",
            help="an account (from --account) that may publish every device's readings, e.g. a simulator",
        )
        nab = sub.add_parser(
            "nab", help="run CityLoop's NAB detector (contextual + streaming) and write NAB's results layout"
        )
        nab.add_argument("--data", required=True)
        nab.add_argument("--out", required=True)
        nab.add_argument("--detector", default="cityloop", choices=["cityloop", "context", "null"])
        nab.add_argument(
            "--processes", type=int, default=os.cpu_count() or 1, help="the contextual detector's processes"
        )

    def handle(self, *args, **opts):
        action = opts["action"]
        if action == "devices":
            return self._import(opts)
        if action == "demo-devices":
            from cityloop.brain import demo

            created = demo.register_demo_devices(_city(opts["city"]), opts["n"])
            self.stdout.write(f"registered {created} devices")
        elif action == "worker":
            run_worker(self, opts)
        elif action == "simulate":
            from cityloop.brain.ingest import simulate

            simulate.run(self, opts)
        elif action == "query":
            self._query(opts)
        elif action == "broker":
            self._broker(opts)
        elif action == "nab":
            from cityloop.brain.detect.nab import write_nab_results

            started = time.perf_counter()
            written = write_nab_results(
                opts["data"], opts["out"], detector_name=opts["detector"], processes=max(opts["processes"], 1)
            )
            self.stdout.write(
                f"wrote {len(written)} results files under "
                f"{Path(opts['out']) / opts['detector']} in {time.perf_counter() - started:.1f} s"
            )

    def _broker(self, opts):
        from cityloop.brain.ingest import broker as brokers
        from cityloop.core import config

        why = brokers.available()
        if why:
            raise CommandError(why)
        accounts = {}
        for item in opts["account"]:
            name, sep, password = item.partition(":")
            if not sep or not name or not password:
                raise CommandError(f"--account {item!r}: write NAME:PASSWORD")
            accounts[name] = password
        if opts["publisher"] and opts["publisher"] not in accounts:
            raise CommandError(f"--publisher {opts['publisher']!r}: give it an --account NAME:PASSWORD first")
        prefix = opts["prefix"] or config.mqtt_prefix()
        workdir = config.data_dir() / "mosquitto"
        running = brokers.start(
            workdir, prefix=prefix, accounts=accounts, publisher=opts["publisher"] or None, port=opts["port"]
        )
        self.stdout.write(
            f"Mosquitto on 127.0.0.1:{running.port} with {brokers.deploy_dir() / 'cityloop.conf'}, prefix "
            f"{prefix!r}, files in {workdir}; workers: CITYLOOP_MQTT=127.0.0.1:{running.port} "
            f"CITYLOOP_MQTT_PREFIX={prefix} cityloop brain worker --via mqtt --durable brain-1. "
            "Ctrl-C stops it."
        )
        sys.stdout.flush()

        def _stop(*_):
            raise KeyboardInterrupt

        # Ctrl-C, and SIGTERM (systemctl stop, kill): stop the broker this command started, which runs in a
        # session of its own and would otherwise outlive us. SIGINT is set explicitly: a process started
        # in the background by a shell inherits it ignored.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        try:
            if running.process is not None:
                running.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()

    def _import(self, opts):
        from cityloop.brain.actions.devices import import_devices_csv

        path = Path(opts["csv"])
        if not path.exists():
            raise CommandError(f"csv: {path} does not exist")
        report = import_devices_csv(
            city=_city(opts["city"]), text=path.read_text(encoding="utf-8"), actor=actors.COMMAND
        )
        if not report.ok:
            for line in report.errors:
                self.stderr.write(line)
            raise CommandError(f"nothing imported: {len(report.errors)} problem(s) in {path}")
        self.stdout.write(f"imported {len(report.created)} devices from {path}")

    def _query(self, opts):
        from rich.console import Console
        from rich.table import Table

        from cityloop.brain.archive import archive
        from cityloop.brain.engine import brain_root

        con = archive.connect(brain_root())
        try:
            cursor = con.execute(opts["sql"])
        except Exception as exc:  # noqa: BLE001 - DuckDB's errors are many; the message is what counts
            raise CommandError(f"sql: {exc}") from exc
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(opts["limit"])
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console(file=self.stdout, width=160).print(table)


def _city(code: str):
    from cityloop.org.queries import city_by_code, default_city

    if code:
        city = city_by_code(code)
    else:
        city = default_city()
    if city is None:
        raise CommandError(f"city: no city {code!r} in the database; import one with `cityloop city import`")
    return city


def add_worker_arguments(parser) -> None:
    parser.add_argument("--via", choices=["inproc", "mqtt", "nats"], default="nats")
    parser.add_argument("--subject", default=None, help="NATS subject filter (default cityloop.readings.>)")
    parser.add_argument("--durable", default="cityloop-worker", help="NATS durable consumer / MQTT client id")
    parser.add_argument("--idle-exit", type=float, default=None, help="stop after this many idle seconds")
    parser.add_argument("--checkpoint-every", type=float, default=1.0, help="seconds between checkpoints")
    parser.add_argument("--fetch", type=int, default=256, help="NATS messages per fetch")
    parser.add_argument(
        "--maintenance-every",
        type=float,
        default=30.0,
        help="seconds between silent-device checks and case verification (0: never)",
    )
    parser.add_argument("--devices", type=int, default=200, help="--via inproc: simulated devices")
    parser.add_argument("--duration", type=float, default=None, help="--via inproc: seconds to run")


def run_worker(command, opts) -> None:
    import signal
    import threading

    from cityloop.brain import worker

    started = time.perf_counter()
    via = opts["via"]
    # SIGTERM (systemctl stop, a rolling restart) and Ctrl-C end the loop after the checkpoint in hand, so
    # the worker acknowledges what it committed and leaves; anything in flight is delivered again. A
    # second Ctrl-C interrupts at once.
    stopping = threading.Event()

    def _interrupt(*_) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()

    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, _interrupt)
    command.stdout.write(f"worker ({via}) started; SIGTERM or Ctrl-C stops it after the checkpoint in hand")
    sys.stdout.flush()
    if via == "nats":
        stats = worker.run_nats(
            stop=stopping.is_set,
            subject=opts["subject"],
            durable=opts["durable"],
            fetch_batch=opts["fetch"],
            checkpoint_every=opts["checkpoint_every"],
            idle_exit=opts["idle_exit"],
            maintenance_every=opts["maintenance_every"],
        )
    elif via == "mqtt":
        stats = worker.run_mqtt(
            stop=stopping.is_set,
            client_id=opts["durable"],
            checkpoint_every=min(opts["checkpoint_every"], 0.5),
            idle_exit=opts["idle_exit"],
            maintenance_every=opts["maintenance_every"],
        )
    else:
        from cityloop.brain import runner

        stats = runner.run_inproc_demo(
            devices=opts["devices"], duration=opts["duration"], stop=stopping.is_set
        )
    command.stdout.write(
        f"worker ({via}) stopped after {time.perf_counter() - started:.1f} s: {stats.line()}"
    )
    sys.stdout.flush()
