"""Screenshots of each role's main page, in Chinese, into docs/screenshots/ (`make screenshots`).

Builds the Beijing demo city in a fresh temporary data dir (``cityloop demo --load-only``), serves it
with ``cityloop serve`` and drives Debian's Chromium with Playwright: each demo persona logs in through
the real form and its home page is saved at 1366 px; the citizen's submit page (with its map) is also
saved at 390 px, as on a phone. Viewport-only PNGs, so the files stay small enough to commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CITYLOOP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "cityloop-demo"  # noqa: S105 - the documented demo login (org/demo.py)
DESK, PHONE = (1366, 768), (390, 844)

sys.path.insert(0, str(ROOT / "bench"))
from _serve import free_port, wait_until_up  # noqa: E402 - the benchmarks' server helpers

# (file name, demo persona or None for a visitor, page, viewport)
SHOTS = [
    ("public", None, "/", DESK),
    ("citizen", "citizen_wang", "/", DESK),
    ("citizen-submit-390", "citizen_wang", "/hotline/submit/", PHONE),
    ("dispatcher", "dispatcher_li", "/", DESK),
    ("street", "street_chen", "/", DESK),
    ("department", "dept_water_zhao", "/", DESK),
    ("leader", "leader_sun", "/", DESK),
    ("admin", "admin_zhang", "/", DESK),
    ("auditor", "auditor_qian", "/", DESK),
    ("window-clerk", "window_liu", "/", DESK),
    ("approver", "approver_market", "/", DESK),
]


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new", "--disable-gpu"]
        )
        for name, username, path, (width, height) in SHOTS:
            context = browser.new_context(
                base_url=url, locale="zh-CN", viewport={"width": width, "height": height}
            )
            page = context.new_page()
            if username:
                page.goto("/login/")
                page.fill("#id_username", username)
                page.fill("#id_password", PASSWORD)
                page.click("main button[type=submit]")
                page.wait_for_load_state()
                if page.url.endswith("/login/"):
                    sys.exit(f"{username} could not log in")
            page.goto(path)
            page.wait_for_load_state("networkidle")  # the submit page's map draws after fetching its shapes
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            saved.append(target)
            context.close()
        browser.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"chromium not found at {CHROMIUM}; `make chromium` installs Debian's package")
    args.out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="cityloop-screenshots-"))
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(data),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
        "CITYLOOP_CITY": "beijing",
        "CITYLOOP_LANGUAGE": "zh-hans",
    }
    for name in ("CITYLOOP_DATABASE_URL", "CITYLOOP_TESTING"):
        env.pop(name, None)
    server = None
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "cityloop"), "demo", "--city", "beijing", "--load-only"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"cityloop demo failed:\n{done.stdout}\n{done.stderr}")
        print(f"demo city ready in {time.perf_counter() - started:.0f} s")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "cityloop"), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_up(url, server, path="/login/")
        for path in shoot(url, args.out):
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"{shown}: {path.stat().st_size // 1024} KB")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
