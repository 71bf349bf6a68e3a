"""Duty-group robots: WeCom (企业微信) group robots and DingTalk (钉钉) custom robots.

A robot is a webhook URL a group's owner creates; the city names each one in ``CITYLOOP_NOTIFY_ROBOTS``
with the units whose duty group it posts to, and a message's ``address`` is that name.

* **WeCom**: POST ``{"msgtype": "markdown", "markdown": {"content": …}}`` to
  ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` (the key is the credential; no signing).
  ``errcode`` 0 is sent; 45009 (over the 20-a-minute limit) and -1 (busy) are :class:`Retry`.
* **DingTalk**: the robot's security setting "加签": the URL gets ``&timestamp=<ms>&sign=<s>`` where
  ``s`` is the URL-encoded base64 of HMAC-SHA256 under the robot's secret (``SEC…``) of
  ``f"{timestamp}\\n{secret}"``; the timestamp must be within an hour of DingTalk's clock. POST
  ``{"msgtype": "markdown", "markdown": {"title": …, "text": …}}``. ``errcode`` 0 is sent; 130101 (too
  fast) and -1 (busy) are :class:`Retry`; 310000 (a bad signature, a missing keyword, an IP not
  allowed) and every other code are :class:`Refused`.

Both carry the message's uid on the text's last line, so a reader (or a bot reading the group) can tell
a second copy from a new message. HTTP 5xx and 429 are :class:`Retry`, other HTTP errors :class:`Refused`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote_plus

from cityloop.notify.channels import _http
from cityloop.notify.channels.base import Outgoing, Refused, Retry

WECOM_RETRY = {-1, 45009}
DINGTALK_RETRY = {-1, 130101}
WECOM_MAX_BYTES = 4096  # a WeCom markdown message's content
DINGTALK_MAX_BYTES = 18000  # DingTalk allows 20,000 bytes for the whole message


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature for a timestamp: base64(HMAC-SHA256(secret, f"{ts}\\n{secret}")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def _cut(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", "ignore") + "…"


def _text(message: Outgoing, limit: int) -> str:
    """The markdown text: the subject in bold, the body, and the uid on the last line."""
    tail = f"\n\n> {message.event} · {message.uid}"
    head = f"**{message.subject}**\n\n"
    return head + _cut(message.body, limit - len(head.encode()) - len(tail.encode())) + tail


class Robots:
    """The configured robots of one kind; ``send`` posts to the one the message's address names."""

    one_endpoint = False  # each robot has its own webhook URL

    def __init__(self, kind: str, robots: dict[str, dict[str, Any]], *, timeout_s: float = 10.0) -> None:
        if kind not in ("wecom", "dingtalk"):
            raise ValueError(f"unknown robot kind {kind!r}")
        self.name = kind
        self.robots = {name: r for name, r in robots.items() if r["kind"] == kind}
        self.timeout_s = timeout_s

    def send(self, message: Outgoing) -> None:
        robot = self.robots.get(message.address)
        if robot is None:
            raise Refused(f"no {self.name} robot is called {message.address!r} (CITYLOOP_NOTIFY_ROBOTS)")
        url = robot["url"]
        if self.name == "wecom":
            payload: dict[str, Any] = {
                "msgtype": "markdown",
                "markdown": {"content": _text(message, WECOM_MAX_BYTES)},
            }
            retry_codes = WECOM_RETRY
        else:
            timestamp = int(time.time() * 1000)
            url = f"{url}&timestamp={timestamp}&sign={dingtalk_sign(robot['secret'], timestamp)}"
            payload = {
                "msgtype": "markdown",
                "markdown": {
                    "title": message.subject or message.event,
                    "text": _text(message, DINGTALK_MAX_BYTES),
                },
            }
            retry_codes = DINGTALK_RETRY
        body = json.dumps(payload, ensure_ascii=False).encode()
        status, text = _http.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=self.timeout_s,
            what=f"the {self.name} robot {message.address}",
        )
        if status >= 500 or status == 429:
            raise Retry(f"{self.name} robot {message.address}: HTTP {status}")
        if status != 200:
            raise Refused(
                f"{self.name} robot {message.address}: HTTP {status} {text[:200].decode('utf-8', 'replace')}"
            )
        try:
            answer = json.loads(text.decode("utf-8"))
            errcode = int(answer.get("errcode", -1))
        except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
            raise Retry(f"{self.name} robot {message.address}: an answer that is not JSON") from None
        if errcode == 0:
            return
        detail = f"{self.name} robot {message.address}: errcode {errcode} {answer.get('errmsg', '')}"
        if errcode in retry_codes:
            raise Retry(detail)
        raise Refused(detail)

    def close(self) -> None:
        return None
