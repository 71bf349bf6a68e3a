"""``cityloop hotline retrain``: train a candidate on the base data and the dispatchers' decisions, and
promote it only if it beats the model in use on the held-out slice (hotline/intake/retrain.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


def args_retrain(parser) -> None:
    parser.add_argument(
        "--csv",
        type=Path,
        help="the base training CSV (default: CITYLOOP_CLASSIFIER_BASE_CSV; none: the decisions only)",
    )
    parser.add_argument("--text-cols", help="its text column(s), comma-separated")
    parser.add_argument("--label-col", help="its label column")


def do_retrain(cmd: BaseCommand, options: dict[str, Any]) -> None:
    from cityloop.core import actors
    from cityloop.hotline.intake import retrain

    base = retrain.Base.configured()
    if options["csv"] is not None:
        base = retrain.Base(
            str(options["csv"]),
            tuple(c.strip() for c in (options["text_cols"] or "").split(",") if c.strip()),
            options["label_col"] or "",
        )
    elif options["text_cols"] or options["label_col"]:
        raise CommandError("--text-cols and --label-col go with --csv")
    run = retrain.retrain(actor=actors.COMMAND, trigger="command", base=base)

    def figure(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    cmd.stdout.write(
        f"base rows {run.base_rows} ({run.base_csv or 'no base CSV'}), dispatcher examples {run.examples}; "
        f"trained on {run.train_rows}, held out {run.heldout_rows}"
    )
    cmd.stdout.write(
        f"held-out accuracy: candidate {figure(run.candidate_accuracy)}, "
        f"current {figure(run.current_accuracy)}; "
        f"macro-F1: candidate {figure(run.candidate_macro_f1)}, current {figure(run.current_macro_f1)}"
    )
    reason = run.reason.removeprefix("kept: ")
    cmd.stdout.write(f"{'PROMOTED' if run.promoted else 'KEPT the current model'}: {reason}")
    if run.reason.startswith("failed: "):
        raise CommandError(run.reason)
