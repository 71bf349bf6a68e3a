"""Dispatch in seconds: a dispatcher clears 20 typical requests from the queue in a real browser.

Builds a fresh demo city (Beijing) in a temporary data dir, files 20 more typical citizen calls (the
demo's own sample texts and categories, at points inside its streets), serves it with ``cityloop
serve``, and drives Debian's Chromium with Playwright as ``dispatcher_li``: open the dispatch queue,
accept the first suggestion, and again, 20 times. Each dispatch is timed from the queue page being
shown to the queue page coming back with the request gone, and its clicks are counted (a keyboard
shortcut counts as none). The goal (issue 17): at most 3 clicks and 10 s per request.

    python bench/bench_dispatch.py [--requests 20] [--keyboard]

Prints one RESULT line: ``dispatch_requests=20 clicks_per_request=1 p50_s=… p90_s=… max_s=…``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _serve import free_port, wait_until_up  # noqa: E402 - a sibling module of this script

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CITYLOOP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
GOAL_CLICKS, GOAL_SECONDS = 3, 10.0

# Files the extra calls with the demo loader's own sample texts, as the city's phone line would.
FILE_CALLS = """
import django, itertools, json, sys
django.setup()
import shapely
from cityloop.core import actors
from cityloop.hotline import actions
from cityloop.hotline.loaders.demo import SAMPLES
from cityloop.org import queries as org_queries

n = int(sys.argv[1])
city = org_queries.default_city()
streets = [s for s in org_queries.places(city, level="street").exclude(geometry="").order_by("code")[: n * 2]]
points = [shapely.from_geojson(s.geometry).representative_point() for s in streets]
filed = []
for i, ((text, code), point) in enumerate(zip(itertools.cycle(SAMPLES["zh"]), itertools.cycle(points))):
    if i == n:
        break
    phone = f"1381234{i:04d}"
    sub = actions.Submission(
        description=text, caller_phone=phone, lon=point.x, lat=point.y, category_code=code, kind="help"
    )
    request, _ = actions.submit_request(sub, city=city, channel="phone", actor=actors.DEMO)
    filed.append(request.tracking_no)
print(json.dumps(filed))
"""


def run(env: dict, *args: str) -> str:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def dispatch_all(url: str, n: int, *, keyboard: bool) -> list[tuple[float, int]]:
    """(seconds, clicks) per dispatched request, in the order the queue offered them."""
    from playwright.sync_api import sync_playwright

    timings: list[tuple[float, int]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
        )
        page = browser.new_context(locale="zh-CN", java_script_enabled=False).new_page()
        page.goto(f"{url}/login/")
        page.fill("#id_username", "dispatcher_li")
        page.fill("#id_password", "cityloop-demo")
        page.press("#id_password", "Enter")
        page.wait_for_load_state()
        page.goto(f"{url}/hotline/dispatch/?order=oldest")
        for _ in range(n):
            button = page.locator("button[data-shortcut]")
            if button.count() == 0:
                sys.exit("the queue offers no suggestion to accept")
            row = button.locator("xpath=ancestor::tr").get_attribute("data-request")
            started = time.perf_counter()
            if keyboard:
                button.focus()  # what Alt+Shift+A does in a desktop browser: activate the accesskey
                page.keyboard.press("Enter")
                clicks = 0
            else:
                button.click()
                clicks = 1
            page.wait_for_load_state()
            if page.locator(f'tr[data-request="{row}"]').count():
                sys.exit(f"{row} is still in the queue after accepting its suggestion")
            timings.append((time.perf_counter() - started, clicks))
        browser.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument(
        "--keyboard", action="store_true", help="accept with the keyboard shortcut instead of a click"
    )
    args = ap.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="cityloop-bench-dispatch-"))
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
        "CITYLOOP_CITY": "beijing",
    }
    env.pop("CITYLOOP_DATABASE_URL", None)
    env.pop("CITYLOOP_TESTING", None)
    server = None
    try:
        started = time.perf_counter()
        run(env, str(BIN / "cityloop"), "demo", "--city", "beijing", "--load-only")
        filed = run(env, sys.executable, "-c", FILE_CALLS, str(args.requests))
        ready = time.perf_counter() - started
        print(f"demo city and {args.requests} more calls ready in {ready:.1f} s ({filed.strip()[:60]}…)")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "cityloop"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(url, server)
        timings = dispatch_all(url, args.requests, keyboard=args.keyboard)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    seconds = sorted(t for t, _ in timings)
    clicks = [c for _, c in timings]
    p90 = seconds[max(0, int(round(0.9 * len(seconds))) - 1)]
    print(
        f"{len(timings)} requests dispatched from the queue; seconds per request p50 "
        f"{statistics.median(seconds):.2f}, p90 {p90:.2f}, max {seconds[-1]:.2f}; "
        f"clicks per request {max(clicks)} (goal ≤ {GOAL_CLICKS} clicks and ≤ {GOAL_SECONDS:.0f} s each; "
        f"load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"RESULT dispatch_requests={len(timings)} clicks_per_request={max(clicks)} "
        f"p50_s={statistics.median(seconds):.3f} p90_s={p90:.3f} max_s={seconds[-1]:.3f}"
    )
    return 0 if max(clicks) <= GOAL_CLICKS and seconds[-1] <= GOAL_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
