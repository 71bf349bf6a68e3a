"""``cityloop hotline ACTION``: the classifier (train, predict, evaluate), hot issues, reply quality, replay.

Needs no database. To add an action, write an ``_args_x(parser)`` and a ``_do_x(cmd, options)``
function and add them to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import actors
from cityloop.core.doors.forms import format_errors

PREDICT_BATCH = 2000


def _text_cols(value: str) -> list[str]:
    cols = [c.strip() for c in value.split(",") if c.strip()]
    if not cols:
        raise CommandError("--text-cols needs at least one column name")
    return cols


def _csv_arguments(parser, *, label: bool) -> None:
    parser.add_argument("--csv", required=True, type=Path, help="UTF-8 CSV file with a header row")
    parser.add_argument(
        "--text-cols",
        required=True,
        help="column(s) holding the request text, comma-separated (joined with a newline)",
    )
    if label:
        parser.add_argument("--label-col", required=True, help="column holding the category")


def _read(options: dict[str, Any], *, label: bool):
    from cityloop.hotline.intake import classifier

    try:
        return classifier.read_csv(
            options["csv"],
            _text_cols(options["text_cols"]),
            options["label_col"] if label else None,
        )
    except (FileNotFoundError, classifier.ClassifierError) as exc:
        raise CommandError(str(exc)) from exc


def _skipped_note(data) -> str:
    return f"skipped {data.skipped_no_label} row(s) without a label, {data.skipped_no_text} without text"


# -- train ----------------------------------------------------------------------------------------


def _args_train(parser) -> None:
    _csv_arguments(parser, label=True)
    parser.add_argument("--model", required=True, type=Path, help="where to write the model file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--estimator", choices=["auto", "svc", "logreg"], default="auto")


def _do_train(cmd: BaseCommand, options: dict[str, Any]) -> None:
    from cityloop.hotline.intake import classifier

    data = _read(options, label=True)
    try:
        model = classifier.train(
            data.texts, data.labels, seed=options["seed"], estimator=options["estimator"]
        )
        from cityloop.hotline.intake.suggest import model_key

        path = model.save(options["model"], key=model_key())
    except classifier.ClassifierError as exc:
        raise CommandError(str(exc)) from exc
    meta = model.meta
    cmd.stdout.write(f"trained on n={meta['n']} rows, {meta['classes']} classes ({_skipped_note(data)})")
    cmd.stdout.write(f"model: {meta['estimator']}, {meta['features']} features, {meta['fit_seconds']:.1f} s")
    counts = ", ".join(f"{label} {n}" for label, n in meta["class_counts"].items())
    cmd.stdout.write(f"classes: {counts}")
    cmd.stdout.write(
        f"saved to {path} ({path.stat().st_size / 1024:.0f} KiB), signed in "
        f"{classifier.signature_path(path).name}"
    )


# -- predict --------------------------------------------------------------------------------------


def _args_predict(parser) -> None:
    parser.add_argument("--model", required=True, type=Path, help="a model written by `hotline train`")
    _csv_arguments(parser, label=False)


def _do_predict(cmd: BaseCommand, options: dict[str, Any]) -> None:
    from cityloop.hotline.intake import classifier
    from cityloop.hotline.intake.suggest import model_key

    try:
        model = classifier.load(options["model"], key=model_key())
    except (FileNotFoundError, classifier.ClassifierError) as exc:
        raise CommandError(str(exc)) from exc
    data = _read(options, label=False)
    extra = ["predicted", "confidence"]
    columns = [c for c in data.columns if c not in extra] + extra  # existing ones are replaced
    writer = csv.DictWriter(cmd.stdout, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for start in range(0, len(data.rows), PREDICT_BATCH):
        rows = data.rows[start : start + PREDICT_BATCH]
        texts = data.texts[start : start + PREDICT_BATCH]
        wanted = [i for i, t in enumerate(texts) if t]  # no text, no suggestion
        suggestions = dict(zip(wanted, model.predict([texts[i] for i in wanted]), strict=True))
        for i, row in enumerate(rows):
            s = suggestions.get(i)
            writer.writerow(
                {**row, "predicted": s.label if s else "", "confidence": f"{s.confidence:.4f}" if s else ""}
            )


# -- evaluate -------------------------------------------------------------------------------------


def _args_evaluate(parser) -> None:
    _csv_arguments(parser, label=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--estimator", choices=["auto", "svc", "logreg"], default="auto")


def _do_evaluate(cmd: BaseCommand, options: dict[str, Any]) -> None:
    from cityloop.hotline.intake import classifier

    data = _read(options, label=True)
    try:
        r = classifier.cross_validate(
            data.texts,
            data.labels,
            folds=options["folds"],
            seed=options["seed"],
            estimator=options["estimator"],
        )
    except classifier.ClassifierError as exc:
        raise CommandError(str(exc)) from exc
    cmd.stdout.write(f"{r['folds']}-fold stratified cross-validation, seed {r['seed']}: {r['estimator']}")
    cmd.stdout.write(
        f"n={r['n']} classes={r['classes']} ({_skipped_note(data)}; dropped {r['dropped_classes']} "
        f"class(es), {r['dropped_rows']} row(s), with fewer than {r['folds']} examples)"
    )
    cmd.stdout.write(f"fold accuracy: {' '.join(f'{a:.4f}' for a in r['fold_accuracy'])}")
    cmd.stdout.write(f"accuracy: {r['accuracy']:.4f}")
    cmd.stdout.write(f"macro-F1: {r['macro_f1']:.4f}")
    cmd.stdout.write(f"time: {r['seconds']:.1f} s")
    cmd.stdout.write(
        f"RESULT accuracy={r['accuracy']:.4f} macro_f1={r['macro_f1']:.4f} n={r['n']} classes={r['classes']}"
    )


# -- hot-issues (热点问题) -----------------------------------------------------------------------------


def _args_hot_issues(parser) -> None:
    _csv_arguments(parser, label=False)
    parser.add_argument("--time-col", required=True, help="column holding when the message was written")
    parser.add_argument("--id-col", help="column holding the message's id (default: its line number)")
    parser.add_argument("--user-col", help="column holding who wrote it (distinct callers count in the heat)")
    parser.add_argument("--likes-col", help="column holding its likes (点赞数)")
    parser.add_argument("--dislikes-col", help="column holding its dislikes (反对数)")
    parser.add_argument("--subject-col", help="column holding its subject (留言主题)")
    parser.add_argument("--top", type=int, default=10, help="how many issues to write (default 10)")
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for hot_issues.csv and hot_issue_messages.csv"
    )


def _do_hot_issues(cmd: BaseCommand, options: dict[str, Any]) -> None:
    import time

    from cityloop.hotline.hotissues import engine, tables

    if options["top"] < 1:
        raise CommandError("--top must be at least 1")
    started = time.perf_counter()
    columns = tables.Columns(
        text=_text_cols(options["text_cols"]),
        time=options["time_col"],
        id=options["id_col"],
        user=options["user_col"],
        likes=options["likes_col"],
        dislikes=options["dislikes_col"],
        subject=options["subject_col"],
    )
    try:
        read = tables.read_messages(options["csv"], columns)
    except tables.TableError as exc:
        raise CommandError(str(exc)) from exc
    for line, reason in read.bad:
        cmd.stderr.write(f"line {line}: {reason}")
    if not read.messages:
        raise CommandError(
            f"no usable rows in {options['csv']} ({len(read.bad)} bad, {read.empty} without text)"
        )
    run = engine.find_issues(read.messages, top=options["top"])
    issues_path, messages_path = tables.write_tables(run.issues, options["out"])
    cmd.stdout.write(
        f"read {len(read.messages)} message(s); {len(read.bad)} bad row(s) left out (listed above), "
        f"{read.empty} without text"
    )
    cmd.stdout.write(
        f"{run.messages_in_issues} message(s) in {run.issue_count} issue(s); "
        f"wrote the top {len(run.issues)} in {time.perf_counter() - started:.1f} s"
    )
    for rank, issue in enumerate(run.issues, 1):
        cmd.stdout.write(
            f"{rank:>3}  heat {issue.heat:6.2f}  {len(issue.messages):>3} msg  {issue.time_range}  "
            f"{issue.label}  {issue.description}"
        )
    cmd.stdout.write(f"wrote {issues_path} and {messages_path}")


# -- reply-quality --------------------------------------------------------------------------------


def _args_reply_quality(parser) -> None:
    parser.add_argument(
        "--csv",
        required=True,
        type=Path,
        help="UTF-8 CSV of message–reply pairs (留言编号, 留言主题, 留言时间, 留言详情, 答复意见, 答复时间)",
    )
    parser.add_argument("--out", required=True, type=Path, help="where to write one row of scores per pair")
    parser.add_argument(
        "--labels",
        type=Path,
        help="hand labels (留言编号, relevant, what, who, when, explained; docs/reply_quality.md): "
        "report the agreement",
    )


def _do_reply_quality(cmd: BaseCommand, options: dict[str, Any]) -> None:
    import time

    from cityloop.hotline.handling import reply_quality_eval as ev

    started = time.perf_counter()
    try:
        rows = ev.read_pairs(options["csv"])
        labels = ev.read_labels(options["labels"]) if options.get("labels") else None
    except ev.PairsError as exc:
        raise CommandError(str(exc)) from exc
    if not rows:
        raise CommandError(f"--csv: {options['csv']} has no rows")
    scored = ev.score_pairs(rows)
    try:
        ev.write_scores(scored, options["out"])
    except OSError as exc:
        raise CommandError(f"--out: {exc}") from exc
    n = len(scored)
    flagged = sum(s.quality.flagged for s in scored)
    late = sum(
        (s.quality.scores["timeliness"] is not None and s.quality.scores["timeliness"] < 1) for s in scored
    )
    cmd.stdout.write(
        f"scored {n} reply(ies) in {time.perf_counter() - started:.1f} s; wrote {options['out']}"
    )
    cmd.stdout.write(
        f"flagged {flagged} ({flagged / n:.1%}): off the subject, incomplete, or without rule or reason"
    )
    for dim in ("relevance", "completeness", "explanation", "timeliness"):
        values = [v for s in scored if (v := s.quality.scores[dim]) is not None]
        mean = sum(values) / len(values) if values else 0.0
        cmd.stdout.write(f"  {dim:<12} mean {mean:.2f} over {len(values)}")
    cmd.stdout.write(f"late (after {ev.LIMIT_DAYS:g} days, not flagged for it): {late} ({late / n:.1%})")
    result = f"RESULT reply_quality n={n} flagged_share={flagged / n:.4f}"
    if labels is not None:
        agreed = ev.agreement(scored, labels)
        if agreed.missing:
            cmd.stderr.write(
                f"{len(agreed.missing)} labelled id(s) not in --csv: {', '.join(agreed.missing[:10])}"
            )
        cmd.stdout.write(f"agreement with {agreed.n} hand label(s):")
        cmd.stdout.write(f"  {'mark':<10} {'accuracy':>8} {'kappa':>6} {'labelled':>8} {'scored':>6}")
        for name, accuracy, k, labelled, predicted in agreed.rows:
            kappa_text = "—" if k is None else f"{k:.3f}"
            cmd.stdout.write(f"  {name:<10} {accuracy:>8.3f} {kappa_text:>6} {labelled:>8} {predicted:>6}")
        flag_row = agreed.rows[-1]
        result += f" labelled={agreed.n} flag_accuracy={flag_row[1]:.3f} flag_kappa={flag_row[2] or 0:.3f}"
    cmd.stdout.write(result)


# -- the command ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subcommand:
    help: str
    add_arguments: Callable[[Any], None]
    handle: Callable[[BaseCommand, dict[str, Any]], None]


SUBCOMMANDS: dict[str, Subcommand] = {
    "train": Subcommand(
        "train a category classifier from a labelled CSV and save it", _args_train, _do_train
    ),
    "predict": Subcommand(
        "suggest categories for a CSV; writes CSV to standard output", _args_predict, _do_predict
    ),
    "evaluate": Subcommand("cross-validate the classifier on a labelled CSV", _args_evaluate, _do_evaluate),
    "hot-issues": Subcommand(
        "group messages into hot issues (热点问题) and write the two tables", _args_hot_issues, _do_hot_issues
    ),
    "reply-quality": Subcommand(
        "score units' replies (答复意见质量) in a CSV; with --labels, the agreement with hand labels",
        _args_reply_quality,
        _do_reply_quality,
    ),
}


# History replay and the monthly rates (issue: 吹哨报到 and the three rates).
from cityloop.hotline.management.commands import _replay  # noqa: E402

SUBCOMMANDS["replay"] = Subcommand(
    "load a MyLA311 or NYC 311 export as history", _replay.args_replay, _replay.do_replay
)
SUBCOMMANDS["stats"] = Subcommand(
    "recount the monthly rates from the requests", _replay.args_stats, _replay.do_stats
)
SUBCOMMANDS["close-times"] = Subcommand(
    "rank agencies by median hours to close", _replay.args_close_times, _replay.do_close_times
)


# -- import (call-centre records into the database) --------------------------------------------------


def _args_import(parser) -> None:
    parser.add_argument(
        "--csv", required=True, type=Path, help="UTF-8 CSV of call-centre records (header row)"
    )
    parser.add_argument("--city", default="", help="city or pack code (default: the deployment's city)")


def _do_import(cmd: BaseCommand, options: dict[str, Any]) -> None:
    from django.core.exceptions import ValidationError

    from cityloop.hotline.intake.imports import import_requests
    from cityloop.org import queries as org_queries

    city = org_queries.default_city()
    if options["city"]:
        city = org_queries.city_by_code(options["city"])
    if city is None:
        raise CommandError(f"no city {options['city']!r} in this database; import a city pack first")
    try:
        with open(options["csv"], "rb") as source:
            result = import_requests(source, city=city, actor=actors.IMPORT)
    except FileNotFoundError as exc:
        raise CommandError(f"--csv: {exc}") from exc
    except ValidationError as exc:
        raise CommandError(format_errors(exc)) from exc
    for line, reason in result.bad:
        cmd.stderr.write(f"line {line}: {reason}")
    cmd.stdout.write(
        f"kept {len(result.kept)} row(s), {len(result.already)} imported before, {len(result.bad)} bad row(s)"
    )


SUBCOMMANDS["import"] = Subcommand(
    "import call-centre records from a CSV (bad rows listed with line and reason)", _args_import, _do_import
)


# The classifier that learns from the dispatchers' decisions (issue 16).
from cityloop.hotline.management.commands import _retrain  # noqa: E402

SUBCOMMANDS["retrain"] = Subcommand(
    "retrain the classifier with the dispatchers' decisions; promote it only if it does better",
    _retrain.args_retrain,
    _retrain.do_retrain,
)


class Command(BaseCommand):
    help = "Hotline tools: " + "; ".join(f"{name}: {s.help}" for name, s in SUBCOMMANDS.items())
    requires_system_checks: list[str] = []  # offline tools: no database, no checks

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name, spec in SUBCOMMANDS.items():
            spec.add_arguments(sub.add_parser(name, help=spec.help, description=spec.help))

    def handle(self, *args, **options):
        SUBCOMMANDS[options["action"]].handle(self, options)
