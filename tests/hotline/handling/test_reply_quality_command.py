"""``cityloop hotline reply-quality``: scores per pair, the share flagged, agreement with hand labels."""

import csv

import pytest
from django.core.management import CommandError, call_command

HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"]
ROWS = [
    [
        "1",
        "u1",
        "A2区丽发新城小区旁搅拌站噪音扰民",
        "2019/11/2 10:18:00",
        "丽发新城小区旁边的搅拌站日夜施工，噪音很大。",
        "经A2区城管执法局核实，丽发新城小区旁搅拌站夜间施工属实，根据《噪声污染防治条例》，"
        "我局已于11月5日责令其停止夜间施工。2019年11月8日",
        "2019/11/8 16:00:00",
    ],
    [
        "2",
        "u2",
        "A5区魅力之城小区临街门面油烟扰民",
        "2019/11/3 9:00:00",
        "魅力之城小区一楼门面油烟很大。",
        "网友您好！您的留言已收悉，已转有关部门调查处理。2019年12月30日",
        "2019/12/30 9:00:00",
    ],
]


def write(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_scores_each_pair_and_reports_agreement(tmp_path, capsys):
    source = write(tmp_path / "pairs.csv", HEADER, ROWS)
    labels = write(
        tmp_path / "labels.csv",
        ["留言编号", "relevant", "what", "who", "when", "explained"],
        [["1", "1", "1", "1", "1", "1"], ["2", "1", "1", "1", "1", "1"]],  # the second label disagrees
    )
    out = tmp_path / "scores.csv"
    call_command("hotline", "reply-quality", "--csv", str(source), "--out", str(out), "--labels", str(labels))
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["留言编号"] for r in rows] == ["1", "2"]
    assert [r["flagged"] for r in rows] == ["0", "1"]
    assert "only_ack" in rows[1]["problems"]
    assert float(rows[1]["timeliness"]) < 1  # 57 days after the message
    assert "flagged 1 (50.0%)" in printed
    assert "RESULT reply_quality n=2 flagged_share=0.5000 labelled=2 flag_accuracy=0.500" in printed


def test_bad_input_names_the_option_and_the_rule(tmp_path):
    source = write(tmp_path / "pairs.csv", ["留言编号", "留言主题"], [["1", "x"]])
    with pytest.raises(CommandError, match=r"--csv: .* has no column\(s\) 留言详情, 答复意见"):
        call_command("hotline", "reply-quality", "--csv", str(source), "--out", str(tmp_path / "o.csv"))
    good = write(tmp_path / "good.csv", HEADER, ROWS)
    labels = write(
        tmp_path / "labels.csv",
        ["留言编号", "relevant", "what", "who", "when", "explained"],
        [["1", "1", "2", "1", "1", "1"]],
    )
    with pytest.raises(CommandError, match="--labels: line 2: what must be 0 or 1"):
        call_command(
            "hotline",
            "reply-quality",
            "--csv",
            str(good),
            "--out",
            str(tmp_path / "o.csv"),
            "--labels",
            str(labels),
        )
    with pytest.raises(CommandError, match="--csv: no file"):
        call_command(
            "hotline", "reply-quality", "--csv", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv")
        )
