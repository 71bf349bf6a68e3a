"""The payload format: CBOR claims → COSE_Sign1 (RFC 9052, EdDSA) → zlib → Base45, prefixed ``CL1:``.

The same layering as the EU Digital COVID Certificate (``HC1:``), so a QR code in alphanumeric
mode carries it. ``decode`` is strict: the COSE bytes must re-encode to exactly themselves, so a
changed byte anywhere either breaks the structure or the Ed25519 signature.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "CL1:"
COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HEADER_ALG, HEADER_KID = 1, 4


# A certificate's COSE bytes are a few hundred bytes; anything that inflates past this is not one
# (a zlib "bomb" of a few KB can inflate to gigabytes, so the limit is applied while inflating).
MAX_COSE_BYTES = 256 * 1024


class InflateLimit(ValueError):
    """The compressed data inflates to more than the allowed number of bytes."""


def inflate(data: bytes, limit: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    """Decompress ``data`` (zlib by default; ``wbits=31`` for gzip) and stop as soon as it passes
    ``limit``."""
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise InflateLimit(f"the data inflates to more than {limit} bytes")
    out += inflater.flush(limit + 1 - len(out))
    if len(out) > limit:
        raise InflateLimit(f"the data inflates to more than {limit} bytes")
    if not inflater.eof:
        raise zlib.error("incomplete or truncated stream")
    return out


class PayloadError(ValueError):
    """The text is not a well-formed CityLoop payload; ``code`` says which layer failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Signed:
    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes
    claims: dict

    @property
    def kid_hex(self) -> str:
        return self.kid.hex()


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign(claims_map: dict, *, kid: bytes, key: Ed25519PrivateKey) -> bytes:
    protected = cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: kid})
    payload = cbor2.dumps(claims_map)
    signature = key.sign(_sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def encode_text(cose_bytes: bytes) -> str:
    return PREFIX + base45.b45encode(zlib.compress(cose_bytes, 9)).decode("ascii")


def _loads_exact(data: bytes, what: str):
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise PayloadError("malformed", f"the {what} is not well-formed CBOR ({exc})") from exc
    if stream.tell() != len(data):
        raise PayloadError(
            "malformed", f"the {what} has {len(data) - stream.tell()} stray byte(s) at the end"
        )
    if cbor2.dumps(value) != data:
        raise PayloadError("malformed", f"the {what} is not in its canonical encoding")
    return value


def cose_bytes_of(text: str) -> bytes:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise PayloadError("not_cityloop", "not a CityLoop certificate payload (it does not start with CL1:)")
    try:
        compressed = base45.b45decode(text[len(PREFIX) :])
    except (ValueError, KeyError) as exc:
        raise PayloadError("damaged", f"the payload text is damaged: it is not valid Base45 ({exc})") from exc
    try:
        return inflate(compressed, MAX_COSE_BYTES)
    except InflateLimit as exc:
        raise PayloadError(
            "damaged", "the payload inflates to far more than a certificate: it is not one"
        ) from exc
    except zlib.error as exc:
        raise PayloadError("damaged", "the payload text was changed: its compressed data is corrupt") from exc


def parse(cose_bytes: bytes) -> Signed:
    """Take a COSE_Sign1 apart without checking the signature (``check`` does)."""
    outer = _loads_exact(cose_bytes, "COSE_Sign1 structure")
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != COSE_SIGN1_TAG:
        raise PayloadError("malformed", "the payload is not a COSE_Sign1 message (tag 18)")
    parts = outer.value
    if not (
        isinstance(parts, (list, tuple))
        and len(parts) == 4
        and isinstance(parts[0], bytes)
        and isinstance(parts[1], Mapping)
        and isinstance(parts[2], bytes)
        and isinstance(parts[3], bytes)
    ):
        raise PayloadError("malformed", "the COSE_Sign1 message does not have its four parts")
    protected_bytes, unprotected, payload, signature = parts
    if unprotected:
        raise PayloadError("malformed", "the COSE_Sign1 message carries unprotected headers")
    protected = _loads_exact(protected_bytes, "protected header")
    if not isinstance(protected, Mapping) or protected.get(HEADER_ALG) != ALG_EDDSA:
        raise PayloadError("malformed", "the protected header does not name EdDSA (alg -8)")
    kid = protected.get(HEADER_KID)
    if not isinstance(kid, bytes) or not kid:
        raise PayloadError("malformed", "the protected header has no key id")
    claims = _loads_exact(payload, "claims")
    if not isinstance(claims, Mapping):
        raise PayloadError("malformed", "the claims are not a CBOR map")
    return Signed(protected_bytes, kid, payload, signature, thaw(claims))


def thaw(value):
    """cbor2 decodes nested maps and arrays as immutable types; callers get plain dicts and lists."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(item) for item in value]
    return value


def check(signed: Signed, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(signed.signature, _sig_structure(signed.protected, signed.payload))
    except InvalidSignature:
        return False
    return True
