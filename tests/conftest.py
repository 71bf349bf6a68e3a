"""Shared fixtures: the tiny test city and the fixed personas.

The tiny pack (tests/fixtures/tiny_pack) is city ``TC`` (测试市, Testcity) on lon 116.0–116.4,
lat 39.8–40.0:

* districts ``D1`` 西城区 (west square, lon 116.0–116.2) and ``D2`` 东城区 (east square);
* streets, 0.1° squares: ``D1S1`` 金融街街道 (NW of D1), ``D1S2`` 白塔街道 (SE of D1),
  ``D2S1`` 朝阳门街道 (NW of D2), ``D2S2`` 和平里街道 (SE of D2) — the rest of each district
  lies in no street;
* communities in D1S1: ``D1S1C1`` 丰盛社区 (west half), ``D1S1C2`` 太平桥社区 (east half);
* departments ``WATER`` 市水务局 and ``CITYMGMT`` 市城市管理委员会 (city), ``D1HOUSING`` (district D1);
* categories 01 城市管理 › 01.01 市容环境 › 01.01.01 乱堆乱放 / 01.01.02 占道经营 and
  02 水务 › 02.01 供水 › 02.01.01 停水 / 02.01.02 水压低; responsibilities: 01 → CITYMGMT via the
  street, 01.01.02 → CITYMGMT direct, 02 → WATER direct;
* gazetteer: 金融街购物中心 / Finance Street Mall (D1S1C1), 白塔寺 (D1S2), 100032 (D1S1).

``tiny_places`` gives a point inside each of those areas. Personas are created with
``PERSONA_PASSWORD`` (also the ``persona_password`` fixture) so ``Client.login`` works.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.hashers import Argon2PasswordHasher

from cityloop.core.actors import SYSTEM

TINY_PACK = Path(__file__).resolve().parent / "fixtures" / "tiny_pack"
PERSONA_PASSWORD = "cityloop-test-persona"

# A point well inside each area (never on a border, where the locator's tie-break decides).
TINY_PLACES = {
    "D1S1C1": (116.02, 39.95),
    "D1S1C2": (116.08, 39.95),
    "D1S2": (116.15, 39.85),
    "D2S1": (116.25, 39.95),
    "D2S2": (116.35, 39.85),
    "D1_outside_streets": (116.15, 39.95),
    "D2_outside_streets": (116.35, 39.95),
    "outside_city": (116.6, 39.9),
}


# No test may depend on the day it runs: every test starts at this instant and the clock ticks on from
# there. A Wednesday in the middle of a month, a working day on the Chinese calendar. CI runs the
# date-sensitive modules again at a month end, a year end, a leap day and a Monday just after midnight
# by setting CITYLOOP_TEST_NOW (see .ci/run); the real system clock never matters.
# Brokers are shared by every test run on the machine: each run (each xdist worker) has its own MQTT topic
# prefix, and the workers it starts inherit it, so no run sees another's readings.
os.environ.setdefault("CITYLOOP_MQTT_PREFIX", f"test-{uuid.uuid4().hex[:12]}/cityloop")
PINNED_NOW = datetime.fromisoformat(os.environ.get("CITYLOOP_TEST_NOW") or "2026-11-18T10:00:00+08:00")
if PINNED_NOW.tzinfo is None:
    raise SystemExit(f"CITYLOOP_TEST_NOW={PINNED_NOW.isoformat()} needs a UTC offset, e.g. +08:00")
_session_clock = time_machine.travel(PINNED_NOW, tick=True)


def pytest_configure(config):
    # Session-scoped fixtures (a shared demo database, module constants built at import) see the pinned
    # clock too, not only the tests.
    _session_clock.start()


def pytest_unconfigure(config):
    _session_clock.stop()


@pytest.fixture(autouse=True)
def _pinned_clock():
    """Each test starts at exactly PINNED_NOW, however long the tests before it took."""
    with time_machine.travel(PINNED_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def pinned_now() -> datetime:
    return PINNED_NOW


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Still argon2 (hashes start with ``argon2``), with test-sized cost: each persona costs ms, not 0.2 s."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language: a request through the test client activates the
    client's language in this thread and Django never deactivates it, so an English page in one test
    made the next test store English names (its timeline, its messages) where it expected Chinese."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.QuickArgon2PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture(autouse=True)
def _forget_cached_cities():
    """Locators are cached per city pk, and rolled-back tests may reuse a pk for a different city."""
    from cityloop.hotline.performance import leaders
    from cityloop.org import queries

    queries.forget_cached_cities()
    leaders.forget_cached_paths()
    yield
    queries.forget_cached_cities()
    leaders.forget_cached_paths()


@pytest.fixture(autouse=True)
def _forget_suggestion_indexes():
    """The text-match suggestion's indexes are per process and looked at again only every second; a
    rolled-back test's requests and categories must not suggest anything in the next."""
    from cityloop.hotline.intake import suggest

    suggest.forget_indexes()
    from cityloop.hotline import queries

    queries.forget_limits()  # whether time-limit overrides exist: per process, looked at every 5 s
    yield


@pytest.fixture(autouse=True)
def _own_key_folder(tmp_path_factory, monkeypatch):
    """Each test has its own key folder: audit checkpoints of a rolled-back test must not follow the next."""
    monkeypatch.setenv("CITYLOOP_KEY_DIR", str(tmp_path_factory.mktemp("keys")))


@pytest.fixture
def tiny_pack() -> Path:
    return TINY_PACK


@pytest.fixture
def tiny_places() -> dict[str, tuple[float, float]]:
    return dict(TINY_PLACES)


@pytest.fixture
def persona_password() -> str:
    return PERSONA_PASSWORD


@pytest.fixture
def city(db, tiny_pack):
    """The tiny pack imported (city ``TC``); returns the city's Jurisdiction."""
    from cityloop.org.actions import import_pack
    from cityloop.org.packs import load_pack

    return import_pack(load_pack(tiny_pack), actor=SYSTEM)


@pytest.fixture
def broken_pack(tmp_path) -> Callable[..., Path]:
    """A factory: a fresh copy of the tiny pack with one file rewritten (or removed).

    ``broken_pack("departments.csv", edit=lambda text: text + "WATER,重复,Dup,city,\\n")``,
    ``broken_pack("pack.yaml", text="code: x\\n")`` or ``broken_pack("pack.yaml", delete=True)``.
    """
    copies = iter(range(1, 1000))

    def make(
        filename: str,
        text: str | None = None,
        *,
        edit: Callable[[str], str] | None = None,
        delete: bool = False,
    ) -> Path:
        folder = tmp_path / f"pack{next(copies)}"
        shutil.copytree(TINY_PACK, folder)
        target = folder / filename
        if delete:
            target.unlink()
        elif edit is not None:
            new_text = edit(target.read_text(encoding="utf-8"))
            assert new_text != target.read_text(encoding="utf-8"), f"the edit did not change {filename}"
            target.write_text(new_text, encoding="utf-8")
        elif text is not None:
            target.write_text(text, encoding="utf-8")
        return folder

    return make


def _add(username: str, role: str, full_name: str, **scope):
    from cityloop.core.actions import add_user

    return add_user(
        username=username,
        password=PERSONA_PASSWORD,
        role=role,
        full_name=full_name,
        actor=SYSTEM,
        check_password=False,
        **scope,
    )


@pytest.fixture
def citizen_wang(db):
    return _add("citizen_wang", "citizen", "王小明")


@pytest.fixture
def outsider_zhou(db):
    """A second citizen, who must never see citizen_wang's things."""
    return _add("outsider_zhou", "citizen", "周路人")


@pytest.fixture
def dispatcher_li(db):
    return _add("dispatcher_li", "dispatcher", "李调度")


@pytest.fixture
def street_chen(city):
    """Street official of D1S1 金融街街道."""
    from cityloop.org.models import Jurisdiction

    return _add("street_chen", "street", "陈街道", street=Jurisdiction.objects.get(city=city, code="D1S1"))


@pytest.fixture
def dept_water_zhao(city):
    """Staff of WATER 市水务局."""
    from cityloop.org.models import Department

    return _add(
        "dept_water_zhao", "department", "赵水务", department=Department.objects.get(city=city, code="WATER")
    )


@pytest.fixture
def leader_sun(db):
    return _add("leader_sun", "leader", "孙领导")


@pytest.fixture
def admin_zhang(db):
    return _add("admin_zhang", "admin", "张管理")


@pytest.fixture
def auditor_qian(db):
    return _add("auditor_qian", "auditor", "钱审计")


@pytest.fixture(autouse=True)
def _forget_cached_tokens():
    """Token lookups are cached per process for a few seconds; tests change tokens between calls."""
    from cityloop.core import tokens

    tokens.forget_cached()
    yield
    tokens.forget_cached()
