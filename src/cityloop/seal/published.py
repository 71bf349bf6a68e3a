"""The two public documents verifiers need: ``keys.json`` and the signed status list.

The status list follows the W3C Bitstring Status List: bit ``i`` (most significant bit of byte 0
is index 0) is 1 when the certificate with status index ``i`` is revoked; the bits are gzipped
and base64url-encoded with the multibase prefix ``u``. It is padded to at least 131072 entries
so the list does not reveal how many certificates exist. CityLoop adds a ``revocations`` map
(index → serial, date, reason) so an offline verifier can say why, and signs the document with
the city seal (``proof``).
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature

from cityloop.seal import keyring
from cityloop.seal.cose import InflateLimit, inflate
from cityloop.seal.models import CITY_AUTHORITY, Certificate, SigningKey

MIN_LENGTH = 131072
# 16 million certificates; a list that inflates past this is not ours (and would cost memory to check).
MAX_LIST_BYTES = 2 * 1024 * 1024
# How long a fetched list counts; CityLoop serves a fresh one on every request.
STATUS_LIST_VALID_HOURS = 24


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def key_entry(key: SigningKey) -> dict:
    public = keyring.load_public_pem(key.public_key_pem)
    return {
        "kid": key.kid,
        "authority": key.authority,
        "authority_name": key.authority_name,
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "x": b64url(keyring.raw_public(public)),
        "valid_from": _iso(key.created_at),
        "valid_until": _iso(key.retired_at),
    }


def keys_document() -> dict:
    from django.utils import timezone

    return {
        "type": "CityLoopSealKeys",
        "published": _iso(timezone.now()),
        "keys": [key_entry(key) for key in SigningKey.objects.order_by("created_at", "kid")],
    }


def canonical(document: dict) -> bytes:
    body = {name: value for name, value in document.items() if name != "proof"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_bits(revoked_indexes: list[int], length: int) -> str:
    bits = bytearray(length // 8)
    for index in revoked_indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return "u" + b64url(gzip.compress(bytes(bits), mtime=0))


def bit_is_set(encoded_list: str, index: int) -> bool:
    if not encoded_list.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (start with 'u')")
    try:
        bits = inflate(b64url_decode(encoded_list[1:]), MAX_LIST_BYTES, wbits=31)
    except InflateLimit as exc:
        raise ValueError(f"the status list inflates to more than {MAX_LIST_BYTES} bytes") from exc
    except zlib.error as exc:
        raise ValueError("the status list's encodedList is not valid gzip data") from exc
    if index >= len(bits) * 8:
        raise ValueError(f"status index {index} is beyond the list's {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_list_document(signing_key: SigningKey) -> dict:
    """The current list, signed with ``signing_key`` (the city seal's current key)."""
    from django.utils import timezone

    top = Certificate.objects.order_by("-status_index").values_list("status_index", flat=True).first() or 0
    length = max(MIN_LENGTH, -(-(top + 1) // MIN_LENGTH) * MIN_LENGTH)
    revoked = list(
        Certificate.objects.filter(revoked_at__isnull=False).values_list(
            "status_index", "serial", "revoked_at", "revocation_reason"
        )
    )
    document = {
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "issued": _iso(timezone.now()),
        "validUntil": _iso(timezone.now() + timedelta(hours=STATUS_LIST_VALID_HOURS)),
        "length": length,
        "encodedList": encode_bits([row[0] for row in revoked], length),
        "revocations": {
            str(index): {"serial": serial, "revoked_at": _iso(at), "reason": reason}
            for index, serial, at, reason in revoked
        },
    }
    signature = keyring.load(signing_key.kid).sign(canonical(document))
    document["proof"] = {"alg": "EdDSA", "kid": signing_key.kid, "signature": b64url(signature)}
    return document


def check_status_list(document: dict, keys: dict[str, dict], now: datetime | None = None) -> str | None:
    """None when the list is signed by a published city key and still fresh, else what is wrong with it.

    A list carries ``validUntil``: an old copy (kept by someone who wants a revoked certificate to look
    valid) stops counting then, and the verifier must fetch a new one."""
    proof = document.get("proof") if isinstance(document, dict) else None
    if not isinstance(proof, dict) or not isinstance(proof.get("signature"), str):
        return "the status list is not signed (no proof)"
    entry = keys.get(str(proof.get("kid")))
    if entry is None:
        return f"the status list is signed with unknown key id {proof.get('kid')}"
    if entry.get("authority") != CITY_AUTHORITY:
        return f"the status list is signed with key {proof.get('kid')}, which is not a city seal key"
    try:
        keyring.public_from_raw(b64url_decode(entry["x"])).verify(
            b64url_decode(proof["signature"]), canonical(document)
        )
    except (InvalidSignature, ValueError, KeyError):
        return "the status list's signature does not match: the list was changed"
    try:
        valid_until = datetime.fromisoformat(str(document["validUntil"]))
    except (KeyError, ValueError):
        return "the status list has no valid validUntil: its freshness cannot be checked"
    if valid_until.tzinfo is None:
        return "the status list's validUntil has no time zone"
    if now is None:
        from django.utils import timezone

        now = timezone.now()
    moment = now
    if moment > valid_until:
        return f"the status list expired at {_iso(valid_until)}: fetch a new one"
    return None
