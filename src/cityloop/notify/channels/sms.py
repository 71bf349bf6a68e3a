"""Text messages through Alibaba Cloud SMS (dysmsapi ``SendSms``, API version 2017-05-25).

The provider's model: the city registers a signature (SignName) and one template per kind of message,
the provider approves them, and each request names a TemplateCode and gives the template's parameters
as a JSON object of strings (TemplateParam). Our rendered text is never sent; the settings map each
event to its TemplateCode (``CITYLOOP_SMS_TEMPLATES``) and the message's ``params`` fill it.

The request is an RPC-style GET, signed with signature version 1.0: the parameters, sorted by name and
percent-encoded (RFC 3986: space ``%20``, ``*`` ``%2A``, ``~`` kept), make the canonical query string;
``GET&%2F&`` + its encoding is signed with HMAC-SHA1 under ``AccessKeySecret + "&"``; the base64 of
that is the ``Signature`` parameter. The message's uid goes as ``OutId``, which the provider hands back
in its delivery receipts.

The answer's ``Code`` decides: ``OK`` is sent; throttling (``isv.BUSINESS_LIMIT_CONTROL``,
``Throttling.*``) and the provider's own faults (``isp.*``, HTTP 5xx) are :class:`Retry`; anything else
(a malformed number, an unknown template, a bad signature or key) is :class:`Refused`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from cityloop.notify.channels import _http
from cityloop.notify.channels.base import Outgoing, Refused, Retry

API_VERSION = "2017-05-25"
# Codes that pass: the provider throttles or is in trouble, the same request may go through later.
RETRY_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.DAY_LIMIT_CONTROL",
    "isv.MINUTE_LIMIT_CONTROL",
    "isv.BUSINESS_LIMIT_HOUR",
    "isv.BUSINESS_LIMIT_DAY",
    "BUSINESS_LIMIT_CONTROL_MINUTE",
    "BUSINESS_LIMIT_CONTROL_PHONE",
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
    "isp.UNKNOWN",
    "SignatureNonceUsed",  # a fresh nonce on the next attempt
    "ServiceUnavailable",
    "InternalError",
}


def percent_encode(value: str) -> str:
    """Alibaba Cloud's percent-encoding: RFC 3986 unreserved characters kept, everything else %XX (UTF-8)."""
    return quote(value, safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """Signature version 1.0 (HMAC-SHA1) over every parameter but ``Signature`` itself."""
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(unsigned))}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def template_param(params: dict[str, Any], names: list[str] | None) -> str:
    """The TemplateParam JSON: the template's parameters as strings (the provider refuses numbers)."""
    chosen = params if names is None else {n: params[n] for n in names if n in params}
    if names is not None and (missing := [n for n in names if n not in params]):
        raise Refused(f"the SMS template needs {', '.join(missing)}, which the message does not carry")
    return json.dumps(
        {k: "" if v is None else str(v) for k, v in chosen.items()}, ensure_ascii=False, separators=(",", ":")
    )


class AliyunSms:
    name = "sms"
    one_endpoint = True  # the provider's gateway

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: dict[str, dict[str, Any]],
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
        timeout_s: float = 10.0,
    ) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.templates = templates
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.timeout_s = timeout_s

    def request_params(self, message: Outgoing) -> dict[str, str]:
        """The signed query parameters of one SendSms request."""
        template = self.templates.get(message.event)
        if template is None:
            raise Refused(f"no SMS template is configured for {message.event} (CITYLOOP_SMS_TEMPLATES)")
        phone = message.address.strip()
        if not phone:
            raise Refused("no phone number")
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": message.uid,
            "PhoneNumbers": phone,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template["code"],
            "TemplateParam": template_param(message.params or {}, template.get("params")),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
        }
        params["Signature"] = signature(params, self._secret)
        return params

    def send(self, message: Outgoing) -> None:
        params = self.request_params(message)
        url = f"{self.endpoint}?{canonical_query(params)}"
        status, text = _http.request("GET", url, timeout=self.timeout_s, what="the SMS gateway")
        try:
            answer = json.loads(text.decode("utf-8")) if text else {}
        except (UnicodeDecodeError, ValueError):
            answer = {}
        code = str(answer.get("Code") or "") if isinstance(answer, dict) else ""
        detail = f"{code}: {answer.get('Message', '')}" if code else text[:200].decode("utf-8", "replace")
        if status == 200 and code == "OK":
            return
        if code in RETRY_CODES or code.startswith("Throttling") or code.startswith("isp."):
            raise Retry(f"SMS gateway HTTP {status} {detail}")
        if status >= 500 or status == 429:
            raise Retry(f"SMS gateway HTTP {status} {detail}")
        raise Refused(f"SMS gateway HTTP {status} {detail}")

    def close(self) -> None:
        return None
