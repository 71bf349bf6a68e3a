"""SMS through Alibaba Cloud's SendSms: signed as the provider signs, judged by the provider's codes.

The fake gateway checks each request as dysmsapi does: the common parameters, the AccessKeyId, the
timestamp's age, a nonce used once, and the signature recomputed from the received query with the
account's secret (its own percent-encoding, not the channel's), answering with the provider's error
bodies. Only then does it look at the number, the template and its parameters.
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
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from cityloop.core.config import ConfigError
from cityloop.notify import channels
from cityloop.notify.channels import sms
from cityloop.notify.channels.base import Outgoing, Refused, Retry
from cityloop.notify.channels.config import channel_settings
from tests.conftest import PINNED_NOW
from tests.notify.fake_http import Provider, Seen, closed_port, serve

KEY_ID, SECRET = "LTAI5tCityLoopTest", "s3cr3t/with+odd=chars~*"
TEMPLATES = {"request.received": "SMS_465301001", "request.replied": "SMS_465301002"}
PHONE = "13800138000"
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _encode(text: str) -> str:
    """The provider's percent-encoding, byte by byte (RFC 3986 unreserved kept)."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode())


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    body = {"RequestId": str(uuid.uuid4()).upper(), "HostId": "dysmsapi.aliyuncs.com", "Code": code}
    body["Message"] = message
    return status, json.dumps(body).encode()


def _dysmsapi(provider: Provider, seen: Seen) -> tuple[int, bytes]:
    q = seen.query
    if seen.method != "GET" or seen.path != "/":
        return _error(404, "InvalidAction.NotFound", "Specified api is not found")
    for name in (
        "AccessKeyId",
        "Action",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "Timestamp",
        "Version",
    ):
        if not q.get(name):
            return _error(400, f"MissingParameter.{name}", f"{name} is mandatory for this action.")
    if q["Action"] != "SendSms" or q["Version"] != "2017-05-25":
        return _error(404, "InvalidAction.NotFound", "Specified api is not found")
    if q["SignatureMethod"] != "HMAC-SHA1" or q.get("SignatureVersion") != "1.0":
        return _error(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
    if q["AccessKeyId"] != KEY_ID:
        return _error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    sent_at = datetime.strptime(q["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - sent_at) > timedelta(minutes=15):
        return _error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    nonces = provider.state.setdefault("nonces", set())
    if q["SignatureNonce"] in nonces:
        return _error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    nonces.add(q["SignatureNonce"])
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(q.items()) if k != "Signature")
    to_sign = "GET&%2F&" + _encode(canonical)
    expected = base64.b64encode(
        hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()
    if not hmac.compare_digest(expected, q["Signature"]):
        return _error(
            400,
            "SignatureDoesNotMatch",
            f"Specified signature is not matched with our calculation. server string to sign is:{to_sign}",
        )
    if provider.mode == "500":
        return _error(
            500, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
        )
    ok = {"RequestId": str(uuid.uuid4()).upper(), "Message": "OK", "BizId": "900619746936498440^0"}
    if provider.mode == "throttle":
        return 200, json.dumps(
            {**ok, "Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
        ).encode()
    if not re.fullmatch(r"(\+?86|0086)?1[3-9]\d{9}", q.get("PhoneNumbers", "")):
        return 200, json.dumps({**ok, "Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}).encode()
    if q.get("SignName") != "测试市12345" or provider.mode == "invalid":
        return 200, json.dumps({**ok, "Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "签名不合法"}).encode()
    if q.get("TemplateCode") not in TEMPLATES.values():
        return 200, json.dumps({**ok, "Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不合法"}).encode()
    try:
        params = json.loads(q.get("TemplateParam") or "{}")
    except ValueError:
        params = None
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        return 200, json.dumps({**ok, "Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}).encode()
    provider.state.setdefault("delivered", []).append(q)
    return 200, json.dumps({**ok, "Code": "OK"}).encode()


@pytest.fixture
def gateway():
    with serve(_dysmsapi) as provider:
        yield provider


def _channel(url: str, *, secret: str = SECRET, timeout_s: float = 5.0, params=None) -> sms.AliyunSms:
    templates = {event: {"code": code, "params": params} for event, code in TEMPLATES.items()}
    return sms.AliyunSms(
        access_key_id=KEY_ID,
        access_key_secret=secret,
        sign_name="测试市12345",
        templates=templates,
        endpoint=url,
        timeout_s=timeout_s,
    )


def _message(address: str = PHONE, event: str = "request.received", **params) -> Outgoing:
    return Outgoing(
        uid=str(uuid.uuid4()),
        event=event,
        channel="sms",
        address=address,
        language="zh-hans",
        subject="诉求 R20261118-00001 已受理",
        body="您的诉求 R20261118-00001 已受理,查询码 7Q4K-2M9P。",
        params=params or {"no": "R20261118-00001", "code": "7Q4K-2M9P", "days": 7},
        created_at=timezone.now(),
    )


def test_the_signature_is_the_documented_example():
    # Alibaba Cloud's own worked example (SMS API, "HTTP protocol and signature"): testId / testSecret.
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sms.signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms.percent_encode("a b*c~d/é") == "a%20b%2Ac~d%2F%C3%A9"


def test_a_good_message_is_accepted_with_its_template_params_and_uid(gateway):
    message = _message()
    _channel(gateway.url).send(message)
    (seen,) = gateway.state["delivered"]
    assert seen["PhoneNumbers"] == PHONE
    assert seen["TemplateCode"] == "SMS_465301001"
    assert json.loads(seen["TemplateParam"]) == {"no": "R20261118-00001", "code": "7Q4K-2M9P", "days": "7"}
    assert seen["OutId"] == message.uid
    assert seen["SignName"] == "测试市12345" and seen["Format"] == "JSON"
    # the pinned clock, in UTC
    sent_at = datetime.strptime(seen["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(sent_at - PINNED_NOW) < timedelta(minutes=1)
    assert "已受理" not in gateway.requests[0].raw_query  # our rendered text never goes; only the params


def test_only_the_templates_own_params_go_when_the_settings_name_them(gateway):
    _channel(gateway.url, params=["no"]).send(_message())
    assert json.loads(gateway.state["delivered"][0]["TemplateParam"]) == {"no": "R20261118-00001"}
    with pytest.raises(Refused, match="needs missing"):
        _channel(gateway.url, params=["no", "missing"]).send(_message())


def test_each_request_has_a_fresh_nonce(gateway):
    channel = _channel(gateway.url)
    for _ in range(3):
        channel.send(_message())
    assert len({r.query["SignatureNonce"] for r in gateway.requests}) == 3


def test_a_wrong_secret_is_refused_as_the_provider_refuses_it(gateway):
    with pytest.raises(Refused, match="SignatureDoesNotMatch"):
        _channel(gateway.url, secret="not-the-secret").send(_message())


def test_a_bad_number_and_an_unknown_event_are_refused(gateway):
    with pytest.raises(Refused, match="isv.MOBILE_NUMBER_ILLEGAL"):
        _channel(gateway.url).send(_message(address="1380013"))
    with pytest.raises(Refused, match="no SMS template"):
        _channel(gateway.url).send(_message(event="order.new"))
    gateway.mode = "invalid"
    with pytest.raises(Refused, match="isv.SMS_SIGNATURE_ILLEGAL"):
        _channel(gateway.url).send(_message())


def test_an_unknown_template_code_is_refused(gateway):
    channel = _channel(gateway.url)
    channel.templates = {"request.received": {"code": "SMS_000000", "params": None}}
    with pytest.raises(Refused, match="isv.SMS_TEMPLATE_ILLEGAL"):
        channel.send(_message())


def test_throttling_and_a_server_error_are_retried(gateway):
    gateway.mode = "throttle"
    with pytest.raises(Retry, match="isv.BUSINESS_LIMIT_CONTROL"):
        _channel(gateway.url).send(_message())
    gateway.mode = "500"
    with pytest.raises(Retry, match="HTTP 500"):
        _channel(gateway.url).send(_message())
    gateway.mode = "ok"
    _channel(gateway.url).send(_message())
    assert len(gateway.state["delivered"]) == 1


def test_a_refused_connection_and_a_timeout_are_retried(gateway):
    with pytest.raises(Retry, match="unreachable"):
        _channel(f"http://127.0.0.1:{closed_port()}/").send(_message())
    gateway.mode, gateway.slow_s = "slow", 1.5
    started = time.monotonic()
    with pytest.raises(Retry, match="timed out"):
        _channel(gateway.url, timeout_s=0.3).send(_message())
    assert time.monotonic() - started < 1.4


def test_a_clock_far_off_is_refused_by_the_gateway(gateway, _pinned_clock):
    channel = _channel(gateway.url)
    params = channel.request_params(_message())  # signed at the pinned time
    _pinned_clock.shift(timedelta(hours=1))  # the request reaches the gateway an hour later
    status, text = sms._http.request("GET", f"{gateway.url}/?{sms.canonical_query(params)}", timeout=5)
    assert status == 400 and json.loads(text)["Code"] == "InvalidTimeStamp.Expired"


def _env(monkeypatch, **values):
    for name in [n for n in os.environ if n.startswith(("CITYLOOP_SMS_", "CITYLOOP_NOTIFY_"))]:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_the_factory_builds_the_configured_gateway_from_the_environment(gateway, monkeypatch, tmp_path):
    templates = tmp_path / "sms.yaml"
    templates.write_text(
        "request.received: SMS_465301001\nrequest.replied:\n  code: SMS_465301002\n  params: [no, reply]\n",
        encoding="utf-8",
    )
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    _env(monkeypatch)
    assert channels.channel("sms") is None  # off by default
    _env(
        monkeypatch,
        CITYLOOP_SMS_PROVIDER="aliyun",
        CITYLOOP_SMS_ENDPOINT=gateway.url,
        CITYLOOP_SMS_ACCESS_KEY_ID=KEY_ID,
        CITYLOOP_SMS_ACCESS_KEY_SECRET_FILE=str(secret_file),
        CITYLOOP_SMS_SIGN_NAME="测试市12345",
        CITYLOOP_SMS_TEMPLATES=str(templates),
    )
    channel = channels.channel("sms")
    assert channel is not None and channel.name == "sms"
    channel.send(_message(event="request.replied", no="R1", reply="已修复", unit="金融街街道"))
    assert json.loads(gateway.state["delivered"][0]["TemplateParam"]) == {"no": "R1", "reply": "已修复"}
    assert channel_settings()["sms"]["templates"]["request.received"] == {
        "code": "SMS_465301001",
        "params": None,
    }


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"CITYLOOP_SMS_PROVIDER": "tencent"}, "CITYLOOP_SMS_PROVIDER='tencent' must be one of aliyun, off"),
        ({"CITYLOOP_SMS_PROVIDER": "aliyun"}, "CITYLOOP_SMS_ACCESS_KEY_ID must be set"),
        ({"CITYLOOP_SMS_ENDPOINT": "ftp://x"}, "CITYLOOP_SMS_ENDPOINT='ftp://x' must be an http"),
        ({"CITYLOOP_NOTIFY_HTTP_TIMEOUT_S": "0"}, "CITYLOOP_NOTIFY_HTTP_TIMEOUT_S='0' must be between"),
    ],
)
def test_bad_settings_name_the_variable_and_the_rule(monkeypatch, tmp_path, values, complaint):
    _env(monkeypatch, **values)
    with pytest.raises(ConfigError, match=re.escape(complaint)):
        channel_settings()


def test_a_templates_file_that_does_not_map_events_is_refused(monkeypatch, tmp_path):
    bad = tmp_path / "sms.json"
    bad.write_text('{"request.received": 42}', encoding="utf-8")
    base = {
        "CITYLOOP_SMS_PROVIDER": "aliyun",
        "CITYLOOP_SMS_ACCESS_KEY_ID": KEY_ID,
        "CITYLOOP_SMS_ACCESS_KEY_SECRET": SECRET,
        "CITYLOOP_SMS_SIGN_NAME": "测试市12345",
    }
    _env(monkeypatch, **base, CITYLOOP_SMS_TEMPLATES=str(bad))
    with pytest.raises(
        ConfigError, match="CITYLOOP_SMS_TEMPLATES=.*'request.received' must name a TemplateCode"
    ):
        channel_settings()
    _env(monkeypatch, **base, CITYLOOP_SMS_TEMPLATES=str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="CITYLOOP_SMS_TEMPLATES=.* cannot be read"):
        channel_settings()


def test_a_bad_setting_stops_the_commands_at_the_start(monkeypatch):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    _env(monkeypatch, CITYLOOP_SMS_PROVIDER="bogus")
    with pytest.raises(SystemCheckError, match=r"cityloop.E002.*CITYLOOP_SMS_PROVIDER='bogus'"):
        call_command("check")
    _env(monkeypatch)
    call_command("check")
