"""The request classifier: train/predict, save/load, CSV reading, cross-validation (no DB)."""

import csv
import io

import joblib
import pytest

from cityloop.hotline.intake import classifier
from cityloop.hotline.intake.classifier import ClassifierError, ModelFormatError

TOY = {
    "环境保护": [
        "小区附近工厂排放废气，空气污染严重",
        "河道污水直排，水体发黑发臭",
        "夜间工地噪音扰民，环境污染",
    ],
    "交通运输": ["公交车晚点严重，线路需要调整", "道路红绿灯损坏，交通拥堵", "出租车拒载乘客，司机态度差"],
    "教育文体": ["孩子入学难，学校学位不足", "学校乱收补课费，教育部门请管管", "幼儿园收费过高，入园困难"],
    "Noise": [
        "loud music from neighbor apartment at night",
        "loud party noise all night",
        "barking dog noise",
    ],
    "Heating": [
        "no heat in apartment building",
        "heat and hot water not working",
        "radiator cold, no heating",
    ],
}


def toy():
    texts = [t for ts in TOY.values() for t in ts]
    labels = [label for label, ts in TOY.items() for _ in ts]
    return texts, labels


@pytest.fixture(scope="module")
def model():
    return classifier.train(*toy(), seed=0)


def test_predicts_the_obvious_category_with_a_probability(model):
    got = model.predict(
        ["工厂废气污染空气", "学校学位不够，孩子入学难", "no heat in my apartment", "loud music"]
    )
    assert [s.label for s in got] == ["环境保护", "教育文体", "Heating", "Noise"]
    for s in got:
        assert 0.0 <= s.confidence <= 1.0
        assert len(s.alternatives) == 3
        assert s.alternatives[0] == (s.label, s.confidence)
        probs = [p for _, p in s.alternatives]
        assert probs == sorted(probs, reverse=True)
    assert sorted(model.labels) == sorted(TOY)
    proba = model.predict_proba(["公交车晚点"])
    assert proba.shape == (1, 5) and abs(proba.sum() - 1.0) < 1e-6


def test_empty_input_and_full_width_text(model):
    assert model.predict([]) == []
    assert model.predict(["ＮＯ ＨＥＡＴ in apartment"])[0].label == "Heating"  # NFKC folds full width


def test_single_example_classes_fall_back_to_logistic_regression():
    m = classifier.train(
        ["工厂废气", "no heat", "loud music", "公交晚点"], ["环保", "Heating", "Noise", "交通"]
    )
    assert "LogisticRegression" in m.meta["estimator"]
    assert m.predict(["工厂废气污染"])[0].label == "环保"


def test_training_needs_two_classes():
    with pytest.raises(ClassifierError, match="2 classes"):
        classifier.train(["a", "b"], ["x", "x"])


def test_save_load_roundtrip(model, tmp_path):
    path = model.save(tmp_path / "sub" / "m.joblib")
    loaded = classifier.load(path)
    assert loaded.labels == model.labels
    texts = ["河道污水", "heat not working", "幼儿园收费"]
    assert [(s.label, round(s.confidence, 9)) for s in loaded.predict(texts)] == [
        (s.label, round(s.confidence, 9)) for s in model.predict(texts)
    ]
    assert loaded.meta["n"] == 15 and loaded.meta["classes"] == 5


def test_load_refuses_other_format_version(model, tmp_path):
    path = tmp_path / "old.joblib"
    joblib.dump(
        {"format": classifier.FORMAT_NAME, "format_version": 999, "labels": model.labels, "pipeline": None},
        path,
    )
    with pytest.raises(ModelFormatError, match="format version 999"):
        classifier.load(path)


class _Boom:
    """Unpickling this runs code: what a planted model file would do."""

    def __reduce__(self):
        return (
            exec,
            ("import pathlib; pathlib.Path(__import__('os').environ['BOOM_FILE']).write_text('ran')",),
        )


def test_a_planted_model_file_is_refused_before_it_is_unpickled(model, tmp_path, monkeypatch):
    key = b"k" * 32
    path = model.save(tmp_path / "m.joblib", key=key)
    assert classifier.load(path, key=key).labels == model.labels
    boom = tmp_path / "boom"
    monkeypatch.setenv("BOOM_FILE", str(boom))
    joblib.dump(_Boom(), path)  # someone who can write the model folder swaps the file
    with pytest.raises(ModelFormatError, match="does not match its signature"):
        classifier.load(path, key=key)
    assert not boom.exists()
    classifier.signature_path(path).unlink()
    with pytest.raises(ModelFormatError, match="has no signature file"):
        classifier.load(path, key=key)
    assert not boom.exists()


def test_a_model_signed_with_another_key_is_refused(model, tmp_path):
    path = model.save(tmp_path / "m.joblib", key=b"a" * 32)
    with pytest.raises(ModelFormatError, match="does not match its signature"):
        classifier.load(path, key=b"b" * 32)


def test_load_refuses_foreign_files(tmp_path):
    (tmp_path / "x.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ModelFormatError, match="not a CityLoop classifier"):
        classifier.load(tmp_path / "x.joblib")
    joblib.dump({"something": "else"}, tmp_path / "y.joblib")
    with pytest.raises(ModelFormatError, match="not a CityLoop classifier"):
        classifier.load(tmp_path / "y.joblib")
    with pytest.raises(FileNotFoundError):
        classifier.load(tmp_path / "missing.joblib")


def write_csv(path, header, rows, *, bom=False):
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_read_csv_bom_join_and_skips(tmp_path):
    path = write_csv(
        tmp_path / "m.csv",
        ["留言主题", "留言详情", "一级分类"],
        [
            ["噪音", "工地夜间施工", "环境保护"],
            ["公交", "", "交通运输"],
            ["无分类", "内容", ""],
            ["", "", "教育文体"],
        ],
        bom=True,
    )
    data = classifier.read_csv(path, ["留言主题", "留言详情"], "一级分类")
    rows, texts, labels = data
    assert texts == ["噪音\n工地夜间施工", "公交"]
    assert labels == ["环境保护", "交通运输"]
    assert rows[0]["留言主题"] == "噪音" and list(rows[0]) == ["留言主题", "留言详情", "一级分类"]
    assert (data.skipped_no_label, data.skipped_no_text, data.skipped) == (1, 1, 2)
    # without a label column every row is kept
    rows, texts, labels = classifier.read_csv(path, ["留言主题"], None)
    assert len(rows) == 4 and labels is None and texts[3] == ""


def test_read_csv_missing_column_names_it_and_lists_the_available_ones(tmp_path):
    path = write_csv(tmp_path / "m.csv", ["descriptor", "agency"], [["Loud Music", "NYPD"]])
    with pytest.raises(ClassifierError) as err:
        classifier.read_csv(path, ["descriptr"], "agency")
    assert "'descriptr'" in str(err.value)
    assert "available columns: 'descriptor', 'agency'" in str(err.value)
    with pytest.raises(ClassifierError, match="'complaint_type'"):
        classifier.read_csv(path, ["descriptor"], "complaint_type")
    with pytest.raises(FileNotFoundError):
        classifier.read_csv(tmp_path / "nope.csv", ["descriptor"], None)


def test_read_csv_rejects_non_utf8(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("主题,分类\n噪音,环境\n".encode("gbk"))
    with pytest.raises(ClassifierError, match="not UTF-8"):
        classifier.read_csv(path, ["主题"], "分类")


def test_cross_validate_on_a_separable_toy_set():
    words = {"A": ["apple", "苹果"], "B": ["banana", "香蕉"], "C": ["cherry", "樱桃"]}
    texts, labels = [], []
    for label, (en, zh) in words.items():
        for i in range(8):
            texts.append(f"{en} {en} report {i}" if i % 2 else f"{zh}问题{i}")
            labels.append(label)
    texts.append("durian")  # a class too small for 5 folds: left out and counted
    labels.append("D")
    r = classifier.cross_validate(texts, labels, folds=4, seed=1)
    assert r["n"] == 24 and r["classes"] == 3 and r["folds"] == 4
    assert (r["dropped_classes"], r["dropped_rows"]) == (1, 1)
    assert r["accuracy"] >= 0.9 and 0.0 <= r["macro_f1"] <= 1.0 and r["macro_f1"] >= 0.9
    assert len(r["fold_accuracy"]) == 4
    assert classifier.cross_validate(texts, labels, folds=4, seed=1)["accuracy"] == r["accuracy"]


def test_cross_validate_needs_enough_examples():
    with pytest.raises(ClassifierError, match="at least 2 classes"):
        classifier.cross_validate(["a", "b", "c"], ["x", "y", "z"], folds=5)


# -- the management command (needs Django settings, not the database) ---------------------------


def test_command_train_predict_evaluate(tmp_path, settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    texts, labels = toy()
    train_csv = write_csv(
        tmp_path / "train.csv",
        ["id", "subject", "category"],
        [[i, t, y] for i, (t, y) in enumerate(zip(texts, labels, strict=True))],
        bom=True,
    )
    model_path = tmp_path / "m.joblib"
    out = io.StringIO()
    call_command(
        "hotline",
        "train",
        "--csv",
        str(train_csv),
        "--text-cols",
        "subject",
        "--label-col",
        "category",
        "--model",
        str(model_path),
        stdout=out,
    )
    assert "n=15" in out.getvalue() and "5 classes" in out.getvalue() and model_path.exists()

    new_csv = write_csv(
        tmp_path / "new.csv",
        ["id", "subject", "note"],
        [["a", "河道污水直排", "x"], ["b", "no heat in building", "y"], ["c", "", "z"]],
    )
    out = io.StringIO()
    call_command(
        "hotline",
        "predict",
        "--model",
        str(model_path),
        "--csv",
        str(new_csv),
        "--text-cols",
        "subject,note",
        stdout=out,
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == ["id", "subject", "note", "predicted", "confidence"]
    assert [r["predicted"] for r in rows[:2]] == ["环境保护", "Heating"]
    assert all(len(r["confidence"].split(".")[1]) == 4 for r in rows[:2])
    assert 0 <= float(rows[0]["confidence"]) <= 1
    assert [r["id"] for r in rows] == ["a", "b", "c"]

    out = io.StringIO()
    call_command(
        "hotline",
        "evaluate",
        "--csv",
        str(train_csv),
        "--text-cols",
        "subject",
        "--label-col",
        "category",
        "--folds",
        "3",
        stdout=out,
    )
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("RESULT accuracy=") and last.endswith("n=15 classes=5")

    with pytest.raises(CommandError, match="'subjct' not found.*available columns: 'id', 'subject'"):
        call_command(
            "hotline",
            "predict",
            "--model",
            str(model_path),
            "--csv",
            str(new_csv),
            "--text-cols",
            "subjct",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="not found"):
        call_command(
            "hotline",
            "predict",
            "--model",
            str(tmp_path / "none.joblib"),
            "--csv",
            str(new_csv),
            "--text-cols",
            "subject",
            stdout=io.StringIO(),
        )


def test_the_subject_line_is_weighted_and_a_single_line_is_read_as_it_is():
    assert classifier.prepare_text("噪音\n工地夜间施工") == "噪音 噪音 噪音 工地夜间施工"
    assert classifier.prepare_text("ＮＯ ＨＥＡＴ") == "no heat"
    assert classifier.prepare_text("\n只有详情") == "只有详情"


def test_the_subject_decides_when_the_details_are_ambiguous():
    # the details talk about two topics equally; the subject names the category
    texts = [
        "公交车晚点\n学校 公交 学位 线路",
        "道路拥堵\n学校 公交 学位 线路",
        "出租车拒载\n学校 公交 学位 线路",
        "学校学位不足\n学校 公交 学位 线路",
        "幼儿园收费\n学校 公交 学位 线路",
        "补课乱收费\n学校 公交 学位 线路",
    ]
    labels = ["交通运输"] * 3 + ["教育文体"] * 3
    m = classifier.train(texts, labels, seed=0, estimator="logreg")
    assert m.pipeline.named_steps["tfidf"].preprocessor is classifier.prepare_text
    assert "subject x3" in m.meta["estimator"]
    got = m.predict(
        ["公交车晚点 线路\n学校 公交 学位 线路 学校", "学校学位 幼儿园\n学校 公交 学位 线路 公交"]
    )
    assert [s.label for s in got] == ["交通运输", "教育文体"]


def test_the_bundled_taxonomy_adds_examples_only_for_its_own_classes():
    texts, labels = classifier.taxonomy_examples(["环境保护", "Heating"])
    assert texts and set(labels) == {"环境保护"}
    assert all(" " in t for t in texts)
    m = classifier.train(*toy(), seed=0)
    assert m.meta["taxonomy_examples"] == len(classifier.taxonomy_examples(list(TOY))[0]) > len(texts)
    assert m.meta["n"] == 15  # the CSV's rows, not the extra examples
    plain = classifier.train(*toy(), seed=0, taxonomy=False)
    assert plain.meta["taxonomy_examples"] == 0
    nyc = classifier.train(["loud music", "loud party", "no heat", "cold radiator"], ["N", "N", "H", "H"])
    assert nyc.meta["taxonomy_examples"] == 0


def test_a_taxonomy_name_alone_teaches_its_class():
    # the first 环境保护 third-level name (生态示范和模范城区创建) appears in no training text
    texts, labels = classifier.taxonomy_examples(["环境保护"])
    term = texts[0].split()[-1]
    assert all(term not in t for t in toy()[0])
    with_tax = classifier.train(*toy(), seed=0)
    assert with_tax.predict([term])[0].label == "环境保护"
