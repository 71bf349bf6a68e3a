"""Playwright driving Debian's chromium against pytest-django's live server.

Every browser test gets a fresh page; ``login(page, username)`` signs in through the real form.
``demo_database(pack)`` gives a test the demo city, built once per session and copied back per test.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PINNED_NOW

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


# The demo city, built once per session (per xdist worker) and copied back for each test.
#
# `demo.load` takes seconds (the NYC pack, 4,000 requests of history, 2,000 devices and their readings);
# copying its rows back takes a fraction of that. A live-server test is transactional: pytest-django
# empties every table after it, so each test gets the whole copy back and may write what it likes.
# Besides rows the loaders write files, and those are copied back too: the brain's archive and state
# (the brain directory, one per test here) and the seal's private key (the test's own key folder).


@dataclass
class _DemoCopy:
    files: Path  # keys/ and brain/ as the loaders left them
    built_until: float  # seconds after PINNED_NOW when the loaders finished
    sqlite: sqlite3.Connection | None = None  # the whole database (SQLite's backup API)
    tables: list[tuple[str, bytes]] = field(default_factory=list)  # PostgreSQL: (table, COPY's text)
    sequences: list[str] = field(default_factory=list)  # PostgreSQL: setval past the copied ids


def _tables(connection) -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _take(connection, files: Path) -> _DemoCopy:
    copy = _DemoCopy(files=files, built_until=time.time() - PINNED_NOW.timestamp())
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        copy.sqlite = sqlite3.connect(":memory:", check_same_thread=False)
        connection.connection.backup(copy.sqlite)
        return copy
    from django.apps import apps
    from django.core.management.color import no_style

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in _tables(connection):
            with cursor.cursor.copy(f"COPY {quote(table)} TO STDOUT") as out:
                rows = b"".join(bytes(block) for block in out)
            if rows:
                copy.tables.append((table, rows))
    filled = {table for table, _ in copy.tables}
    models = [m for m in apps.get_models(include_auto_created=True) if m._meta.db_table in filled]
    copy.sequences = connection.ops.sequence_reset_sql(no_style(), models)
    return copy


def _restore(connection, copy: _DemoCopy) -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction

    if copy.sqlite is not None:
        connection.ensure_connection()
        copy.sqlite.backup(connection.connection)
    else:
        quote = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            # what the flush after the last test left: the content types and permissions post_migrate made
            tables = _tables(connection)
            cursor.execute(
                " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {quote(t)})" for t in tables)
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f"DELETE FROM {quote(table)}")
            for table, rows in copy.tables:
                with cursor.cursor.copy(f"COPY {quote(table)} FROM STDIN") as into:
                    into.write(rows)
            for statement in copy.sequences:
                cursor.execute(statement)
    ContentType.objects.clear_cache()  # the content types' ids are the copy's, not the flush's


@pytest.fixture(scope="session")
def _demo_copies() -> dict:
    return {}


@pytest.fixture
def demo_database(
    _demo_copies,
    transactional_db,
    settings,
    tmp_path,
    tmp_path_factory,
    monkeypatch,
    _own_key_folder,
    _pinned_clock,
):
    """``demo_database(pack, extensions=None)``: this test's database holds the demo city, as if it had
    just run ``demo.load(pack)`` (with only ``extensions`` for the pillars' loaders when given)."""
    from django.db import connection
    from django.utils import translation

    from cityloop.brain import engine
    from cityloop.core import config
    from cityloop.org import demo

    brain = tmp_path / "brain"
    settings.CITYLOOP_BRAIN_DIR = str(brain)
    engine.forget_engines()

    def load(pack: str, extensions: list | None = None) -> None:
        key = (
            pack,
            None if extensions is None else tuple(f"{e.__module__}.{e.__qualname__}" for e in extensions),
        )
        copy = _demo_copies.get(key)
        if copy is None:
            if extensions is not None:
                monkeypatch.setattr(demo, "DEMO_EXTENSIONS", list(extensions))
            # in the site's language, as `cityloop demo` loads it: a test before this one may have left
            # English active in this thread, and the loaders write texts in the active language
            with translation.override(settings.LANGUAGE_CODE):
                demo.load(pack)
            files = tmp_path_factory.mktemp(f"demo-{pack}")
            shutil.copytree(config.key_dir(), files / "keys")
            if brain.exists():
                shutil.copytree(brain, files / "brain")
            _demo_copies[key] = _take(connection, files)
            return
        _restore(connection, copy)
        shutil.copytree(copy.files / "keys", config.key_dir(), dirs_exist_ok=True)
        if (copy.files / "brain").exists():
            shutil.copytree(copy.files / "brain", brain)
        # the test goes on from where the loaders left the clock, as it did when it ran them itself
        if time.time() < PINNED_NOW.timestamp() + copy.built_until:
            _pinned_clock.move_to(PINNED_NOW.timestamp() + copy.built_until)

    yield load
    engine.forget_engines()
