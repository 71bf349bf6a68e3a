"""Checking a payload: signature, key validity, authority, revocation; and finding it in a file.

Online (the default) the keys and revocations come from this installation; offline, pass the
documents published at ``/seal/keys.json`` and ``/seal/status.json`` (``cityloop seal export-keys``
and ``cityloop seal status-list`` write them).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.translation import gettext, gettext_noop

from cityloop.seal import cose, keyring, published, rules

MARKER_RE = re.compile(rb"CLSEAL:(CL1:[0-9A-Z $%*+\-./:]+?):CLSEAL")
STREAM_RE = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    # valid | not_cityloop | damaged | malformed | unknown_key | tampered | key_period | authority | revoked
    # | status_list
    code: str
    template: str
    params: dict = field(default_factory=dict)
    claims: dict = field(default_factory=dict)
    # What a page says when ``template`` carries a technical detail in English (Base45, CBOR): the
    # person reading it learns what happened in their language; the CLI and logs keep the detail.
    page_template: str = ""

    @property
    def reason(self) -> str:
        """The reason in English (for the CLI, logs and tests)."""
        return self.template % self.params

    @property
    def localized_reason(self) -> str:
        return gettext(self.page_template or self.template) % self.params

    @property
    def issued_at(self) -> datetime | None:
        value = self.claims.get("issued_at")
        return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) else None


def _fail(
    code: str, template: str, claims: dict | None = None, *, page_template: str = "", **params
) -> VerifyResult:
    return VerifyResult(False, code, template, params, claims or {}, page_template)


DAMAGED_ON_THE_PAGE = {
    "damaged": gettext_noop("the payload was changed or damaged: a character was changed, added or lost"),
    "malformed": gettext_noop("the payload was changed or damaged: it is not a well-formed certificate"),
}


# Bounds on the work one uploaded file can cause (a PDF's Flate streams are inflated to be searched).
MAX_STREAMS = 200
MAX_INFLATED_STREAM = 1024 * 1024
MAX_INFLATED_TOTAL = 8 * 1024 * 1024


def extract_payload(data: bytes | str) -> str | None:
    """The payload between ``CLSEAL:`` and ``:CLSEAL`` in an HTML page, a PDF or pasted text.

    A PDF from CityLoop keeps it in its (uncompressed) metadata; if a tool re-saved the file with
    compressed streams, each Flate stream is inflated and searched too. A bare ``CL1:`` text is
    returned as it is.
    """
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    found = MARKER_RE.search(raw)
    if found:
        return found.group(1).decode("ascii")
    budget = MAX_INFLATED_TOTAL
    for number, stream in enumerate(STREAM_RE.finditer(raw)):
        if number >= MAX_STREAMS or budget <= 0:
            break  # a re-saved certificate has a handful of streams; a crafted file gets no more work
        try:
            inflated = cose.inflate(stream.group(1), min(MAX_INFLATED_STREAM, budget))
        except (zlib.error, cose.InflateLimit):
            continue
        budget -= len(inflated)
        found = MARKER_RE.search(inflated)
        if found:
            return found.group(1).decode("ascii")
    stripped = raw.strip()
    if stripped.startswith(cose.PREFIX.encode()) and b"\n" not in stripped:
        return stripped.decode("ascii", "replace")
    return None


def _normalise(text: str) -> str:
    found = extract_payload(text) if "CLSEAL:" in text else None
    # Base45 has no line breaks: ones added by a mail client or a wrapped copy are dropped.
    return found if found is not None else text.strip().replace("\r", "").replace("\n", "")


def _online_keys() -> dict[str, dict]:
    from cityloop.seal.models import SigningKey

    return {key.kid: published.key_entry(key) for key in SigningKey.objects.all()}


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _when(moment: datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _revocation(claims: dict, status_list: dict | None, keys: dict[str, dict]) -> VerifyResult | None:
    index, serial = claims.get("status_index"), claims.get("serial")
    if status_list is None:
        from cityloop.seal.models import Certificate

        cert = Certificate.objects.filter(status_index=index, revoked_at__isnull=False).first()
        if cert is None:
            return None
        return _fail(
            "revoked",
            gettext_noop("certificate %(serial)s was revoked on %(date)s: %(why)s"),
            claims,
            serial=serial,
            date=_when(cert.revoked_at),
            why=cert.revocation_reason,
        )
    problem = published.check_status_list(status_list, keys)
    if problem:
        return _fail(
            "status_list",
            gettext_noop("the revocation status cannot be checked: %(problem)s"),
            claims,
            problem=problem,
        )
    try:
        revoked = published.bit_is_set(str(status_list.get("encodedList", "")), int(index))
    except (ValueError, TypeError, OSError) as exc:
        return _fail(
            "status_list",
            gettext_noop("the revocation status cannot be checked: %(problem)s"),
            claims,
            problem=str(exc),
        )
    if not revoked:
        return None
    detail = (status_list.get("revocations") or {}).get(str(index)) or {}
    at = _moment(detail.get("revoked_at"))
    return _fail(
        "revoked",
        gettext_noop("certificate %(serial)s was revoked on %(date)s: %(why)s"),
        claims,
        serial=serial,
        date=_when(at) if at else "?",
        why=detail.get("reason", "?"),
    )


def verify_text(text: str, *, keys: dict | None = None, status_list: dict | None = None) -> VerifyResult:
    """Verify a payload (``CL1:…``, or any text holding ``CLSEAL:…:CLSEAL``).

    ``keys``: a keys.json document (offline); ``status_list``: a status.json document (offline).
    Each left out is read from this installation's database.
    """
    try:
        signed = cose.parse(cose.cose_bytes_of(_normalise(text or "")))
    except cose.PayloadError as exc:
        if exc.code == "not_cityloop":
            return _fail(exc.code, gettext_noop("not a CityLoop certificate payload"))
        return _fail(
            exc.code,
            gettext_noop("the payload was changed or damaged: %(detail)s"),
            detail=str(exc),
            page_template=DAMAGED_ON_THE_PAGE.get(exc.code, ""),
        )
    known = {entry["kid"]: entry for entry in keys.get("keys", [])} if keys is not None else _online_keys()
    entry = known.get(signed.kid_hex)
    if entry is None:
        return _fail(
            "unknown_key",
            gettext_noop("unknown key id %(kid)s: no CityLoop seal with this id is published"),
            kid=signed.kid_hex,
        )
    if not cose.check(signed, keyring.public_from_raw(published.b64url_decode(entry["x"]))):
        return _fail(
            "tampered", gettext_noop("signature does not match: the payload was changed"), kid=signed.kid_hex
        )
    claims = rules.from_claims_map(signed.claims)
    if claims.get("kid") != signed.kid_hex:
        return _fail("tampered", gettext_noop("signature does not match: the payload was changed"), claims)
    issued = datetime.fromtimestamp(int(claims.get("issued_at", 0)), tz=UTC)
    start, end = _moment(entry.get("valid_from")), _moment(entry.get("valid_until"))
    if (start and issued < start.replace(microsecond=0)) or (end and issued > end):
        return _fail(
            "key_period",
            gettext_noop("key %(kid)s was not valid on %(date)s, when the certificate says it was issued"),
            claims,
            kid=signed.kid_hex,
            date=_when(issued),
        )
    if entry["authority"] != "city" and entry["authority"] != claims.get("issuer_authority"):
        return _fail(
            "authority",
            gettext_noop("key %(kid)s belongs to %(owner)s, not to the issuer %(issuer)s"),
            claims,
            kid=signed.kid_hex,
            owner=entry.get("authority_name", entry["authority"]),
            issuer=claims.get("issuer"),
        )
    revoked = _revocation(claims, status_list, known)
    if revoked is not None:
        return revoked
    return VerifyResult(
        True,
        "valid",
        gettext_noop("valid: %(serial)s was signed by %(authority)s (key %(kid)s)"),
        {"serial": claims.get("serial"), "authority": entry.get("authority_name"), "kid": signed.kid_hex},
        claims,
    )
