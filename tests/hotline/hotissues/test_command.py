"""``cityloop hotline hot-issues``: the two tables, and bad input named by column and line."""

import csv

import pytest
from django.core.management import CommandError, call_command

HEADER = ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "反对数", "点赞数"]
ROWS = [
    [
        "1",
        "u1",
        "A2区丽发新城附近修建搅拌站噪音扰民",
        "2019/11/2 10:18:00",
        "搅拌站日夜施工，噪音很大，灰尘严重",
        "0",
        "3",
    ],
    [
        "2",
        "u2",
        "丽发新城小区旁建搅拌站严重扰民",
        "2019-11-04 09:00:00",
        "小区旁边的搅拌站噪音大，粉尘多",
        "1",
        "0",
    ],
    [
        "3",
        "u3",
        "投诉丽发新城小区附近搅拌站噪音",
        "2019/11/7 8:01",
        "搅拌站晚上也在施工，噪音扰民，灰尘污染严重",
        "0",
        "2",
    ],
    [
        "4",
        "u4",
        "A5区魅力之城小区临街门面油烟扰民",
        "2019/8/1 16:20:02",
        "临街夜宵摊油烟直排，噪音到凌晨",
        "0",
        "0",
    ],
    [
        "5",
        "u5",
        "魅力之城小区底层餐馆油烟扰民",
        "2019/8/3 6:13:27",
        "底层餐馆油烟很大，夜宵摊噪音到凌晨",
        "0",
        "0",
    ],
    ["6", "u6", "咨询公积金贷款额度", "2019/5/1 10:00:00", "请问公积金贷款额度怎么算", "0", "0"],
]
ARGS = [
    "--subject-col", "留言主题", "--text-cols", "留言详情", "--time-col", "留言时间", "--id-col", "留言编号",
    "--user-col", "留言用户", "--likes-col", "点赞数", "--dislikes-col", "反对数",
]  # fmt: skip


def write(path, rows, header=HEADER):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_the_command_writes_both_tables(tmp_path, capsys):
    source = write(tmp_path / "messages.csv", ROWS)
    call_command(
        "hotline", "hot-issues", "--csv", str(source), *ARGS, "--top", "5", "--out", str(tmp_path / "out")
    )
    issues = read(tmp_path / "out" / "hot_issues.csv")
    messages = read(tmp_path / "out" / "hot_issue_messages.csv")
    assert issues[0] == ["rank", "issue_id", "heat", "time_range", "place_or_group", "description"]
    assert messages[0] == ["issue_id", "message_id", "user", "subject", "time", "text", "likes", "dislikes"]
    assert [row[:2] + row[3:5] for row in issues[1:]] == [
        ["1", "1", "2019/11/02 至 2019/11/07", "丽发新城小区"],
        ["2", "2", "2019/08/01 至 2019/08/03", "魅力之城小区"],
    ]
    assert [(row[0], row[1]) for row in messages[1:]] == [
        ("1", "1"),
        ("1", "2"),
        ("1", "3"),
        ("2", "4"),
        ("2", "5"),
    ]
    assert messages[2][4:] == ["2019/11/04 09:00:00", "小区旁边的搅拌站噪音大，粉尘多", "0", "1"]
    out = capsys.readouterr().out
    assert "read 6 message(s); 0 bad row(s)" in out and "5 message(s) in 2 issue(s)" in out


def test_top_limits_the_issues_written(tmp_path):
    source = write(tmp_path / "messages.csv", ROWS)
    call_command("hotline", "hot-issues", "--csv", str(source), *ARGS, "--top", "1", "--out", str(tmp_path))
    assert len(read(tmp_path / "hot_issues.csv")) == 2
    assert len(read(tmp_path / "hot_issue_messages.csv")) == 4


def test_rows_with_a_bad_time_or_count_are_listed_and_counted_not_dropped_silently(tmp_path, capsys):
    bad = [
        *ROWS,
        ["7", "u7", "丽发新城搅拌站", "昨天晚上", "噪音", "0", "0"],
        ["8", "u8", "丽发新城", "2019/11/8", "噪音", "0", "很多"],
    ]
    source = write(tmp_path / "messages.csv", bad)
    call_command("hotline", "hot-issues", "--csv", str(source), *ARGS, "--out", str(tmp_path))
    captured = capsys.readouterr()
    assert (
        "line 8: column '留言时间' (--time-col): '昨天晚上' is not a time like 2019/2/28 11:25:05"
        in captured.err
    )
    assert "line 9: column '点赞数' (--likes-col): '很多' is not a whole number" in captured.err
    assert "read 6 message(s); 2 bad row(s) left out" in captured.out


def test_a_missing_column_is_named(tmp_path):
    source = write(tmp_path / "messages.csv", [row[:-1] for row in ROWS], header=HEADER[:-1])
    with pytest.raises(CommandError, match=r"no column --likes-col '点赞数'; its columns are: 留言编号"):
        call_command("hotline", "hot-issues", "--csv", str(source), *ARGS, "--out", str(tmp_path))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match=r"--csv: file not found: .*nowhere.csv"):
        call_command(
            "hotline", "hot-issues", "--csv", str(tmp_path / "nowhere.csv"), *ARGS, "--out", str(tmp_path)
        )


def test_a_file_of_only_bad_rows_is_an_error(tmp_path):
    source = write(tmp_path / "messages.csv", [["1", "u1", "丽发新城", "soon", "噪音", "0", "0"]])
    with pytest.raises(CommandError, match=r"no usable rows .* \(1 bad, 0 without text\)"):
        call_command("hotline", "hot-issues", "--csv", str(source), *ARGS, "--out", str(tmp_path))
