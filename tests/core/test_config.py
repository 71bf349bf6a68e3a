"""Configuration from CITYLOOP_* variables and the ``cityloop`` command, run as an operator would.

Most tests start ``python -m cityloop.cli.main`` in a fresh data directory (slow: a Django start
each), so they are few; the per-command ``--help`` checks run in-process.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from cityloop.cli.main import main as cityloop_main
from tests.clock import pinned_command, pinned_env

PRINT_SECRET_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def last_line(text: str) -> str:
    """``shell -c`` may first report the objects it imported automatically."""
    return text.strip().splitlines()[-1]


def cityloop(
    data_dir: Path, *args: str, timeout: float = 300, **variables: str
) -> subprocess.CompletedProcess:
    """Run ``cityloop ARGS`` with only the given CITYLOOP_* variables (and the data directory) set."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(CITYLOOP_DATA_DIR=str(data_dir), **variables)
    return subprocess.run(
        pinned_command("cityloop.cli.main", *args),
        env=pinned_env(env),
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "variable, value",
    [
        ("CITYLOOP_TIME_ZONE", "Mars/Olympus_Mons"),
        ("CITYLOOP_LANGUAGE", "fr"),
        ("CITYLOOP_DATABASE_URL", "mysql://cityloop@127.0.0.1/cityloop"),
        ("CITYLOOP_SECRET_KEY", "too-short"),
        ("CITYLOOP_SECRET_KEY_FILE", "/nonexistent/cityloop/secret"),
        ("CITYLOOP_DEBUG", "perhaps"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_the_variable(data_dir, variable, value):
    ran = cityloop(data_dir, "check", **{variable: value})

    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert variable in lines[0] and "Traceback" not in ran.stderr


def test_the_secret_key_can_come_from_a_file(data_dir, tmp_path):
    key_file = tmp_path / "secret"
    key_file.write_text("k" * 40 + "\n", encoding="utf-8")

    ran = cityloop(data_dir, "shell", "-c", PRINT_SECRET_KEY, CITYLOOP_SECRET_KEY_FILE=str(key_file))

    assert ran.returncode == 0, ran.stderr
    assert last_line(ran.stdout) == "k" * 40
    assert not (data_dir / "secret_key").exists()


def test_a_generated_secret_key_is_kept_private_in_the_data_dir_and_reused(data_dir):
    first = cityloop(data_dir, "shell", "-c", PRINT_SECRET_KEY)
    key_file = data_dir / "secret_key"

    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text(encoding="utf-8").strip() == last_line(first.stdout)
    assert len(last_line(first.stdout)) >= 50

    second = cityloop(data_dir, "shell", "-c", PRINT_SECRET_KEY)
    assert last_line(second.stdout) == last_line(first.stdout)


def test_the_default_database_is_sqlite_in_the_data_dir_in_wal_mode(data_dir):
    ran = cityloop(data_dir, "migrate")

    assert ran.returncode == 0, ran.stderr
    with sqlite3.connect(data_dir / "cityloop.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM core_audit_record").fetchone()[0] == 0


def test_cityloop_help_lists_the_commands(data_dir):
    ran = cityloop(data_dir, "--help")

    assert ran.returncode == 0
    for command in ("demo", "serve", "migrate", "city import", "user add", "token create", "audit verify"):
        assert command in ran.stdout


@pytest.mark.parametrize(
    "args, mentions",
    [
        (["demo"], "--load-only"),
        (["city", "import"], "--check"),
        (["user", "add"], "--role"),
        (["token", "create"], "--scope"),
        (["audit", "verify"], "usage"),
        (["serve"], "--workers"),
        (["migrate"], "--plan"),
    ],
)
def test_each_command_explains_itself_and_exits_0(capsys, args, mentions):
    with pytest.raises(SystemExit) as exited:
        cityloop_main([*args, "--help"])

    assert exited.value.code == 0
    assert mentions in capsys.readouterr().out


def _row_counts(database: Path) -> dict[str, int]:
    tables = [
        "org_jurisdiction",
        "org_department",
        "org_category",
        "org_responsibility",
        "org_place_name",
        "org_city_pack",
        "core_user",
        "core_audit_record",
    ]
    with sqlite3.connect(database) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}


def test_the_nyc_demo_loads_audits_cleanly_refuses_a_broken_pack_and_catches_tampering(data_dir, broken_pack):
    loaded = cityloop(data_dir, "demo", "--city", "nyc", "--load-only", timeout=600)

    assert loaded.returncode == 0, loaded.stderr
    for username in (
        "citizen_wang",
        "dispatcher_li",
        "street_chen",
        "dept_water_zhao",
        "leader_sun",
        "admin_zhang",
        "auditor_qian",
    ):
        assert username in loaded.stdout
    assert "cityloop-demo" in loaded.stdout

    verified = cityloop(data_dir, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout

    database = data_dir / "cityloop.sqlite3"
    before = _row_counts(database)
    assert (
        before["org_city_pack"] == 1 and before["core_user"] == 8
    )  # the seven personas and the Open311 demo app
    bad = broken_pack("responsibilities.csv", edit=lambda text: text.replace("02,WATER", "02,SEWER"))
    refused = cityloop(data_dir, "city", "import", str(bad))
    assert refused.returncode != 0
    assert "SEWER" in refused.stderr and "nothing was imported" in refused.stderr
    assert _row_counts(database) == before

    with sqlite3.connect(database) as db:
        db.execute("UPDATE core_audit_record SET actor_label = 'nobody' WHERE seq = 2")
    tampered = cityloop(data_dir, "audit", "verify")
    assert tampered.returncode == 1
    assert "seq=2" in tampered.stderr
