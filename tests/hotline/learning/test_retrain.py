"""Retraining: a candidate replaces the model in use only if it does better on the held-out rows."""

from __future__ import annotations

import csv

import pytest
from django.core.management import CommandError, call_command

from cityloop.core import schedule
from cityloop.core.actors import COMMAND
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.apps import RETRAIN_CRON
from cityloop.hotline.intake import classifier, retrain, suggest
from cityloop.hotline.models import ClassifierRun, LabelledExample
from cityloop.org.models import Category

PLACES = [
    "东城",
    "西城",
    "金融街",
    "北街",
    "南街",
    "花园路",
    "学院路",
    "中关村",
    "望京",
    "朝阳门",
    "和平里",
    "安贞",
]
WATER = [f"{p}{s}" for p in PLACES for s in ("停水了，一整天没有水", "水龙头没有自来水")]
CLUTTER = [f"{p}{s}" for p in PLACES for s in ("楼道乱堆乱放杂物", "路边堆满建筑垃圾")]


@pytest.fixture
def base_csv(db, tmp_path, settings):
    """The city's labelled history, labelled by top-level category name as the public data is."""
    path = tmp_path / "history.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["留言详情", "一级分类"])
        writer.writerows([(t, "水务") for t in WATER] + [(t, "城市管理") for t in CLUTTER])
    settings.HOTLINE = {
        **settings.HOTLINE,
        "classifier_model": str(tmp_path / "model" / "classifier.joblib"),
        "classifier_base_csv": str(path),
        "classifier_base_text_cols": "留言详情",
        "classifier_base_label_col": "一级分类",
    }
    return path


NEW_PLACES = ["万柳", "双榆树", "知春路", "五道口", "大钟寺", "牡丹园", "马甸", "六里桥"]


def _decisions(submit, dispatcher_li, city) -> int:
    """The dispatchers file 16 new requests under the right category; returns how many are kept."""
    water = Category.objects.get(city=city, code="02.01.01")
    clutter = Category.objects.get(city=city, code="01.01.01")
    for place in NEW_PLACES:
        for text, category in ((f"{place}小区停水了，没有自来水", water), (f"{place}楼道乱堆杂物", clutter)):
            request = submit(category="", description=text)
            actions.classify_request(request, category, actor=dispatcher_li)
    return LabelledExample.objects.count()


def _current(settings, texts, labels):
    return classifier.train(texts, labels).save(settings.HOTLINE["classifier_model"], key=suggest.model_key())


def test_a_better_candidate_is_promoted_and_suggest_picks_it_up(
    base_csv, settings, city, submit, dispatcher_li, monkeypatch
):
    # the model in use has the two kinds of problem the wrong way round
    _current(settings, WATER + CLUTTER, ["城市管理"] * len(WATER) + ["水务"] * len(CLUTTER))
    before = suggest.model_version()
    assert suggest.suggest(city, "安贞停水了，一整天没有水")[0].code == "01"
    examples = _decisions(submit, dispatcher_li, city)

    run = retrain.retrain(actor=COMMAND, trigger="command")

    assert run.promoted, run.reason
    assert (run.base_rows, run.examples) == (len(WATER) + len(CLUTTER), examples)
    # the model in use came from outside the loop: judged on the held-out decisions only
    assert 0 < run.heldout_rows < examples and run.train_rows > run.base_rows
    assert run.candidate_accuracy > run.current_accuracy
    assert run.current_version == before != run.candidate_version == suggest.model_version()
    assert not list(base_csv.parent.glob("model/*.candidate*"))  # nothing staged is left behind
    monkeypatch.setattr(suggest, "RECHECK_SECONDS", 0.0)
    assert suggest.suggest(city, "安贞停水了，一整天没有水")[0].code == "02"
    record = AuditRecord.objects.get(action="classifier.retrain")
    assert record.object_id == str(run.pk)


def test_a_candidate_no_better_than_the_model_in_use_is_refused(
    base_csv, settings, submit, dispatcher_li, city
):
    # the model in use already gets every new decision right: a candidate cannot beat 100 %
    path = _current(settings, WATER + CLUTTER, ["水务"] * len(WATER) + ["城市管理"] * len(CLUTTER))
    before = path.read_bytes()
    _decisions(submit, dispatcher_li, city)

    run = retrain.retrain(actor=COMMAND, trigger="command")

    assert not run.promoted
    assert run.current_accuracy == 1.0 and "not higher" in run.reason
    assert path.read_bytes() == before and run.candidate_version == ""
    assert ClassifierRun.objects.count() == 1


def test_a_model_trained_outside_the_loop_is_kept_until_decisions_can_judge_it(base_csv, settings):
    # `hotline train` learned every base row, the held-out ones too: they cannot judge it
    path = _current(settings, WATER + CLUTTER, ["城市管理"] * len(WATER) + ["水务"] * len(CLUTTER))
    before = path.read_bytes()
    run = retrain.retrain(actor=COMMAND, trigger="command")
    assert not run.promoted and "outside this loop" in run.reason and path.read_bytes() == before


def test_a_model_the_loop_promoted_is_judged_on_the_whole_held_out_slice(base_csv, settings):
    first = retrain.retrain(actor=COMMAND, trigger="command")
    assert first.promoted and first.current_accuracy is None
    second = retrain.retrain(actor=COMMAND, trigger="command")
    assert second.current_version == first.candidate_version
    assert second.heldout_rows == first.heldout_rows and second.current_accuracy is not None
    assert not second.promoted  # the same data makes the same model: not better


def test_the_rule_wants_higher_accuracy_and_macro_f1_at_most_one_point_lower():
    assert retrain.decide((0.80, 0.70), (0.79, 0.705))[0]
    assert not retrain.decide((0.80, 0.70), (0.79, 0.72))[0]
    assert not retrain.decide((0.79, 0.90), (0.79, 0.50))[0]
    assert retrain.decide((0.10, 0.10), None)[0]


def test_the_held_out_slice_is_stratified_and_stable():
    texts = WATER + CLUTTER
    labels = ["水务"] * len(WATER) + ["城市管理"] * len(CLUTTER)
    train, heldout = retrain.split(texts, labels)
    assert not set(train) & set(heldout) and len(train) + len(heldout) == len(texts)
    assert {labels[i] for i in heldout} == {"水务", "城市管理"}
    # more rows later: a row held out before is still held out
    _, again = retrain.split([*texts, "新来的一条停水"], [*labels, "水务"])
    assert set(heldout) <= set(again)


def test_a_decision_is_learned_under_the_label_the_base_data_uses(city):
    leaf = Category.objects.get(city=city, code="02.01.01")
    assert retrain.label_for(leaf, {"水务", "城市管理"}) == "水务"
    assert retrain.label_for(leaf, {"02.01.01", "01"}) == "02.01.01"
    assert retrain.label_for(leaf, {"Water"}) == "Water"
    assert retrain.label_for(leaf, {"其他"}) == "02.01.01"


def test_too_little_data_trains_nothing_and_says_so(db, settings, tmp_path):
    settings.HOTLINE = {**settings.HOTLINE, "classifier_model": str(tmp_path / "m.joblib")}
    run = retrain.retrain(actor=COMMAND, trigger="command")
    assert not run.promoted and "at least" in run.reason and not (tmp_path / "m.joblib").exists()
    assert LabelledExample.objects.count() == 0


def test_the_command_reports_the_run_and_refuses_a_missing_base_file(base_csv, settings, capsys):
    call_command("hotline", "retrain")
    out = capsys.readouterr().out
    assert "PROMOTED" in out and "held-out accuracy: candidate 1.0000, current -" in out
    with pytest.raises(CommandError, match="not found"):
        call_command(
            "hotline",
            "retrain",
            "--csv",
            str(base_csv.parent / "nope.csv"),
            "--text-cols",
            "a",
            "--label-col",
            "b",
        )


def test_the_weekly_retraining_is_a_scheduled_job():
    job = schedule.JOBS["hotline.retrain_classifier"]
    assert job.cron == RETRAIN_CRON == "0 3 * * 1"
