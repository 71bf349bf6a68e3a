"""The ``cityloop`` command: a thin front over CityLoop's Django management commands."""

from __future__ import annotations

import os
import sys

COMMANDS = [
    ("demo", "migrate, load the demo city and users, and serve it (--load-only to just load)"),
    ("serve", "run the production web server (gunicorn) on 127.0.0.1:8000"),
    ("migrate", "create or update the database tables"),
    ("city import PATH|NAME", "import a city pack (built in: beijing, nyc)"),
    ("city list", "list the cities in the database"),
    ("user add", "create an account with a role"),
    ("token create|list|revoke", "manage API tokens for integrators"),
    ("audit verify|checkpoint", "check the audit trail against its signed checkpoints; sign one now"),
    ("scheduler [--workers N]", "run the scheduled work by itself (Huey; SQLite file or CITYLOOP_TASKS_URL)"),
    ("tick", "every scheduled job once, now (the scheduler runs them by itself)"),
    ("backup DEST | restore SRC", "one consistent backup archive, and its restore onto an empty database"),
    ("hotline import --csv CSV", "bulk-import call-centre records (good rows kept, bad rows listed)"),
    ("hotline train|predict|evaluate", "the request classifier"),
    ("hotline retrain", "retrain it with the dispatchers' decisions; promoted only if it does better"),
    ("hotline replay PATH", "load real LA/NYC 311 history and recount the rates"),
    ("hotline stats|close-times", "recount the monthly rates; rank agencies by time to close"),
    ("hotline hot-issues --csv CSV --out DIR", "hot issues: messages grouped by place, ranked by heat"),
    ("hotline reply-quality --csv CSV --out FILE", "score replies (答复意见质量); --labels: agreement"),
    ("services lint|reductions|snapshot|snapshots", "the catalogue linter, reductions between snapshots"),
    ("services tick|stats|verify", "the approval clock, department timeliness, verify an e-certificate"),
    ("seal verify|rotate|export-keys|status-list|revoke", "e-certificates under one seal"),
    ("brain devices import | brain demo-devices", "the device registry: import from CSV, or N demo devices"),
    ("brain worker|simulate|query|nab", "the worker, the simulator, DuckDB over the archive, NAB"),
    ("brain broker --port N --account NAME:PASSWORD", "Mosquitto with the repository's configuration"),
    ("worker", "the background worker"),
    ("notify deliver|catcher|status", "deliver the outbox (--forever: a worker), mail catcher, backlog"),
    ("notify subscribe|subscriptions|unsubscribe", "other systems' webhook subscriptions to event types"),
]


def _overview() -> str:
    width = max(len(name) for name, _ in COMMANDS)
    lines = ["usage: cityloop COMMAND [ARGS]  (cityloop COMMAND --help for details)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in COMMANDS]
    lines += ["", "every Django management command is available too (e.g. cityloop createsuperuser)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_overview())
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        # One clear line, no traceback: the operator fixes the named variable and starts again.
        print(f"cityloop: configuration error: {exc}", file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["cityloop", *args])
    except ImproperlyConfigured as exc:
        print(f"cityloop: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
