"""Grouping messages into issues, the heat order, and the day-by-day early warning."""

from datetime import datetime, timedelta

from cityloop.hotline.hotissues.engine import IssueEngine, Message, by_day, find_issues

T0 = datetime(2019, 11, 2, 10, 0)


def msg(n, subject, body="", *, day=0, user=None, likes=0, dislikes=0):
    return Message(
        id=str(n),
        user=user or f"u{n}",
        subject=subject,
        body=body,
        time=T0 + timedelta(days=day, minutes=n),
        likes=likes,
        dislikes=dislikes,
    )


NOISE = [
    msg(1, "A2区丽发新城附近修建搅拌站噪音扰民", "搅拌站日夜施工，噪音很大，灰尘严重，无法休息", day=0),
    msg(2, "丽发新城小区旁建搅拌站严重扰民", "小区旁边的搅拌站噪音大，粉尘多，居民无法正常休息", day=2),
    msg(3, "投诉丽发新城小区附近搅拌站噪音", "搅拌站晚上也在施工，噪音扰民，灰尘污染严重", day=5),
]


def issue_ids(run):
    return [sorted(m.id for m in issue.messages) for issue in run.issues]


def test_messages_about_one_estates_problem_are_one_issue():
    run = find_issues(NOISE)
    assert issue_ids(run) == [["1", "2", "3"]]
    assert run.issues[0].label == "丽发新城小区"
    assert run.issues[0].time_range == "2019/11/02 至 2019/11/07"


def test_the_same_problem_at_another_estate_is_another_issue():
    other = [
        msg(11, "A5区魅力之城小区附近搅拌站噪音扰民", "搅拌站日夜施工，噪音很大，灰尘严重，无法休息", day=1),
        msg(12, "魅力之城小区旁搅拌站严重扰民", "小区旁边的搅拌站噪音大，粉尘多，居民无法正常休息", day=3),
    ]
    run = find_issues(NOISE + other)
    assert sorted(issue_ids(run)) == [["1", "2", "3"], ["11", "12"]]


def test_another_problem_at_the_same_estate_is_another_issue():
    cracks = [
        msg(21, "丽发新城小区楼板开裂", "交房一年，房屋楼板和承重墙多处开裂，开发商不处理", day=1),
        msg(22, "丽发新城房屋墙面开裂", "我家的楼板墙面都开裂了，裂缝两三米长，开发商只会遮盖", day=4),
    ]
    run = find_issues(NOISE + cracks)
    assert sorted(issue_ids(run)) == [["1", "2", "3"], ["21", "22"]]


def test_messages_far_apart_in_time_are_not_one_issue():
    late = [msg(31, "丽发新城小区附近搅拌站噪音扰民", "搅拌站噪音很大，灰尘严重", day=500)]
    run = find_issues(NOISE + late, top=None)
    assert ["31"] not in issue_ids(run) and issue_ids(run) == [["1", "2", "3"]]  # alone: one caller


def test_one_person_writing_many_times_is_not_an_issue():
    same = [msg(n, "丽发新城小区附近搅拌站噪音扰民", "搅拌站噪音很大", day=n, user="u1") for n in range(1, 6)]
    assert find_issues(same).issues == []


def test_more_callers_and_more_likes_make_an_issue_hotter():
    small = [
        msg(41, "A7县星湖湾小区门口垃圾站臭味", "小区门口的垃圾站臭味熏天，夏天更严重", day=1),
        msg(42, "星湖湾小区垃圾站臭气扰民", "垃圾站就在小区门口，臭味很大，请搬走", day=2),
    ]
    run = find_issues(NOISE + small)
    assert [i.label for i in run.issues] == ["丽发新城小区", "星湖湾小区"]
    liked = [msg(int(m.id), m.subject, m.body, day=int(m.id) - 40, likes=500) for m in small]
    run = find_issues(NOISE + liked)
    assert run.issues[0].label == "星湖湾小区"
    assert run.issues[0].heat > run.issues[1].heat


def test_the_batch_run_is_the_day_by_day_replay():
    engine = IssueEngine()
    flagged_on = {}
    for day in by_day(NOISE):
        for cid in engine.add_day(day):
            flagged_on[cid] = day[0].time.date()
    (issue,) = engine.issues()
    assert issue_ids(find_issues(NOISE)) == [sorted(m.id for m in issue.messages)]
    # the third distinct caller within 14 days raises the warning
    assert list(flagged_on.values()) == [NOISE[2].time.date()] == [issue.flagged]


def test_the_order_of_messages_within_the_input_does_not_matter():
    assert issue_ids(find_issues(NOISE)) == issue_ids(find_issues(list(reversed(NOISE))))
