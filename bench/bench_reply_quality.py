"""Reply quality (答复意见质量) on the 2,816 real message–reply pairs, against 200 hand labels.

    python bench/bench_reply_quality.py [--data ../shared/data] [--out FILE]

Runs the command line exactly as a user would (``cityloop hotline reply-quality`` in a fresh process,
Django start-up included) on ``gov_messages_cn/full_messages_with_replies.csv``, twice: with the 200
labels in ``docs/data/reply_quality_labels.csv`` (the sample the rules were tuned on) and with the
100 in ``docs/data/reply_quality_labels_holdout.csv`` (labelled after the tuning, never tuned on),
both labelled by the rules in docs/reply_quality.md; prints the reports and the first run's wall time.

The last line is exactly
``RESULT reply_quality_s=<s> n=<n> flagged_share=<share> flag_accuracy=<acc> flag_kappa=<κ>
flag_accuracy_holdout=<acc> flag_kappa_holdout=<κ>`` (one line).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = "gov_messages_cn/full_messages_with_replies.csv"
LABELS = ROOT / "docs" / "data" / "reply_quality_labels.csv"
HOLDOUT = ROOT / "docs" / "data" / "reply_quality_labels_holdout.csv"
FOUND = re.compile(
    r"RESULT reply_quality n=(\d+) flagged_share=([\d.]+) labelled=\d+ "
    r"flag_accuracy=([\d.]+) flag_kappa=([\d.]+)"
)


def run(path: Path, out: Path, labels: Path) -> tuple[float, re.Match]:
    cityloop = Path(sys.executable).with_name("cityloop")
    command = [str(cityloop), "hotline", "reply-quality", "--csv", str(path), "--out", str(out)]
    command += ["--labels", str(labels)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"the command failed:\n{done.stderr}")
    print(done.stdout.rstrip())
    found = FOUND.search(done.stdout)
    if not found:
        sys.exit("the command printed no RESULT line")
    return seconds, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, help="the scores CSV (default: a temporary file)")
    args = parser.parse_args()
    path = args.data / FILE
    if not path.exists():
        sys.exit(f"no {path}: pass --data DIR holding {FILE}")
    out = args.out or Path(tempfile.mkdtemp(prefix="reply-quality-")) / "scores.csv"
    seconds, tuned = run(path, out, LABELS)
    _, held_out = run(path, out, HOLDOUT)
    n, share, accuracy, kappa = tuned.groups()
    print(
        f"RESULT reply_quality_s={seconds:.1f} n={n} flagged_share={share} "
        f"flag_accuracy={accuracy} flag_kappa={kappa} "
        f"flag_accuracy_holdout={held_out.group(3)} flag_kappa_holdout={held_out.group(4)}"
    )


if __name__ == "__main__":
    main()
