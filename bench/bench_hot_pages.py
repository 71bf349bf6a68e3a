"""The hot-issue page (/leaders/hot-issues/) on the demo city, cold and cached.

    CITYLOOP_DATA_DIR=$(mktemp -d) cityloop demo --load-only
    CITYLOOP_DATA_DIR=<same> CITYLOOP_TESTING=1 python bench/bench_hot_pages.py

CITYLOOP_TESTING=1 serves static files without a collected manifest; the data directory is the demo's.
Times Django's test client as leader_sun, in one process (the engine's imports are paid first):
the default period (last 30 days) cold and cached, one issue's page, and a 365-day period cold and
cached. The last line is ``RESULT hot_page_cold_s=<s> hot_page_cached_s=<s> issue_page_s=<s>``.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from django.utils import timezone

    from cityloop.hotline.hotissues import live

    today = timezone.localdate()
    first = today - timedelta(days=live.RECENT_DAYS - 1)
    print(f"requests in the last {live.RECENT_DAYS} days: {live.requests_in(first, today).count()}")
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    cache.clear()
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username="leader_sun"))

    def timed(path: str) -> float:
        start = time.perf_counter()
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return time.perf_counter() - start

    cold = timed("/leaders/hot-issues/")
    cached = min(timed("/leaders/hot-issues/") for _ in range(3))
    issues = live.hot_issues(first, today)
    issue = min(timed(f"/leaders/hot-issues/{issues[0].key}/") for _ in range(3)) if issues else 0.0
    year = f"/leaders/hot-issues/?from={today - timedelta(days=364)}"
    year_cold, year_cached = timed(year), timed(year)
    print(f"{len(issues)} issues shown; the hottest: {issues[0].label if issues else '-'}")
    print(f"default period: cold {cold:.2f} s, cached {cached:.2f} s; one issue {issue:.2f} s")
    print(f"365 days: cold {year_cold:.2f} s, cached {year_cached:.2f} s")
    print(f"RESULT hot_page_cold_s={cold:.2f} hot_page_cached_s={cached:.2f} issue_page_s={issue:.2f}")


if __name__ == "__main__":
    main()
