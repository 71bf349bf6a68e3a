"""`cityloop hotline replay|stats|close-times`: real history in, rates and close times out."""

from __future__ import annotations

import statistics
from pathlib import Path

from django.core.management.base import CommandError

from cityloop.core import actors


def args_replay(parser) -> None:
    parser.add_argument("path", type=Path, help="a MyLA311 or NYC 311 CSV export")
    parser.add_argument("--city", help="load into this existing city (code or pack); default: create LA/NYC")
    parser.add_argument("--no-stats", action="store_true", help="skip recounting the monthly rates")


def do_replay(cmd, options) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cityloop.hotline.loaders import replay
    from cityloop.hotline.performance import actions as performance_actions

    path: Path = options["path"]
    if not path.is_file():
        raise CommandError(f"no such file: {path}")
    with path.open(encoding="utf-8-sig") as handle:
        total = max(0, sum(1 for _ in handle) - 1)
    with Progress(
        TextColumn("replaying {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(path.name, total=total)
        try:
            report = replay.replay(
                path,
                city_code=options.get("city"),
                progress=lambda n: bar.advance(task, n),
                actor=actors.IMPORT,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bar.update(task, completed=total)
    for line, reason in report.errors:
        cmd.stderr.write(f"line {line}: {reason}")
    cmd.stdout.write(
        f"loaded {report.loaded} request(s) ({report.closed} closed, {report.open} still open), "
        f"{report.located} located to a street, {report.skipped_existing} already there, "
        f"{len(report.errors)} rejected; created {report.agencies_created} agencies and "
        f"{report.types_created} request types"
    )
    if not options.get("no_stats"):
        months = performance_actions.recount_all(actor=actors.IMPORT)
        cmd.stdout.write(f"recounted the rates for {len(months)} month(s)")


def args_stats(parser) -> None:
    parser.add_argument("--month", help="YYYY-MM (default: every month with requests)")


def do_stats(cmd, options) -> None:
    from datetime import date

    from cityloop.hotline.performance import actions as performance_actions

    if options.get("month"):
        try:
            year, month = (int(p) for p in options["month"].split("-"))
            months = [date(year, month, 1)]
        except ValueError as exc:
            raise CommandError("--month must look like 2026-11") from exc
        for month in months:
            performance_actions.recount_month(month, actor=actors.COMMAND)
    else:
        months = performance_actions.recount_all(actor=actors.COMMAND)
    cmd.stdout.write(f"recounted {len(months)} month(s)")


def args_close_times(parser) -> None:
    parser.add_argument("--city", help="city code (default: every city)")
    parser.add_argument(
        "--min-requests", type=int, default=20, help="leave out agencies with fewer closed requests"
    )


def do_close_times(cmd, options) -> None:
    """Agencies ranked by median hours from receipt to close (a Markdown table)."""
    from cityloop.hotline.models import Request

    qs = Request.objects.filter(closed_at__isnull=False, lead_department__isnull=False)
    if options.get("city"):
        qs = qs.filter(city__code=options["city"])
    hours: dict[tuple[str, str], list[float]] = {}
    for code, name, created, closed in qs.values_list(
        "lead_department__code", "lead_department__name", "created_at", "closed_at"
    ).iterator(chunk_size=5000):
        hours.setdefault((code, name), []).append((closed - created).total_seconds() / 3600)
    rows = sorted(
        ((statistics.median(v), len(v), k) for k, v in hours.items() if len(v) >= options["min_requests"])
    )
    cmd.stdout.write("| rank | agency | closed requests | median hours to close |")
    cmd.stdout.write("|---:|---|---:|---:|")
    for rank, (median, count, (code, name)) in enumerate(rows, start=1):
        label = code if name == code else f"{name} ({code})"
        cmd.stdout.write(f"| {rank} | {label} | {count} | {median:.1f} |")
