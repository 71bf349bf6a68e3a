"""Places and groups of people named in a message's text, found by rules (no model, no gazetteer).

A hot issue is one problem at one specific place (an estate, a road, a school, a company, a bus stop)
or for one group of people (a company's staff, a school's students, a loan platform's lenders). The
locator knows districts and streets; the specific place is only in the words, so it is read here.

The rule: a name is the run of Chinese letters, Latin letters and digits just before a place word
(小区, 路, 小学, 公司, …), cut on the left at the last word that cannot be part of a name (an
administrative prefix such as ``A2区``, a verb such as 投诉, a particle such as 的). Names that are
only generic words (该小区, 道路, 物业公司) are dropped. Each place has a ``key`` for matching: the
name without the words that vary between writers of the same place (小区/社区 at the end, a
developer's brand such as 万科 in front), so 万科魅力之城小区 and 魅力之城 are one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Place words, longest first so 大道 wins over 道 and 小区 over 区. Each maps to a kind.
_SUFFIX_KINDS: dict[str, str] = {
    **dict.fromkeys(
        [
            "小区",
            "社区",
            "花园",
            "家园",
            "公馆",
            "新城",
            "新村",
            "山庄",
            "公寓",
            "花苑",
            "雅苑",
            "华庭",
            "国际城",
        ],
        "estate",
    ),
    **dict.fromkeys(["苑", "府", "湾", "城", "庭", "郡"], "estate"),
    **dict.fromkeys(["大道", "大街", "路", "街", "巷", "大桥", "立交", "高速", "隧道"], "road"),
    **dict.fromkeys(
        ["小学", "中学", "幼儿园", "大学", "学院", "学校", "职校", "一中", "二中", "实验学校"], "school"
    ),
    **dict.fromkeys(["医院", "卫生院", "卫生室", "诊所"], "hospital"),
    **dict.fromkeys(["有限公司", "公司", "集团", "银行", "地产", "置业"], "company"),
    **dict.fromkeys(["车贷", "网贷", "金服", "理财平台"], "platform"),
    **dict.fromkeys(
        ["地铁站", "公交站", "汽车站", "火车站", "高铁站", "南站", "北站", "东站", "西站", "站点", "机场"],
        "stop",
    ),
    **dict.fromkeys(["公园", "广场", "市场", "商场", "商业街", "步行街"], "park"),
    **dict.fromkeys(["村"], "village"),
}
_SUFFIXES = sorted(_SUFFIX_KINDS, key=len, reverse=True)
# A name ends at a place word; the place word must not run on into a longer ordinary word
# (城市, 城管, 路灯, 街道, 公司的 is fine). Administrative areas (街道, 镇, 乡) are too broad to
# be one issue's place and are left to the locator.
_NOT_AFTER = {
    "城": "市管区乡镇际建中铁轨投",
    "路": "灯面段口况线费边上",
    "街": "道边头",
    "府": "办",
    "湾": "区",
    "庭": "院审",
    "村": "民委级组里庄",
    "高速": "公路路",
}
_SUFFIX_RE = re.compile("|".join(re.escape(s) for s in _SUFFIXES))
_NAME_CHAR = re.compile(r"[\u4e00-\u9fffA-Za-z0-9·]")
_MAX_NAME = 8

# Where a name starts: after the last of these in the run before the place word.
_BOUNDARY = re.compile(
    r"[A-Z]\d{0,2}[市区县]|西地省|[省市区县镇乡]|街道|"
    r"投诉|反映|反应|举报|关于|建议|请求|希望|咨询|请问|问问|要求|强烈|恳请|呼吁|"
    r"位于|地处|座落在|坐落在|座落|坐落|居住在|住在|我是|我们|本人|业主|居民|政府|领导|书记|市长|"
    r"尊敬|您好|你好|现在|目前|附近|周边|旁边|对面|门口|一名|开发商|物业|整个|所有|以及|还有|"
    r"导致|影响|造成|使得|距离|本来|因为|相信|感谢|配合|恳求|根据|开设|设立|进出|普通|住宅|商品房|"
    r"配套|严重|各级|上级|地方|党和|相关|有关|以上|号线|两家|一条|必须|时候|[而求望由且距过和去回要想能也就还才]|"
    r"[的在与及对是了把被给向从于让请我你他她们这那该个位名号栋期、]"
)
_GENERIC_NAMES = {
    "本",
    "该",
    "此",
    "各",
    "全",
    "新",
    "老",
    "这个",
    "那个",
    "安置",
    "相关",
    "有关",
    "其他",
    "一个",
    "多个",
    "几个",
    "两个",
    "某",
    "国际",
    "商业",
    "道",
    "马",
    "公",
    "线",
    "铁",
    "出",
    "思",
    "走",
    "一",
    "网",
    "环",
    "高档",
    "大型",
    "小型",
    "周围",
    "城",
    "农",
    "一些",
    "物业",
    "房地产",
    "开发",
    "建设",
    "施工",
    "保安",
    "装修",
    "置业",
    "小",
    "中",
    "大",
    "人民",
    "市政",
    "公交",
    "地铁",
    "医",
    "学",
    "科技",
    "投资",
    "网络",
    "信息",
    "服务",
    "管理",
    "实业",
    "发展",
    "搅拌",
    "停车",
    "加油",
    "垃圾",
    "中转",
    "充电",
    "高铁",
    "火车",
    "汽车",
    "无良",
    "黑心",
    "同一",
    "整",
    # utilities and services that serve the whole city: naming one says nothing about where
    "实验",
    "技术",
    "职业技术",
    "师范",
    "第一",
    "第二",
    "外国语",
    "附属",
    "中心",
    "进入",
    "普惠性",
    "普惠",
    "公办",
    "民办",
    "配套",
    "公立",
    "私立",
    "营利性",
    "非营利性",
    "自来水",
    "供水",
    "电力",
    "供电",
    "燃气",
    "城投",
    "移动",
    "电信",
    "联通",
    "市政工程",
}
# Developers' brands written before an estate's own name by some writers and not by others.
_BRANDS = ("万科", "恒大", "碧桂园", "保利", "中海", "融创", "华润", "龙湖", "金地", "中建", "富力", "新城")
# Groups of people: a place-like name followed by one of these words.
_GROUP_WORDS = (
    "职工",
    "员工",
    "学生",
    "教师",
    "老师",
    "业主",
    "村民",
    "出借人",
    "受害人",
    "受害者",
    "投资人",
    "家长",
    "司机",
    "商户",
    "住户",
    "退休人员",
    "退休教师",
    "农民工",
)
_GROUP_RE = re.compile(r"(的(?:一名|一位|一个|全体|广大|众多|部分)?)?(" + "|".join(_GROUP_WORDS) + ")")


@dataclass(frozen=True)
class Place:
    name: str  # as written, e.g. 万科魅力之城小区
    kind: str  # estate, road, school, hospital, company, platform, stop, park, village
    key: str  # for matching, e.g. 魅力之城


def _name_before(text: str, end: int) -> str:
    start = end
    while start > 0 and end - start < _MAX_NAME + 4 and _NAME_CHAR.match(text[start - 1]):
        start -= 1
    left = text[start:end]
    cut = 0
    for m in _BOUNDARY.finditer(left):
        cut = m.end()
    return left[cut:][-_MAX_NAME:]


def place_key(name: str, kind: str) -> str:
    key = name.replace("·", "")
    if kind == "estate":
        # 劳动东路魅力之城: an estate written after its road is the same estate
        tail = re.split(r"路|大道|大街|街", key)[-1]
        if len(tail) >= 3 and tail not in _SUFFIX_KINDS:
            key = tail
        for tail in ("小区", "社区"):
            if key.endswith(tail) and len(key) > len(tail) + 1:
                key = key[: -len(tail)]
                break
        for brand in _BRANDS:
            if key.startswith(brand) and len(key) >= len(brand) + 3:
                key = key[len(brand) :]
                break
    if kind == "company" and key.endswith("有限公司"):
        key = key[: -len("有限公司")] + "公司"
    return key


def extract_places(text: str) -> list[Place]:
    """Every specific place named in ``text``, in order of appearance, each once."""
    found: dict[str, Place] = {}
    for m in _SUFFIX_RE.finditer(text):
        suffix = m.group(0)
        after = text[m.end() : m.end() + 2]
        stop = _NOT_AFTER.get(suffix, "")
        if after and (after[0] in stop or (suffix == "高速" and after.startswith("公路"))):
            continue
        if suffix in ("街",) and after.startswith("道"):
            continue
        name = _name_before(text, m.start())
        if _generic(name) or name.isdigit() and suffix not in ("路", "车贷"):
            continue
        if any(name.endswith(g) for g in ("搅拌", "加油", "垃圾", "中转", "充电", "停车")):
            continue
        if suffix == "路" and name[-1] in "铁马公道线网出思走头无之条":
            continue  # 铁路, 马路, 道路, 线路, 出路, 断头路: words, not roads
        if suffix == "府" and name[-1] == "政":
            continue
        kind = _SUFFIX_KINDS[suffix]
        full = name + suffix
        # 丽发新城小区 is found twice (at 新城 and at 小区): keep the longer writing, one key.
        key = place_key(full, kind)
        if key not in found or len(full) > len(found[key].name):
            found[key] = Place(full, kind, key)
    return list(found.values())


_TAILED_KINDS = {"estate", "school", "village", "park"}
_GENERIC_TAILS = (
    "开发",
    "地产",
    "房地产",
    "物业",
    "建设",
    "工程",
    "投资",
    "科技",
    "管理",
    "服务",
    "实业",
    "发展",
    "有限",
)


def _generic(name: str) -> bool:
    """True for names that are only generic words (房地产开发 in 房地产开发公司)."""
    while True:
        for tail in _GENERIC_TAILS:
            if name.endswith(tail):
                name = name[: -len(tail)]
                break
        else:
            return len(name) < 2 or name in _GENERIC_NAMES


def place_tails(place: Place) -> list[str]:
    """Shorter writings of a key that still name a place: 买万科魅力之城 → 万科魅力之城 … 魅力之城.

    Only for estates, schools, villages and parks, whose names writers prefix with brands and
    verbs; a company's or a road's tail (来水公司, 东路) names nothing.
    """
    if place.kind not in _TAILED_KINDS:
        return []
    suffix = next((s for s in _SUFFIXES if place.key.endswith(s)), "")
    name = place.key[: len(place.key) - len(suffix)]
    tails = []
    for start in range(1, len(name) - 1):
        tail = name[start:]
        if not _generic(tail) and not _BOUNDARY.fullmatch(tail[0]):
            tails.append(tail + suffix)
    return tails


def extract_groups(text: str, places: list[Place] | None = None) -> list[str]:
    """Groups of people named after a place, e.g. 广铁集团职工, 经济学院学生, 58车贷受害人."""
    places = extract_places(text) if places is None else places
    groups: list[str] = []
    for m in _GROUP_RE.finditer(text):
        before = text[: m.start()]
        for place in places:
            if before.endswith(place.name) and (group := place.key + m.group(2)) not in groups:
                groups.append(group)
    return groups


_DISTRICT = re.compile(r"(?<![A-Za-z0-9])([A-Z]\d{1,2}[区县])")


def extract_districts(text: str) -> list[str]:
    """District codes as the data writes them (A2区, A7县); the city itself (A市) is not one."""
    return list(dict.fromkeys(_DISTRICT.findall(text)))
