"""答复意见质量: each dimension of the reply scorer can fail, and the flag follows the labelling rule."""

from datetime import datetime, timedelta

import pytest
from django.utils import translation

from cityloop.hotline.handling.reply_quality import explain, reason_text, score_reply

TITLE = "A2区丽发新城小区旁搅拌站噪音扰民"
DETAIL = "丽发新城小区旁边的搅拌站日夜施工，噪音很大，灰尘严重，请有关部门处理。"
GOOD = (
    "网友您好！您的留言已收悉。经A2区城管执法局核实，丽发新城小区旁搅拌站夜间施工情况属实。"
    "根据《A市环境噪声污染防治条例》第十二条，我局已于11月5日责令该搅拌站停止夜间施工，"
    "并将在30个工作日内完成降尘设施整改。感谢您对我们工作的支持！2019年11月8日"
)
RECEIVED = datetime(2019, 11, 2, 10, 0)


def score(reply, **kwargs):
    return score_reply(reply, title=TITLE, detail=DETAIL, **kwargs)


def test_a_good_reply_scores_high_on_every_dimension_and_is_not_flagged():
    q = score(GOOD, received=RECEIVED, replied=RECEIVED + timedelta(days=6))
    assert q.scores == {"relevance": 1.0, "completeness": 1.0, "explanation": 1.0, "timeliness": 1.0}
    assert not q.flagged
    assert q.problems() == []


def test_an_acknowledgement_or_forward_only_fails_relevance_and_completeness():
    q = score("网友您好！您的留言已收悉，已转A2区城管执法局调查处理，感谢您的留言。2019年11月3日")
    assert q.scores["relevance"] == 0
    assert q.reasons["relevance"] == ["only_ack"]
    assert not q.details["completeness"]["what"]
    assert not q.details["completeness"]["when"]  # the signature date is not a time for an action
    assert q.flagged


def test_a_reply_about_something_else_fails_relevance():
    q = score(
        "经市教育局核实，2019年秋季学期起，全市小学课后服务按《课后服务管理办法》收费，每月不超过200元。"
    )
    assert q.scores["relevance"] < 0.5
    assert q.reasons["relevance"] == ["off_topic"]
    assert q.flagged


@pytest.mark.parametrize(
    ("reply", "missing"),
    [
        # no actor named
        ("丽发新城小区旁搅拌站夜间施工属实，已于11月5日停止夜间施工，依据《噪声污染防治条例》处理。", "who"),
        # no time for the action
        (
            "经A2区城管执法局核实，丽发新城小区旁搅拌站夜间施工属实，依据《噪声污染防治条例》已责令停止。",
            "when",
        ),
    ],
)
def test_completeness_names_the_missing_part(reply, missing):
    q = score(reply)
    assert not q.details["completeness"][missing]
    assert q.scores["completeness"] == pytest.approx(2 / 3, abs=0.01)
    assert f"no_{missing}" in q.reasons["completeness"]


def test_a_reply_without_rule_or_reason_fails_explanation_and_is_flagged():
    q = score("A2区城管执法局已于11月5日对丽发新城小区旁搅拌站进行了处理，下一步将加强巡查。")
    assert q.scores["explanation"] == 0
    assert q.reasons["explanation"] == ["no_basis"]
    assert q.flagged
    q = score("由于搅拌站夜间施工噪音超标，A2区城管执法局已于11月5日对丽发新城小区旁搅拌站进行了处理。")
    assert q.scores["explanation"] == 0.7 and q.reasons["explanation"] == ["reason_only"]
    assert not q.flagged


def test_timeliness_against_the_finish_limit_and_without_one():
    due = RECEIVED + timedelta(days=7)
    assert score(GOOD, received=RECEIVED, replied=due - timedelta(hours=1), due=due).scores["timeliness"] == 1
    late = score(GOOD, received=RECEIVED, replied=due + timedelta(days=7), due=due)
    assert late.scores["timeliness"] == 0.5  # one limit late; nothing left at two limits late
    assert late.reasons["timeliness"] == ["late"]
    assert not late.flagged  # editing cannot make a late reply early
    assert score(GOOD, received=RECEIVED, replied=RECEIVED + timedelta(days=60)).scores["timeliness"] == 0
    assert score(GOOD).scores["timeliness"] is None


def test_reasons_are_given_in_chinese_and_english():
    q = score("A2区城管执法局已于11月5日对丽发新城小区旁搅拌站进行了处理，下一步将加强巡查。")
    with translation.override("en"):
        assert "neither the rule" in reason_text("no_basis")
        rows = explain(q.as_dict())
    assert [r["dimension"] for r in rows] == ["relevance", "completeness", "explanation", "timeliness"]
    assert not rows[2]["ok"]
    with translation.override("zh-hans"):
        assert "依据" in reason_text("no_basis")
        late = score(GOOD, received=RECEIVED, replied=RECEIVED + timedelta(days=20))
        assert "5" in explain(late.as_dict())[3]["reasons"][0]
