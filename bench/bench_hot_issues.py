"""Hot issues (热点问题) on the 4,326 real messages of the 2020 TipDM Cup problem C.

    python bench/bench_hot_issues.py [--data ../shared/data] [--top 10] [--out DIR]

1. Runs the command line exactly as a user would (``cityloop hotline hot-issues`` in a fresh
   process, Django start-up included) on ``gov_messages_cn/full_hot_issue_messages.csv``, and prints
   its wall time, how many messages ended up in issues and the top issues with their heat, read
   back from the two CSV files it wrote.
2. Early warning: replays the same messages in time order, one day at a time, through the same
   engine (``IssueEngine.add_day``), and for each of the top 5 issues prints the day it was
   flagged (heat.WARN_CALLERS distinct callers within heat.WARN_DAYS days) against the day it
   reached half of its final size (its ⌈n/2⌉-th message).

The last line is exactly
``RESULT hot_issues_s=<s> messages_in_issues=<n> issues=<n> flagged_before_half=<k>/5``.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.hotline.hotissues.engine import IssueEngine, by_day  # noqa: E402
from cityloop.hotline.hotissues.heat import WARN_CALLERS, WARN_DAYS  # noqa: E402
from cityloop.hotline.hotissues.tables import Columns, read_messages  # noqa: E402

FILE = "gov_messages_cn/full_hot_issue_messages.csv"
COLUMNS = {
    "--subject-col": "留言主题",
    "--text-cols": "留言详情",
    "--time-col": "留言时间",
    "--id-col": "留言编号",
    "--user-col": "留言用户",
    "--likes-col": "点赞数",
    "--dislikes-col": "反对数",
}


def run_command(path: Path, top: int, out: Path) -> tuple[float, str]:
    cityloop = Path(sys.executable).with_name("cityloop")
    args = [str(cityloop), "hotline", "hot-issues", "--csv", str(path), "--top", str(top), "--out", str(out)]
    for option, column in COLUMNS.items():
        args += [option, column]
    # this checkout's code, whichever checkout the virtualenv was installed from
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"the command failed:\n{done.stderr}")
    return seconds, done.stdout


def replay(path: Path, top: int = 5) -> list[tuple[str, str, int, str, str]]:
    read = read_messages(
        path,
        Columns(
            text=["留言详情"],
            time="留言时间",
            id="留言编号",
            user="留言用户",
            likes="点赞数",
            dislikes="反对数",
            subject="留言主题",
        ),
    )
    engine = IssueEngine()
    for day in by_day(read.messages):
        engine.add_day(day)
    rows = []
    for issue in engine.issues(top=top):
        half = issue.messages[(len(issue.messages) + 1) // 2 - 1].time.date()
        flagged = issue.flagged.isoformat() if issue.flagged else "never"
        rows.append((issue.label, issue.description, len(issue.messages), flagged, half.isoformat()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--out", type=Path, help="keep the two CSV files here (default: a temporary folder)")
    args = parser.parse_args()
    path = args.data / FILE
    if not path.is_file():
        sys.exit(f"not found: {path} (give --data, the folder holding {FILE})")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        seconds, stdout = run_command(path, args.top, out)
        summary = re.search(r"(\d+) message\(s\) in (\d+) issue\(s\)", stdout)
        if summary is None:
            sys.exit(f"unexpected output:\n{stdout}")
        in_issues, issues = int(summary.group(1)), int(summary.group(2))
        with open(out / "hot_issues.csv", encoding="utf-8", newline="") as f:
            table = list(csv.DictReader(f))
        with open(out / "hot_issue_messages.csv", encoding="utf-8", newline="") as f:
            sizes: dict[str, int] = {}
            for row in csv.DictReader(f):
                sizes[row["issue_id"]] = sizes.get(row["issue_id"], 0) + 1

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"cityloop hotline hot-issues on {FILE}: {seconds:.1f} s (one process, Django start included)")
    print(f"machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min, this run included)")
    print(f"{in_issues} messages in {issues} issues (an issue: at least 2 distinct callers)")
    print()
    print("| rank | heat | messages | time range | place or group | description |")
    print("|---:|---:|---:|---|---|---|")
    for row in table:
        print(
            f"| {row['rank']} | {row['heat']} | {sizes.get(row['issue_id'], 0)} | {row['time_range']} | "
            f"{row['place_or_group']} | {row['description']} |"
        )

    print()
    print(
        f"Early warning, day-by-day replay (flag: {WARN_CALLERS} distinct callers within {WARN_DAYS} days):"
    )
    print()
    print("| issue | messages | flagged | half its final size |")
    print("|---|---:|---|---|")
    early = 0
    rows = replay(path)
    for label, description, n, flagged, half in rows:
        print(f"| {label}: {description} | {n} | {flagged} | {half} |")
        early += flagged != "never" and flagged <= half
    print()
    print(f"flagged on or before the day it reached half its size: {early} of {len(rows)}")
    print(
        f"RESULT hot_issues_s={seconds:.1f} messages_in_issues={in_issues} issues={issues} "
        f"flagged_before_half={early}/{len(rows)}"
    )


if __name__ == "__main__":
    main()
