"""The leaders' dashboard and ranking page over a million request histories.

    python bench/bench_dashboard.py [--requests 1000000] [--months 12] [--runs 9]
                                    [--database-url postgresql://...] [--keep]

It creates a fresh data dir in /tmp (SQLite, or the PostgreSQL database named in --database-url,
dropped and created again), migrates it, loads the Beijing pack with its demo personas, writes
``--requests`` synthetic histories over ``--months`` months (orders, returns and follow-ups
included; ``cityloop.hotline.loaders.synthetic``), recounts the monthly stats, on PostgreSQL runs
VACUUM ANALYZE (as autovacuum would after a bulk load), and then times, in process with Django's test
Client against the production settings and a signed-in leader, every filter of the leaders' forms:

* the dashboard (``/leaders/``): the default page, one month, a quarter, the whole year, one district,
  one category, a district and a category together, the map coloured by each other rate, and the
  open sensor alarms over the city's and a district's map;
* the rankings (``/leaders/rankings/<kind>/``) of districts, streets, communities and departments
  for a month, filtered by one district and by one category, and both;
* the monthly report and a street's and a department's trend.

Each URL is fetched once to warm up, then ``--runs`` times; each variant's median is printed. The
last line is ``RESULT dashboard_ms=<median> ranking_ms=<median> dashboard_max_ms=<slowest variant>
requests=<n>``: the first two are the medians over all runs of the dashboard's and the rankings'
variants, ``dashboard_max_ms`` the median of the slowest variant of any leaders' page (named on the
line before). ``--reuse`` times a data dir (and ``--database-url``) kept by ``--keep`` again,
after applying any new migration.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _postgres import fresh_postgres  # noqa: E402 - a sibling module of this script

ROOT = Path(__file__).resolve().parent.parent


def timed(client, url: str, runs: int) -> list[float]:
    answer = client.get(url)  # warm-up: caches, first query plans
    if answer.status_code != 200:
        sys.exit(f"{url} answered {answer.status_code}")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            sys.exit(f"{url} answered {answer.status_code}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--database-url", help="a PostgreSQL URL (the database is dropped and created again)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    parser.add_argument(
        "--reuse", type=Path, help="time the pages again on a data dir kept by --keep (no fill)"
    )
    args = parser.parse_args()

    data_dir = args.reuse or Path(tempfile.mkdtemp(prefix="cityloop-bench-dashboard-"))
    args.keep = args.keep or bool(args.reuse)
    os.environ["CITYLOOP_DATA_DIR"] = str(data_dir)
    os.environ.pop("CITYLOOP_DEBUG", None)
    os.environ.pop("CITYLOOP_TESTING", None)
    if args.database_url:
        if not args.reuse:
            fresh_postgres(args.database_url)
        os.environ["CITYLOOP_DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("CITYLOOP_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    sys.path.insert(0, str(ROOT / "src"))
    try:
        run(args)
    finally:
        if args.keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from cityloop.core.actors import SYSTEM
    from cityloop.hotline.loaders import synthetic
    from cityloop.hotline.models import Request
    from cityloop.hotline.performance import actions as performance_actions
    from cityloop.hotline.performance import leaders, stats
    from cityloop.org import demo
    from cityloop.org.models import Category, Department, Jurisdiction
    from cityloop.org.queries import default_city

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    print(f"database: {connection.vendor}; DEBUG={settings.DEBUG}")
    if args.reuse:
        call_command("migrate", verbosity=0)  # a new index is timed without filling again
        city = default_city()
        requests = Request.objects.count()
        months = stats.months_with_data()
        print(f"reusing {args.reuse}: {requests} requests, {len(months)} months")
    else:
        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)  # production settings need the manifest
        demo.load("beijing")
        city = default_city()
        print(f"migrated and loaded the beijing pack in {time.perf_counter() - began:.1f} s")
        began, cpu = time.perf_counter(), time.process_time()
        generated = synthetic.generate(city, n=args.requests, months=args.months)
        fill, fill_cpu = time.perf_counter() - began, time.process_time() - cpu
        requests = generated.requests
        print(
            f"fill: {generated.requests} requests, {generated.orders} orders, {generated.follow_ups} "
            "follow-ups "
            f"in {fill:.1f} s ({requests / fill:,.0f} requests/s; CPU {fill_cpu:.1f} s in this process)"
        )
        began, cpu = time.perf_counter(), time.process_time()
        months = performance_actions.recount_all(actor=SYSTEM)
        print(
            f"recount: {len(months)} months in {time.perf_counter() - began:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s in this process)"
        )
    if connection.vendor == "postgresql":
        # what autovacuum does after a bulk load, before a leader looks: the planner's statistics and
        # the visibility map that index-only scans rely on
        began = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"vacuum analyze: {time.perf_counter() - began:.1f} s")

    client = Client()
    client.force_login(next(u for p, u in demo.load("beijing") if p.role == "leader"))
    latest = leaders.latest_month()  # the month the pages open on (the last complete one)
    district = Jurisdiction.objects.filter(city=city, level="district").order_by("code").first()
    category = Category.objects.filter(city=city, depth=1).order_by("code").first()
    street = Jurisdiction.objects.filter(city=city, level="street").order_by("code").first()
    department = Department.objects.filter(city=city).order_by("code").first()
    month = f"{latest:%Y-%m}"
    quarter, year = (f"{leaders.last_months(latest, n)[0]:%Y-%m}" for n in (3, 12))
    d, c = district.pk, category.pk
    pages = {
        "dashboard": [
            "/leaders/",
            f"/leaders/?to={month}",
            f"/leaders/?from={quarter}&to={month}",
            f"/leaders/?from={year}&to={month}",
            f"/leaders/?district={d}&to={month}",
            f"/leaders/?category={c}&to={month}",
            f"/leaders/?district={d}&category={c}&to={month}",
            f"/leaders/?district={d}&from={year}&to={month}",
            *(
                f"/leaders/?rate={rate}&to={month}"
                for rate in ("response", "resolution", "overdue", "returned")
            ),
            f"/leaders/?district={d}&rate=overdue&to={month}",
            f"/leaders/?alarms=1&to={month}",  # the open sensor alarms over the map
            f"/leaders/?district={d}&alarms=1&to={month}",
        ],
        "ranking": [
            *(
                f"/leaders/rankings/{kind}/?month={month}"
                for kind in ("district", "street", "community", "department")
            ),
            f"/leaders/rankings/street/?month={month}&district={d}",
            f"/leaders/rankings/community/?month={month}&district={d}",
            f"/leaders/rankings/department/?month={month}&district={d}",
            f"/leaders/rankings/street/?month={month}&category={c}",
            f"/leaders/rankings/department/?month={month}&category={c}",
            f"/leaders/rankings/street/?month={month}&district={d}&category={c}",
        ],
        "other": [
            f"/leaders/report/?month={month}",
            f"/leaders/units/street/{street.pk}/",
            f"/leaders/units/department/{department.pk}/",
        ],
    }
    results, slowest = {}, (0.0, "")
    for name, urls in pages.items():
        every = []
        for url in urls:
            times = timed(client, url, args.runs)
            every += times
            median = statistics.median(times)
            slowest = max(slowest, (median, url))
            print(f"{url}: median {median:.1f} ms, min {min(times):.1f}, max {max(times):.1f}")
        results[name] = statistics.median(every)
    print(f"slowest variant: {slowest[1]} ({slowest[0]:.1f} ms)")
    print(
        f"RESULT dashboard_ms={results['dashboard']:.1f} ranking_ms={results['ranking']:.1f} "
        f"dashboard_max_ms={slowest[0]:.1f} requests={requests}"
    )


if __name__ == "__main__":
    main()
