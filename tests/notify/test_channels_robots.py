"""Duty-group robots: WeCom group robots and DingTalk custom robots with signing.

The fake WeCom checks the key in the URL and the message's shape and length; the fake DingTalk checks
the access_token, the timestamp's age (one hour) and the signature recomputed from the received
timestamp with the robot's secret, answering as they do (errcode/errmsg).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from datetime import timedelta
from urllib.parse import unquote_plus

import pytest
from django.utils import timezone

from cityloop.core.config import ConfigError
from cityloop.notify import channels
from cityloop.notify.channels import robots
from cityloop.notify.channels.base import Outgoing, Refused, Retry
from cityloop.notify.channels.config import channel_settings
from cityloop.notify.recipients import To
from cityloop.notify.recipients import robots as robots_of
from tests.notify.fake_http import Provider, Seen, closed_port, serve

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN, DING_SECRET = "b7a0c1d2e3f4", "SECf3b0c4e8d2a1b6c9e7f5a3d1c8b4e6f2a9d7c5b3e1f8a6d4c2b0e9f7a5c3d1"


def _reply(errcode: int, errmsg: str) -> tuple[int, bytes]:
    return 200, json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()


def _wecom(provider: Provider, seen: Seen) -> tuple[int, bytes]:
    if provider.mode == "500":
        return 502, b"<html>Bad Gateway</html>"
    if seen.method != "POST" or seen.path != "/cgi-bin/webhook/send":
        return 404, b""
    if seen.query.get("key") != WECOM_KEY:
        return _reply(93000, "invalid webhook url, hint: [1731900000_12_abcdef], from ip: 127.0.0.1")
    if provider.mode == "throttle":
        return _reply(45009, "api freq out of limit, hint: [1731900000_45_abcdef]")
    try:
        doc = json.loads(seen.body)
    except ValueError:
        return _reply(40016, "invalid button size")
    if doc.get("msgtype") != "markdown" or not isinstance(doc.get("markdown"), dict):
        return _reply(40008, "invalid message type")
    content = doc["markdown"].get("content") or ""
    if not content:
        return _reply(41009, "missing content")
    if len(content.encode()) > 4096:
        return _reply(40058, "markdown.content exceed max length 4096")
    provider.state.setdefault("delivered", []).append(doc)
    return _reply(0, "ok")


def _dingtalk(provider: Provider, seen: Seen) -> tuple[int, bytes]:
    if provider.mode == "500":
        return 500, b""
    if seen.method != "POST" or seen.path != "/robot/send":
        return 404, b""
    if seen.query.get("access_token") != DING_TOKEN:
        return _reply(300001, "token is not exist")
    # the raw query, so the sign is decoded once, as DingTalk does
    raw = dict(part.split("=", 1) for part in seen.raw_query.split("&") if "=" in part)
    timestamp, sign = raw.get("timestamp", ""), unquote_plus(raw.get("sign", ""))
    if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > 3600 * 1000:
        return _reply(310000, "invalid timestamp")
    string_to_sign = f"{timestamp}\n{DING_SECRET}"
    digest = hmac.new(DING_SECRET.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):
        return _reply(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
    if provider.mode == "throttle":
        return _reply(130101, "send too fast, exceed 20 times per minute")
    if provider.mode == "invalid":
        return _reply(310000, "keywords not in content, more: [https://ding-doc.dingtalk.com]")
    doc = json.loads(seen.body)
    if (
        doc.get("msgtype") != "markdown"
        or not doc["markdown"].get("title")
        or not doc["markdown"].get("text")
    ):
        return _reply(40035, "缺少参数 json")
    provider.state.setdefault("delivered", []).append(doc)
    return _reply(0, "ok")


@pytest.fixture
def wecom():
    with serve(_wecom) as provider:
        yield provider


@pytest.fixture
def dingtalk():
    with serve(_dingtalk) as provider:
        yield provider


def _robots(wecom_url: str, dingtalk_url: str, *, secret: str = DING_SECRET) -> dict:
    return {
        "water-duty": {
            "kind": "wecom",
            "url": f"{wecom_url}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "secret": "",
            "units": ["WATER"],
            "language": None,
        },
        "d1-duty": {
            "kind": "dingtalk",
            "url": f"{dingtalk_url}/robot/send?access_token={DING_TOKEN}",
            "secret": secret,
            "units": ["D1S1", "D1"],
            "language": "zh-hans",
        },
    }


def _message(
    address: str, kind: str, body: str = "金融街街道吹哨,召集 市水务局 于 10:30 前报到。"
) -> Outgoing:
    return Outgoing(
        uid=str(uuid.uuid4()),
        event="whistle.summons",
        channel=kind,
        address=address,
        language="zh-hans",
        subject="吹哨报到:10:30 前",
        body=body,
        params={"no": "R20261118-00001"},
        created_at=timezone.now(),
    )


def test_a_wecom_robot_posts_markdown_with_the_uid(wecom):
    channel = robots.Robots("wecom", _robots(wecom.url, "http://unused"), timeout_s=5)
    message = _message("water-duty", "wecom")
    channel.send(message)
    (doc,) = wecom.state["delivered"]
    content = doc["markdown"]["content"]
    assert content.startswith("**吹哨报到:10:30 前**") and "召集 市水务局" in content
    assert content.rstrip().endswith(message.uid)


def test_a_long_wecom_message_is_cut_to_the_limit(wecom):
    channel = robots.Robots("wecom", _robots(wecom.url, "http://unused"), timeout_s=5)
    message = _message("water-duty", "wecom", body="长" * 3000)
    channel.send(message)
    content = wecom.state["delivered"][0]["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith(message.uid)


def test_a_wrong_wecom_key_is_refused_and_throttling_retried(wecom):
    config = _robots(wecom.url, "http://unused")
    config["water-duty"]["url"] = f"{wecom.url}/cgi-bin/webhook/send?key=wrong"
    with pytest.raises(Refused, match="errcode 93000"):
        robots.Robots("wecom", config, timeout_s=5).send(_message("water-duty", "wecom"))
    channel = robots.Robots("wecom", _robots(wecom.url, "http://unused"), timeout_s=5)
    wecom.mode = "throttle"
    with pytest.raises(Retry, match="errcode 45009"):
        channel.send(_message("water-duty", "wecom"))
    wecom.mode = "500"
    with pytest.raises(Retry, match="HTTP 502"):
        channel.send(_message("water-duty", "wecom"))


def test_a_dingtalk_robot_signs_and_posts_markdown_with_the_uid(dingtalk):
    channel = robots.Robots("dingtalk", _robots("http://unused", dingtalk.url), timeout_s=5)
    message = _message("d1-duty", "dingtalk")
    channel.send(message)
    (doc,) = dingtalk.state["delivered"]
    assert doc["markdown"]["title"] == "吹哨报到:10:30 前"
    assert message.uid in doc["markdown"]["text"]
    # the timestamp is the (pinned) clock's, in milliseconds
    (seen,) = dingtalk.requests
    assert abs(int(seen.query["timestamp"]) - time.time() * 1000) < 60_000


def test_the_dingtalk_signature_is_the_documented_one():
    # timestamp + "\n" + secret, HMAC-SHA256 under the secret, base64, then URL-encoded
    digest = hmac.new(b"this is secret", b"1700000000000\nthis is secret", hashlib.sha256).digest()
    assert robots.dingtalk_sign("this is secret", 1700000000000) == (
        base64.b64encode(digest).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    )


def test_a_wrong_dingtalk_secret_is_refused(dingtalk):
    channel = robots.Robots(
        "dingtalk", _robots("http://unused", dingtalk.url, secret="SECwrong"), timeout_s=5
    )
    with pytest.raises(Refused, match="errcode 310000 sign not match"):
        channel.send(_message("d1-duty", "dingtalk"))


def test_dingtalk_throttling_and_errors(dingtalk):
    channel = robots.Robots("dingtalk", _robots("http://unused", dingtalk.url), timeout_s=5)
    dingtalk.mode = "throttle"
    with pytest.raises(Retry, match="errcode 130101"):
        channel.send(_message("d1-duty", "dingtalk"))
    dingtalk.mode = "invalid"
    with pytest.raises(Refused, match="keywords not in content"):
        channel.send(_message("d1-duty", "dingtalk"))
    dingtalk.mode = "500"
    with pytest.raises(Retry, match="HTTP 500"):
        channel.send(_message("d1-duty", "dingtalk"))


def test_a_dingtalk_request_signed_more_than_an_hour_ago_is_refused(dingtalk, _pinned_clock):
    url = _robots("http://unused", dingtalk.url)["d1-duty"]["url"]
    stamp = int(time.time() * 1000)
    signed = f"{url}&timestamp={stamp}&sign={robots.dingtalk_sign(DING_SECRET, stamp)}"
    _pinned_clock.shift(timedelta(hours=2))
    status, text = robots._http.request("POST", signed, body=b"{}", timeout=5)
    assert json.loads(text) == {"errcode": 310000, "errmsg": "invalid timestamp"}


def test_an_unknown_robot_is_refused_and_unreachable_ones_retried(dingtalk):
    channel = robots.Robots("dingtalk", _robots("http://unused", dingtalk.url), timeout_s=5)
    with pytest.raises(Refused, match="no dingtalk robot is called 'water-duty'"):
        channel.send(_message("water-duty", "dingtalk"))
    gone = robots.Robots(
        "dingtalk", _robots("http://unused", f"http://127.0.0.1:{closed_port()}"), timeout_s=5
    )
    with pytest.raises(Retry, match="unreachable"):
        gone.send(_message("d1-duty", "dingtalk"))
    dingtalk.mode, dingtalk.slow_s = "slow", 1.5
    slow = robots.Robots("dingtalk", _robots("http://unused", dingtalk.url), timeout_s=0.3)
    with pytest.raises(Retry, match="timed out"):
        slow.send(_message("d1-duty", "dingtalk"))


ROBOTS_YAML = """\
water-duty:
  kind: wecom
  url: {wecom}/cgi-bin/webhook/send?key={key}
  units: [WATER]
d1-duty:
  kind: dingtalk
  url: {dingtalk}/robot/send?access_token={token}
  secret: {secret}
  units: [D1S1, D1]
  language: en
"""


def _env(monkeypatch, **values):
    for name in [n for n in os.environ if n.startswith(("CITYLOOP_SMS_", "CITYLOOP_NOTIFY_"))]:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_robots_come_from_the_yaml_file_and_serve_their_units(wecom, dingtalk, monkeypatch, tmp_path):
    path = tmp_path / "robots.yaml"
    path.write_text(
        ROBOTS_YAML.format(
            wecom=wecom.url, dingtalk=dingtalk.url, key=WECOM_KEY, token=DING_TOKEN, secret=DING_SECRET
        ),
        encoding="utf-8",
    )
    _env(monkeypatch)
    assert channels.channel("wecom") is None and channels.channel("dingtalk") is None
    _env(monkeypatch, CITYLOOP_NOTIFY_ROBOTS=str(path))
    assert robots_of("D1S1") == [To("dingtalk", "d1-duty", language="en")]
    assert [r.address for r in robots_of("WATER")] == ["water-duty"]
    assert robots_of("D2") == []
    wecom_channel, dingtalk_channel = channels.channel("wecom"), channels.channel("dingtalk")
    assert wecom_channel is not None and dingtalk_channel is not None
    wecom_channel.send(_message("water-duty", "wecom"))
    dingtalk_channel.send(_message("d1-duty", "dingtalk"))
    assert len(wecom.state["delivered"]) == len(dingtalk.state["delivered"]) == 1


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("r1: {kind: slack, url: 'https://x/?key=1'}", "robot 'r1': kind must be one of wecom, dingtalk"),
        ("r1: {kind: wecom, url: 'ftp://x'}", "robot 'r1': url must be an http:// or https:// URL"),
        ("r1: {kind: wecom, url: 'https://x/send'}", "a WeCom robot's url carries its key"),
        (
            "r1: {kind: dingtalk, url: 'https://x/send?access_token=1'}",
            "a DingTalk robot needs its signing secret",
        ),
        ("r1: {kind: wecom, url: 'https://x/?key=1', unit: [A]}", "has unknown keys ['unit']"),
        ("r1: {kind: wecom, url: 'https://x/?key=1', language: fr}", "language must be one of zh-hans, en"),
        ("- just a list", "must map each robot's name"),
        ("r1: {kind: wecom, url: [", "is not valid YAML"),
    ],
)
def test_a_bad_robots_file_names_the_variable_the_robot_and_the_rule(monkeypatch, tmp_path, text, complaint):
    path = tmp_path / "robots.yaml"
    path.write_text(text, encoding="utf-8")
    _env(monkeypatch, CITYLOOP_NOTIFY_ROBOTS=str(path))
    with pytest.raises(ConfigError, match=r"^CITYLOOP_NOTIFY_ROBOTS=.*" + re.escape(complaint)):
        channel_settings()
