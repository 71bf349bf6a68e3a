"""Replaying real 311 exports into a fresh database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import replay
from cityloop.hotline.models import Order, Request, Status
from cityloop.hotline.performance import stats
from cityloop.org.models import Category, Department, Jurisdiction

SAMPLES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "replay"
pytestmark = pytest.mark.django_db


def test_la_history_loads_on_a_fresh_database_creating_agencies_and_types():
    report = replay.replay(SAMPLES / "la311_sample.csv", actor=SYSTEM)
    city = Jurisdiction.objects.get(level="city", code="LA")
    assert report.loaded == 40 and not report.errors
    assert Request.objects.filter(city=city).count() == 40
    assert Department.objects.filter(city=city, code="BOS").exists()
    assert Category.objects.filter(city=city, name="Bulky Items").exists()
    first = Request.objects.get(tracking_no="LA-1-870704814")
    assert first.status == Status.CLOSED and first.lon == pytest.approx(-118.294017712)
    assert first.street is None  # no polygons known: the point is kept as it is
    assert Order.objects.filter(request=first, department__code="BOS").count() == 1


def test_replaying_the_same_file_again_adds_nothing():
    replay.replay(SAMPLES / "la311_sample.csv", actor=SYSTEM)
    again = replay.replay(SAMPLES / "la311_sample.csv", actor=SYSTEM)
    assert again.loaded == 0 and again.skipped_existing == 40


def test_a_malformed_row_is_rejected_with_its_line_number_and_the_good_rows_are_kept(tmp_path):
    broken = tmp_path / "broken.csv"
    lines = (SAMPLES / "la311_sample.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("01/01/2018", "2018-13-45", 1)
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = replay.replay(broken, actor=SYSTEM)
    assert report.loaded == 39
    assert report.errors == [(4, "date '2018-13-45 12:08:27 AM' is not in the expected format")]


def test_nyc_history_is_located_with_the_nyc_pack_when_it_is_loaded():
    from cityloop.org.actions import import_pack
    from cityloop.org.packs import load_pack

    import_pack(load_pack("nyc"), actor=SYSTEM)
    report = replay.replay(SAMPLES / "nyc311_sample.csv", city_code="NYC", actor=SYSTEM)
    assert report.loaded + len(report.errors) == 40
    assert report.located > 0
    located = Request.objects.filter(street__isnull=False).first()
    assert located.street.level == "street" and located.district == located.street.parent


def test_an_unknown_file_format_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a known 311 export"):
        replay.replay(other, actor=SYSTEM)


def test_the_replay_command_recounts_the_rates_and_ranks_close_times(tmp_path, capsys):
    path = tmp_path / "la.csv"
    shutil.copy(SAMPLES / "la311_sample.csv", path)
    call_command("hotline", "replay", str(path))
    assert stats.months_with_data()
    call_command("hotline", "close-times", "--city", "LA", "--min-requests", "1")
    out = capsys.readouterr().out
    assert "| 1 |" in out and "median hours to close" in out
