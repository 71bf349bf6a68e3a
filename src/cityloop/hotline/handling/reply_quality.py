"""答复意见质量: a unit's reply scored before it reaches the citizen, by rules (no model, no download).

Four dimensions, each 0–1, each with reasons in plain words (docs/reply_quality.md):

- relevance (切题): the reply names the request's place or the words of its subject;
- completeness (完整): it says what was done, by whom and by when (a third for each);
- explanation (有依据): it cites a rule (a law, a regulation, a document, 《…》) or gives the reason;
- timeliness (及时): it comes before the finish limit (or, with no limit, within ``LIMIT_DAYS``).

A reply is *flagged* (the unit is asked to improve it or to send it anyway) by the same rule the
hand labels follow: relevance below one half, fewer than two of what / who / when, or no rule and no
reason. Timeliness is shown but does not flag: editing the text cannot make a late reply early.

Boilerplate is set aside first (“留言已收悉”, “已转…办理”, thanks), so a reply that only acknowledges
or forwards the message scores as what it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from cityloop.hotline.hotissues.places import extract_places

DIMENSIONS = ("relevance", "completeness", "explanation", "timeliness")
# Without a finish limit (the real 问政 data): the usual 15 days, then down to nothing at 45 days.
LIMIT_DAYS = 15.0
ZERO_AFTER_LIMITS = 3.0
SCORER_VERSION = 1

DIMENSION_LABELS = {
    "relevance": _("Relevance"),
    "completeness": _("Completeness"),
    "explanation": _("Rule or reason"),
    "timeliness": _("Timeliness"),
}

# What each reason says, in the reader's language (English msgid, Chinese in the .po).
REASONS = {
    "only_ack": _("The reply only acknowledges or forwards the request; it says nothing about the matter."),
    "off_topic": _("The reply does not mention the place or the subject of the request."),
    "partly_on_topic": _("The reply shares only a few words with the request's subject."),
    "on_topic": _("The reply speaks about the request's place or subject."),
    "no_what": _("It does not say what was done or decided (investigated, repaired, fined, refused…)."),
    "no_who": _("It does not name who did it or is responsible (a bureau, a street office, a company…)."),
    "no_when": _("It gives no date or time frame for the action (the signature date does not count)."),
    "complete": _("It says what was done, by whom and when."),
    "no_basis": _("It gives neither the rule (a law, regulation or document) nor the reason for the answer."),
    "reason_only": _("It gives a reason but cites no rule or document."),
    "cites_rule": _("It cites the rule or document behind the answer."),
    "on_time": _("Sent within the time limit."),
    "late": _("Sent %(days)s days after the time limit."),
    "no_times": _("No times to judge timeliness by."),
}

# -- boilerplate ------------------------------------------------------------------------------------

_SENTENCE_END = r"[。！!；;]"
_BOILERPLATE = [
    # greetings and who is addressed
    r"(?:尊敬的)?(?:网友|网民|网民朋友|广大网友|来信人|信访人|先生|女士)?[“\"]?[A-Za-z0-9]*[”\"]?[：:，,]?\s*(?:您好|你好)[！!，,。：:]?",
    # acknowledgements: 留言已收悉, 来信收悉, 您反映的问题已收悉 …
    r"[^，,。！!；;]{0,40}(?:已)?(?:收悉|获悉|知悉|阅悉|已阅办?|已收到)[^，,。！!；;]{0,12}[，,。！!；;]?",
    # forwards: 已转(交)…调查处理 / 办复 / 核查, with what follows in the sentence
    r"[^。！!；;]{0,30}已(?:转|转交|转至|交办|发函交办|交)[^。！!；;]{0,50}" + _SENTENCE_END + "?",
    r"[^。！!；;]{0,20}(?:如有相关情况|办理结果)将[^。！!；;]{0,30}" + _SENTENCE_END + "?",
    # thanks and wishes
    r"(?:再次|衷心|非常|首先)?(?:感谢|谢谢)[^。！!；;]{0,60}" + _SENTENCE_END + "?",
    r"祝您?[^。！!；;]{0,20}" + _SENTENCE_END + "?",
    r"现(?:将|就)?[^。！!；;]{0,20}(?:回复|答复|告知|说明)如下[：:]?",
    r"特此(?:回复|答复)[。！!]?",
]
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE))
_HAN = re.compile(r"[\u4e00-\u9fff]")


def content_of(reply: str) -> str:
    """The reply without greetings, acknowledgements, forwards and thanks."""
    text = re.sub(r"\s+", "", reply or "")
    return _BOILERPLATE_RE.sub("", text)


# -- relevance --------------------------------------------------------------------------------------

# Words any reply shares with any request: they say nothing about this request.
_GENERIC = set(
    "问题 反映 情况 相关 有关 部门 我们 您的 你的 工作 进行 没有 已经 可以 目前 现在 政府 领导 书记 市长 "
    "希望 要求 请求 投诉 建议 咨询 解决 处理 关于 一个 这个 什么 为什么 怎么 是否 能否 如何 时间 网友 "
    "您好 你好 谢谢 感谢 回复 答复 如下 收悉 留言 来信 老百姓 群众 居民 市民 我的 本人 严重 影响 "
    "西地 地省 的问 的情 了解 调查 核实 规定 按照 根据 我局 我市 我县 我区 万元 年月 月日".split()
)
_ADMIN_CODE = re.compile(r"[A-Z]\d{0,2}")
_SHARED_FOR_FULL = 4  # distinct shared content bigrams for a full relevance score


def _bigrams(text: str) -> set[str]:
    han = "".join(_HAN.findall(_ADMIN_CODE.sub("|", text)))
    return {han[i : i + 2] for i in range(len(han) - 1)} - _GENERIC


def _relevance(title: str, detail: str, content: str) -> tuple[float, list[str], dict]:
    if len(_HAN.findall(content)) < 15:
        return 0.0, ["only_ack"], {"shared": 0, "place": False}
    request = _bigrams(f"{title}。{detail}")
    shared = len(request & _bigrams(content))
    places = extract_places(f"{title}\n{detail}") if (title or detail) else []
    place_hit = any(p.name in content or (p.key and len(p.key) >= 2 and p.key in content) for p in places)
    score = 1.0 if place_hit or not request else min(1.0, shared / _SHARED_FOR_FULL)
    if score >= 0.75:
        reason = "on_topic"
    elif score >= 0.5:
        reason = "partly_on_topic"
    else:
        reason = "off_topic"
    return round(score, 2), [reason], {"shared": shared, "place": place_hit}


# -- completeness -----------------------------------------------------------------------------------

_WHAT = re.compile(
    r"经(?:查|核实|核查|调查|了解|研究|审核|协调|测量|检查|现场)|"
    r"(?:已|已经|立即|迅速|随即|将|现已|正在|组织|安排|督促|责令|要求|决定)"
    r"[^。！!；;]{0,12}?"
    r"(?:调查|核实|核查|查看|踏勘|勘查|检查|处理|整改|完成|拆除|清理|清运|修复|维修|修缮|安装|更换|"
    r"督促|责令|约谈|查处|处罚|罚款|立案|协调|开展|启动|制定|取消|恢复|发放|退还|签订|纳入|列入|"
    r"停止|停工|关闭|取缔|硬化|施工|建设|改造|整治|巡查|上报|申报|办理|通报|下发|批复|审批|"
    r"联系|沟通|回访|答复|劝导|教育|批评|增加|调整|设置|设立|实施|落实)|"
    r"(?:可以|可|不能|不得|无法|不属于|属于|不符合|符合|不存在|存在|应当|须|需)"
    r"[^。！!；;]{0,20}(?:申请|办理|享受|报销|领取|补缴|转移|入学|条件|范围|规定|标准|情况|问题|行为)|"
    r"(?:处以|给予|予以|作出|做出)"
)
# Sending the citizen elsewhere (请向…咨询, 可拨打…) is not an answer by itself.
_REFERRAL = re.compile(
    r"[^。！!；;]*(?:可向|请向|请您?(?:直接)?(?:咨询|联系|拨打|到)|可(?:以)?(?:直接)?(?:咨询|联系|拨打|致电)|"
    r"建议您?(?:向|咨询|直接)|欢迎(?:致电|来电|咨询))[^。！!；;]*[。！!；;]?"
)
_SUBSTANTIAL_HAN = (
    30  # a reply with this much of its own words (after boilerplate, referrals) answers something
)

_UNIT_SUFFIX = (
    r"(?:局|委员会|委|办公室|办事处|办|人民政府|镇政府|乡政府|党委|公司|集团|中心|大队|中队|支队|"
    r"派出所|车管所|供电所|国土所|管理所|管理处|(?:质安|质监|管理|服务|工作|监测|执法|农机|林业|水利|文化)站|医院|卫生院|学校|小学|中学|幼儿园|社区|居委会|"
    r"村委会|村两委|管委会|指挥部|银行|法院|检察院|街道)"
)
_WHO = re.compile(
    r"我(?:局|委|镇|乡|办|中心|司|公司|所|院|街道|处|支队|大队|中队|校|厅|站)(?![^。！!；;]{0,3}联系)|"
    r"(?<!有关)(?<!相关)(?<!上级)(?<!职能)[\u4e00-\u9fffA-Za-z0-9]{2,12}" + _UNIT_SUFFIX + r"|"
    r"[\u4e00-\u9fff]{2,6}[镇乡](?=[党政人核调组已将对进立积派工])"
)
_NOT_WHO = re.compile(r"政府发文|有关部门|相关部门|职能部门|有关单位|相关单位")
_DATE = re.compile(
    r"\d{2,4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|"
    r"[二〇零一三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日|\d{4}/\d{1,2}/\d{1,2}"
)
_WHEN_WORDS = re.compile(
    r"\d{1,2}\s*月(?:份|底|初|中旬|上旬|下旬|前|内)|"
    r"\d{4}\s*年(?:底|内|前|以来|起|度|上半年|下半年|春季|秋季)?|"
    r"(?:年底|年内|年前|月底|近日|近期|日前|目前|现已|现正|当天|当日|次日|即日|今年|明年|下半年|上半年|"
    r"春节前|本周|下周|本月|下月|本学期|新学期|寒假|暑假)|"
    r"[\d一二三四五六七八九十两]+\s*个?(?:工作日|日|天|周|个月|月|小时)(?:内|之内|以内|后)|"
    r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*[点时]"
)
# A signature date: at the very end, or just before the next reply begins (replies are joined).
_SIGNATURE_DATE = re.compile(
    r"(?:"
    + _DATE.pattern
    + r")\s*(?=$|[网尊您你“\"广来信]|UU)|二〇[一二三四五六七八九〇零]{2}年[^。]{0,8}日\s*$"
)
_SIGNED_BY = re.compile(r"[\u4e00-\u9fff]{2,20}" + _UNIT_SUFFIX + r"\s*(?:" + _DATE.pattern + r")?\s*$")


def _completeness(content: str, full: str) -> tuple[float, list[str], dict]:
    own_words = len(_HAN.findall(_REFERRAL.sub("", content)))
    what = own_words >= 10 and (bool(_WHAT.search(content)) or own_words >= _SUBSTANTIAL_HAN)
    scrubbed = _NOT_WHO.sub("", re.sub(r"\s+", "", full or ""))  # a unit named anywhere, forwards too
    who = bool(_WHO.search(scrubbed)) or bool(_SIGNED_BY.search(re.sub(r"\s+", "", full or "")))
    dated = _SIGNATURE_DATE.sub("", content)
    when = bool(_DATE.search(dated) or _WHEN_WORDS.search(dated))
    parts = {"what": what, "who": who, "when": when}
    reasons = [f"no_{k}" for k, v in parts.items() if not v] or ["complete"]
    return round(sum(parts.values()) / 3, 2), reasons, parts


# -- explanation ------------------------------------------------------------------------------------

_RULE = re.compile(
    r"《[^》]{2,60}》|第[一二三四五六七八九十百\d]+条|〔\d{4}〕|\[\d{4}\]|［\d{4}］|\d+号(?:令|文)|政府发文|"
    r"(?:法律|法规|条例|规定|办法|细则|规范|标准|政策|文件|规程)"
)
_REASON = re.compile(
    r"因为|由于|原因|鉴于|因此|所以|为了|为避免|以免|导致|造成|因(?=[^此为而，,。]{2,})|"
    r"确实|确有|确属|存在[^。]{0,10}(?:隐患|问题|情况)|"
    r"属实|不属实|基本属实|经查|经核实|经调查|经核查|经现场|核实|发现|未发现|不存在|"
    r"不符合|符合|不属于|属于|超出|不足|有限|无法|不具备|具备|根据|依据|按照|依照|"
    r"(?<![不])需(?:要)?[^。]{0,6}(?:审批|批准|过程|时间)"
)


def _explanation(content: str) -> tuple[float, list[str], dict]:
    rule = bool(_RULE.search(content))
    reason = bool(_REASON.search(content))
    if rule:
        return 1.0, ["cites_rule"], {"rule": True, "reason": reason}
    if reason:
        return 0.7, ["reason_only"], {"rule": False, "reason": True}
    return 0.0, ["no_basis"], {"rule": False, "reason": False}


# -- timeliness -------------------------------------------------------------------------------------


def _timeliness(
    received: datetime | None, replied: datetime | None, due: datetime | None
) -> tuple[float | None, list[str], dict]:
    if replied is None:
        return None, ["no_times"], {}
    if due is None:
        if received is None:
            return None, ["no_times"], {}
        limit_days = LIMIT_DAYS
        late_days = (replied - received).total_seconds() / 86400 - LIMIT_DAYS
    else:
        limit_days = max(1.0, ((due - received).total_seconds() / 86400) if received else LIMIT_DAYS)
        late_days = (replied - due).total_seconds() / 86400
    if late_days <= 0:
        return 1.0, ["on_time"], {"late_days": 0.0}
    score = max(0.0, 1 - late_days / (limit_days * (ZERO_AFTER_LIMITS - 1)))
    return round(score, 2), ["late"], {"late_days": round(late_days, 1)}


# -- the whole --------------------------------------------------------------------------------------


@dataclass
class Quality:
    """One reply's scores (0–1), reason codes per dimension, and whether it is flagged."""

    scores: dict[str, float | None]
    reasons: dict[str, list[str]]
    details: dict[str, dict] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        parts = self.details.get("completeness", {})
        return (
            (self.scores["relevance"] or 0) < 0.5
            or sum(bool(parts.get(k)) for k in ("what", "who", "when")) < 2
            or (self.scores["explanation"] or 0) == 0
        )

    @property
    def overall(self) -> float:
        known = [v for v in self.scores.values() if v is not None]
        return round(sum(known) / len(known), 2) if known else 0.0

    def problems(self) -> list[str]:
        """The reason codes that pull the reply down (what the unit could improve)."""
        good = {"on_topic", "complete", "cites_rule", "on_time", "no_times"}
        return [code for d in DIMENSIONS for code in self.reasons.get(d, []) if code not in good]

    def as_dict(self) -> dict:
        """What is stored with the reply (JSON)."""
        return {
            "version": SCORER_VERSION,
            "scores": self.scores,
            "overall": self.overall,
            "flagged": self.flagged,
            "reasons": self.reasons,
            "details": self.details,
        }


def reason_text(code: str, details: dict | None = None) -> str:
    """The reason in the active language."""
    text = str(REASONS.get(code, code))
    if code == "late":
        days = (details or {}).get("timeliness", {}).get("late_days", 0)
        return text % {"days": f"{days:g}"}
    return text


def explain(stored: dict) -> list[dict]:
    """Rows for a page: each dimension's score and its reasons in the active language."""
    rows = []
    for dim in DIMENSIONS:
        codes = stored.get("reasons", {}).get(dim, [])
        rows.append(
            {
                "dimension": dim,
                "label": DIMENSION_LABELS[dim],
                "score": stored.get("scores", {}).get(dim),
                "reasons": [reason_text(c, stored.get("details")) for c in codes],
                "ok": not any(
                    c not in {"on_topic", "complete", "cites_rule", "on_time", "no_times"} for c in codes
                ),
            }
        )
    return rows


def score_order_reply(order, text: str, *, at: datetime) -> Quality:
    """Score a reply to ``order`` (a hotline Order) sent at ``at``, against its request and finish limit."""
    request = order.request
    return score_reply(
        text,
        title=request.title,
        detail=request.description,
        received=order.dispatched_at,
        replied=at,
        due=order.finish_due,
    )


def score_reply(
    reply: str,
    *,
    title: str = "",
    detail: str = "",
    received: datetime | None = None,
    replied: datetime | None = None,
    due: datetime | None = None,
) -> Quality:
    """Score one reply against its request; pure: no database, no clock."""
    content = content_of(reply)
    rel, rel_reasons, rel_details = _relevance(title, detail, content)
    comp, comp_reasons, comp_details = _completeness(content, reply)
    if rel_reasons == ["only_ack"]:
        # an acknowledgement names nobody's action: the forward's unit is not the doer
        comp_details = {"what": False, "who": comp_details["who"], "when": False}
        comp = round(sum(comp_details.values()) / 3, 2)
        comp_reasons = [f"no_{k}" for k, v in comp_details.items() if not v] or ["complete"]
    expl, expl_reasons, expl_details = _explanation(content)
    time_score, time_reasons, time_details = _timeliness(received, replied, due)
    return Quality(
        scores={
            "relevance": rel,
            "completeness": comp,
            "explanation": expl,
            "timeliness": time_score,
        },
        reasons={
            "relevance": rel_reasons,
            "completeness": comp_reasons,
            "explanation": expl_reasons,
            "timeliness": time_reasons,
        },
        details={
            "relevance": rel_details,
            "completeness": comp_details,
            "explanation": expl_details,
            "timeliness": time_details,
        },
    )
