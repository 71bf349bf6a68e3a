"""Reply quality (答复意见质量) on the 2,816 real message–reply pairs, against 200 hand labels.

    python bench/bench_reply_quality.py [--data ../shared/data] [--out FILE]

Runs the command line exactly as a user would (``cityloop hotline reply-quality`` in a fresh process,
Django start-up included) on ``gov_messages_cn/full_messages_with_replies.csv`` with the labels in
``docs/data/reply_quality_labels.csv`` (labelled by the rules in docs/reply_quality.md), prints its
report and wall time.

The last line is exactly
``RESULT reply_quality_s=<s> n=<n> flagged_share=<share> flag_accuracy=<acc> flag_kappa=<κ>``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, help="the scores CSV (default: a temporary file)")
    args = parser.parse_args()
    path = args.data / FILE
    if not path.exists():
        sys.exit(f"no {path}: pass --data DIR holding {FILE}")
    out = args.out or Path(tempfile.mkdtemp(prefix="reply-quality-")) / "scores.csv"
    cityloop = Path(sys.executable).with_name("cityloop")
    command = [str(cityloop), "hotline", "reply-quality", "--csv", str(path), "--out", str(out)]
    command += ["--labels", str(LABELS)]
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
    found = re.search(
        r"RESULT reply_quality n=(\d+) flagged_share=([\d.]+) labelled=\d+ "
        r"flag_accuracy=([\d.]+) flag_kappa=([\d.]+)",
        done.stdout,
    )
    if not found:
        sys.exit("the command printed no RESULT line")
    n, share, accuracy, kappa = found.groups()
    print(
        f"RESULT reply_quality_s={seconds:.1f} n={n} flagged_share={share} "
        f"flag_accuracy={accuracy} flag_kappa={kappa}"
    )


if __name__ == "__main__":
    main()
