"""Playwright driving Debian's chromium against pytest-django's live server.

Every browser test gets a fresh page; ``login(page, username)`` signs in through the real form.
"""

from __future__ import annotations

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are
# still synchronous, so the async-safety guard would only raise false alarms here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CITYLOOP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _cookies_without_dates(settings):
    """The server runs on the tests' pinned clock, Chromium on the real one: a cookie that expires two
    weeks after the pinned day would already be stale in the browser. Session cookies carry no date."""
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    settings.CSRF_COOKIE_AGE = None
    settings.LANGUAGE_COOKIE_AGE = None


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}; `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


def _clicks_wait_for_the_load() -> None:
    """Playwright's click returns once a navigation it starts is committed, not loaded, so a count()
    right after it reads a half-parsed page. Every click here waits for the load, as a person would."""
    from playwright.sync_api import Locator, Page

    if getattr(Page.click, "waits_for_load", False):
        return
    page_click, locator_click = Page.click, Locator.click

    def page_click_and_load(self, *args, **kwargs):
        page_click(self, *args, **kwargs)
        self.wait_for_load_state()

    def locator_click_and_load(self, *args, **kwargs):
        locator_click(self, *args, **kwargs)
        self.page.wait_for_load_state()

    page_click_and_load.waits_for_load = True
    Page.click, Locator.click = page_click_and_load, locator_click_and_load


def _new_page(context):
    _clicks_wait_for_the_load()
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def page(chromium, live_server, transactional_db):
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN", java_script_enabled=False)
    yield _new_page(context)
    context.close()


@pytest.fixture
def js_page(chromium, live_server, transactional_db):
    """A page with JavaScript on, for the few enhancements that use it."""
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
    yield _new_page(context)
    context.close()


def login(page, username: str, password: str = "cityloop-demo") -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")


def switch_language(page, code: str) -> None:
    page.select_option("#lang-select", code)
    page.click("form.lang button[type=submit]")
