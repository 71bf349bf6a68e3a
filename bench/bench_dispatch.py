"""Dispatch in seconds: a dispatcher clears 20 typical requests from the queue in a real browser, twice.

Builds a fresh demo city (Beijing) in a temporary data dir, files 40 more typical citizen calls (the
demo's own sample texts and categories, at points inside its streets), serves it with ``cityloop
serve``, and drives Debian's Chromium with Playwright as ``dispatcher_li`` along two paths, 20
requests each, from the dispatch queue oldest first:

- without JavaScript: click "Accept suggestion" on the first suggestion (one click);
- with JavaScript, as a dispatcher at the keyboard: the queue has the first suggestion in hand; ``A``
  accepts it (one keystroke, no click). Every fourth request the dispatcher sends elsewhere instead:
  ``O`` opens it, a click in the lead unit's type-to-find box, "水务" typed (the select picks 市水务局),
  a click on "Dispatch to the chosen units", and the queue comes back.

Each dispatch is timed from the queue page being shown to the queue page coming back with the
request gone; its clicks and keystrokes are counted (each typed character is a keystroke; with a
Chinese input method "水务" is "shuiwu" and a choice, so the figure is a lower bound). Afterwards the
database is asked where each request went: its lead order must be at the unit the dispatcher chose
(the suggested unit shown on the queue, or the one the type-to-find box picked). The goal (issue 17):
at most 3 clicks and 10 s per request.

    python bench/bench_dispatch.py [--requests 20]

Prints one RESULT line per path: ``path=keyboard dispatched=20 verified=20 clicks_max=2 …``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


# Where each request went, as the database says: its status and its lead order's unit.
WHERE_THEY_WENT = """
import django, json, sys
django.setup()
from cityloop.hotline.models import Order
numbers = json.loads(sys.argv[1])
leads = Order.objects.filter(request__tracking_no__in=numbers, lead=True).select_related(
    "request", "street", "department"
)
print(json.dumps({o.request.tracking_no: [o.request.status, (o.street or o.department).name] for o in leads}))
"""

OTHER_UNIT_QUERY, OTHER_UNIT = "水务", "市水务局"  # typed in the lead unit's box; what it should pick


@dataclass
class Dispatch:
    tracking_no: str
    unit: str  # the lead unit the dispatcher chose
    seconds: float
    clicks: int
    keystrokes: int
    how: str


def _login(page, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "dispatcher_li")
    page.fill("#id_password", "cityloop-demo")
    page.press("#id_password", "Enter")
    page.wait_for_load_state()


def _first_suggestion(page) -> tuple[object, str, str]:
    """The row in hand: the first one with a suggestion (the one the shortcut accepts)."""
    button = page.locator("button[data-shortcut]")
    if button.count() == 0:
        sys.exit("the queue offers no suggestion to accept")
    row = button.locator("xpath=ancestor::tr")
    suggested = row.locator("td").nth(6).inner_text().split(",")[0].strip()
    return row, row.get_attribute("data-request") or "", suggested


def _gone(page, number: str) -> None:
    page.wait_for_load_state()
    if page.locator(f'tr[data-request="{number}"]').count():
        sys.exit(f"{number} is still in the queue after dispatching it")


def without_javascript(browser, url: str, n: int) -> list[Dispatch]:
    """Click "Accept suggestion" on the first suggestion, n times."""
    page = browser.new_context(locale="zh-CN", java_script_enabled=False).new_page()
    _login(page, url)
    page.goto(f"{url}/hotline/dispatch/?order=oldest")
    done = []
    for _ in range(n):
        _row, number, suggested = _first_suggestion(page)
        started = time.perf_counter()
        page.locator("button[data-shortcut]").click()
        _gone(page, number)
        done.append(Dispatch(number, suggested, time.perf_counter() - started, 1, 0, "click accept"))
    page.context.close()
    return done


def with_javascript(browser, url: str, n: int) -> list[Dispatch]:
    """At the keyboard: A accepts the request in hand; every fourth one is sent to another unit
    found with the type-to-find box."""
    page = browser.new_context(locale="zh-CN").new_page()
    _login(page, url)
    page.goto(f"{url}/hotline/dispatch/?order=oldest")
    done = []
    for i in range(n):
        page.wait_for_selector("tr.current")  # queue.js is running: the keyboard is live
        _row, number, suggested = _first_suggestion(page)
        if page.locator("tr.current").get_attribute("data-request") != number:
            sys.exit(f"the request in hand is not {number}, the first suggestion")
        started = time.perf_counter()
        if i % 4 == 3:
            with page.expect_navigation():
                page.keyboard.press("o")  # open it
            box = page.locator('input[data-typeahead-for="lead"]')
            box.click()
            page.keyboard.type(OTHER_UNIT_QUERY)
            chosen = page.eval_on_selector(
                "select[name=lead]", "s => s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : ''"
            )
            with page.expect_navigation():
                page.get_by_role("button", name="派往所选单位").click()
            _gone(page, number)
            if chosen != OTHER_UNIT:
                sys.exit(f"typing {OTHER_UNIT_QUERY} picked {chosen!r}, not {OTHER_UNIT}")
            how, unit, clicks, keys = "typeahead", chosen, 2, 1 + len(OTHER_UNIT_QUERY)
        else:
            with page.expect_navigation():
                page.keyboard.press("a")  # accept the suggestion in hand
            _gone(page, number)
            how, unit, clicks, keys = "key A", suggested, 0, 1
        done.append(Dispatch(number, unit, time.perf_counter() - started, clicks, keys, how))
    page.context.close()
    return done


def verify(env: dict, done: list[Dispatch]) -> int:
    """How many went to the unit the dispatcher chose, by the database; names the ones that did not."""
    found = json.loads(
        run(env, sys.executable, "-c", WHERE_THEY_WENT, json.dumps([d.tracking_no for d in done]))
    )
    right = 0
    for d in done:
        status, unit = found.get(d.tracking_no, ["(no order)", ""])
        if status == "dispatched" and unit == d.unit:
            right += 1
        else:
            print(f"  {d.tracking_no}: chose {d.unit!r} ({d.how}), the database has {status} at {unit!r}")
    return right


def report(path: str, done: list[Dispatch], verified: int) -> bool:
    seconds = [d.seconds for d in done]
    clicks = [d.clicks for d in done]
    keys = [d.keystrokes for d in done]
    hows = ", ".join(f"{sum(d.how == h for d in done)} by {h}" for h in dict.fromkeys(d.how for d in done))
    print(
        f"{path}: {len(done)} requests dispatched ({hows}), {verified} verified in the database; "
        f"seconds per request mean {statistics.mean(seconds):.2f}, max {max(seconds):.2f}; "
        f"clicks per request mean {statistics.mean(clicks):.2f}, max {max(clicks)}; "
        f"keystrokes per request mean {statistics.mean(keys):.2f}, max {max(keys)}"
    )
    print(
        f"RESULT path={path} dispatched={len(done)} verified={verified} "
        f"mean_s={statistics.mean(seconds):.3f} max_s={max(seconds):.3f} "
        f"clicks_mean={statistics.mean(clicks):.2f} clicks_max={max(clicks)} "
        f"keys_mean={statistics.mean(keys):.2f} keys_max={max(keys)}"
    )
    return verified == len(done) and max(clicks) <= GOAL_CLICKS and max(seconds) <= GOAL_SECONDS


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20)
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
        filed = run(env, sys.executable, "-c", FILE_CALLS, str(2 * args.requests))
        ready = time.perf_counter() - started
        print(f"demo city and {2 * args.requests} more calls ready in {ready:.1f} s ({filed.strip()[:60]}…)")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "cityloop"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(url, server)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"]
            )
            plain = without_javascript(browser, url, args.requests)
            keyboard = with_javascript(browser, url, args.requests)
            browser.close()
        checked = {"no-javascript": verify(env, plain), "keyboard": verify(env, keyboard)}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    print(
        f"goal: ≤ {GOAL_CLICKS} clicks and ≤ {GOAL_SECONDS:.0f} s per request; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    met = [
        report("no-javascript", plain, checked["no-javascript"]),
        report("keyboard", keyboard, checked["keyboard"]),
    ]
    return 0 if all(met) else 1


if __name__ == "__main__":
    raise SystemExit(main())
