"""The rule-based place extractor: estates, roads, schools, companies, platforms, groups."""

import pytest

from cityloop.hotline.hotissues.places import extract_districts, extract_groups, extract_places, place_tails


def keys(text):
    return [(p.key, p.kind) for p in extract_places(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A2区丽发新城附近修建搅拌厂噪音", [("丽发新城", "estate")]),
        ("A市暮云街道丽发新城社区搅拌站", [("丽发新城", "estate")]),
        ("投诉A市伊景园滨河苑定向限价商品房", [("伊景园滨河苑", "estate")]),
        ("请书记关注A市A4区58车贷案", [("58车贷", "platform")]),
        ("A市经济学院强制学生外出实习", [("经济学院", "school")]),
        ("广铁集团要求员工购房时必须同时购买车位", [("广铁集团", "company")]),
        ("A3区郝家坪小学什么时候能改扩建", [("郝家坪小学", "school")]),
        ("座落在A市A3区联丰路米兰春天G2栋", [("联丰路", "road")]),
        ("A市湘雅医院门口堵车", [("湘雅医院", "hospital")]),
        ("地铁3号线松雅湖站点附近地下通道", [("松雅湖站点", "stop")]),
    ],
)
def test_the_place_named_in_a_message_is_found(text, expected):
    assert keys(text) == expected


def test_an_estate_after_its_road_is_both_a_road_and_the_estate():
    assert keys("A5区劳动东路魅力之城小区油烟扰民") == [("劳动东路", "road"), ("魅力之城", "estate")]


def test_a_developers_brand_and_the_estate_word_do_not_change_the_place():
    assert (
        keys("A市万科魅力之城商铺无排烟管道")[0][0]
        == keys("魅力之城小区临街门面油烟直排")[0][0]
        == "魅力之城"
    )


@pytest.mark.parametrize(
    "text",
    [
        "这条道路太窄",
        "该小区物业不作为",
        "铁路噪音大",
        "市政府应该管一管",
        "自来水公司停水",
        "小区附近搅拌站噪音扰民",
    ],
)
def test_generic_words_are_not_places(text):
    assert keys(text) == []


def test_a_key_answers_to_its_shorter_writings():
    (place,) = extract_places("我买万科魅力之城的房子")
    assert "魅力之城" in place_tails(place)
    (road,) = extract_places("劳动东路")
    assert place_tails(road) == []  # 东路 names nothing


def test_groups_of_people_are_named_after_their_place():
    assert extract_groups("广铁集团职工购房必须买车位") == ["广铁集团职工"]
    assert extract_groups("我们58车贷受害人") == ["58车贷受害人"]
    assert extract_groups("我是A市经济学院的一名学生") == ["经济学院学生"]


def test_districts_are_read_but_not_the_city():
    assert extract_districts("A市A2区丽发新城和A7县星沙") == ["A2区", "A7县"]
