"""Issue → verify, and every way a payload can be changed, fails with a reason a person can read."""

from __future__ import annotations

import json
import random
import zlib

import base45
import pytest

from cityloop.core.actors import SYSTEM
from cityloop.seal import actions, cose, keyring, published, rules, verify

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CHANGED = {"tampered", "malformed", "damaged", "unknown_key"}


def _cose(cert) -> bytes:
    return cose.cose_bytes_of(cert.payload)


def test_an_issued_certificate_verifies_with_its_claims(issue):
    cert = issue()
    result = verify.verify_text(cert.payload)
    assert result.ok, result.reason
    assert result.reason.startswith(f"valid: {cert.serial} was signed by")
    assert result.claims["serial"] == cert.serial
    assert result.claims["holder_id"] == "110101********1234"
    assert result.claims["fields"] == {"名称": "小明餐饮有限公司", "经营范围": "餐饮服务"}
    assert result.claims["kid"] == cert.kid
    assert rules.SERIAL_RE.match(cert.serial)


def test_the_payload_is_a_base45_cose_sign1_with_eddsa_and_the_kid(issue):
    import cbor2

    cert = issue()
    assert cert.payload.startswith("CL1:")
    outer = cbor2.loads(_cose(cert))
    assert outer.tag == 18
    protected = cbor2.loads(outer.value[0])
    assert protected[1] == -8 and protected[4] == bytes.fromhex(cert.kid)


def test_changing_any_byte_of_the_signed_message_fails_with_a_reason(issue):
    cert = issue()
    keys = published.keys_document()
    original = _cose(cert)
    for position in range(len(original)):
        for flip in (0x01, 0x80):
            changed = bytearray(original)
            changed[position] ^= flip
            result = verify.verify_text(cose.encode_text(bytes(changed)), keys=keys, status_list=None)
            assert not result.ok, f"byte {position} ^ {flip:#x} still verified"
            assert result.code in CHANGED, (position, result.reason)
            assert result.reason


def test_a_changed_claim_with_the_original_signature_fails_as_a_changed_payload(issue):
    import cbor2

    cert = issue()
    outer = cbor2.loads(_cose(cert))
    claims = dict(cbor2.loads(outer.value[2]))
    claims[rules.CLAIM_KEYS["holder_name"]] = "李四"
    forged = cbor2.dumps(cbor2.CBORTag(18, [outer.value[0], {}, cbor2.dumps(claims), outer.value[3]]))
    result = verify.verify_text(cose.encode_text(forged))
    assert not result.ok
    assert result.reason == "signature does not match: the payload was changed"


def test_changing_a_character_of_the_base45_text_fails(issue):
    cert = issue()
    body = cert.payload[4:]
    rng = random.Random(6)
    for position in rng.sample(range(len(body)), 60):
        replacement = rng.choice([c for c in BASE45 if c != body[position]])
        text = "CL1:" + body[:position] + replacement + body[position + 1 :]
        result = verify.verify_text(text)
        assert not result.ok, f"character {position} -> {replacement!r} still verified"
        assert result.code in CHANGED
        assert "changed" in result.reason or "damaged" in result.reason or "unknown key id" in result.reason


def test_text_that_is_not_a_cityloop_payload_says_so():
    for text in (
        "",
        "hello",
        "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA",
    ):
        result = verify.verify_text(text)
        assert not result.ok
        assert result.reason == "not a CityLoop certificate payload"


def test_invalid_base45_is_reported_as_damaged_text():
    result = verify.verify_text("CL1:abc")
    assert result.code == "damaged"
    assert "not valid Base45" in result.reason


def test_a_revoked_certificate_fails_naming_the_revocation_date_and_reason(issue):
    cert = issue()
    actions.revoke_certificate(cert, reason="营业执照已注销", actor=SYSTEM)
    result = verify.verify_text(cert.payload)
    assert not result.ok and result.code == "revoked"
    assert result.reason.startswith(f"certificate {cert.serial} was revoked on ")
    assert result.reason.endswith(": 营业执照已注销")
    assert result.claims["serial"] == cert.serial


def test_a_payload_signed_by_a_key_nobody_published_fails_as_unknown_key(issue, db):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = Ed25519PrivateKey.generate()
    kid = keyring.kid_of(stranger.public_key())
    claims = rules.to_claims_map(
        {
            "serial": "CL-2026-999999",
            "issuer": "伪造局",
            "issuer_authority": "city",
            "holder_name": "x",
            "holder_id": "x",
            "title": "x",
            "fields": {},
            "issued_at": 1,
            "kid": kid,
            "status_index": 0,
        }
    )
    text = cose.encode_text(cose.sign(claims, kid=bytes.fromhex(kid), key=stranger))
    result = verify.verify_text(text)
    assert not result.ok
    assert result.reason == f"unknown key id {kid}: no CityLoop seal with this id is published"


def test_offline_documents_verify_and_report_revocation_without_the_database(issue):
    cert, other = issue(), issue(holder_name="李四")
    actions.revoke_certificate(cert, reason="issued in error", actor=SYSTEM)
    key = actions.signing_key("city", actor=SYSTEM)
    keys = json.loads(json.dumps(published.keys_document()))
    status = json.loads(json.dumps(published.status_list_document(key)))
    assert verify.verify_text(other.payload, keys=keys, status_list=status).ok
    revoked = verify.verify_text(cert.payload, keys=keys, status_list=status)
    assert revoked.code == "revoked" and revoked.reason.endswith(": issued in error")


def test_a_changed_status_list_is_refused(issue):
    cert = issue()
    key = actions.signing_key("city", actor=SYSTEM)
    status = published.status_list_document(key)
    status["encodedList"] = published.encode_bits([], status["length"])
    status["revocations"] = {"5": {"serial": "x", "revoked_at": None, "reason": "x"}}
    result = verify.verify_text(cert.payload, keys=published.keys_document(), status_list=status)
    assert not result.ok and result.code == "status_list"
    assert "the status list's signature does not match" in result.reason


def test_a_status_list_with_the_bit_flipped_by_someone_else_is_refused(issue):
    cert = issue()
    key = actions.signing_key("city", actor=SYSTEM)
    status = published.status_list_document(key)
    status["encodedList"] = published.encode_bits([cert.status_index], status["length"])
    result = verify.verify_text(cert.payload, keys=published.keys_document(), status_list=status)
    assert result.code == "status_list"


def test_extract_payload_finds_the_marked_text_and_ignores_other_text(issue):
    cert = issue()
    page = f"<html><pre>CLSEAL:{cert.payload}:CLSEAL</pre></html>"
    assert verify.extract_payload(page) == cert.payload
    assert verify.extract_payload(page.encode()) == cert.payload
    assert verify.extract_payload(cert.payload) == cert.payload
    assert verify.extract_payload(b"%PDF-1.4 nothing here") is None
    assert verify.verify_text(page).ok


def test_extract_payload_searches_compressed_streams_of_a_resaved_pdf(issue):
    cert = issue()
    hidden = zlib.compress(f"BT (CLSEAL:{cert.payload}:CLSEAL) Tj ET".encode())
    pdf = b"%PDF-1.7\n1 0 obj <</Filter /FlateDecode>> stream\n" + hidden + b"\nendstream\nendobj\n"
    assert verify.extract_payload(pdf) == cert.payload


def test_line_breaks_inserted_into_pasted_text_are_ignored(issue):
    cert = issue()
    wrapped = "\n".join(cert.payload[i : i + 40] for i in range(0, len(cert.payload), 40))
    assert verify.verify_text(wrapped).ok


@pytest.mark.parametrize("mutate", ["trailing", "truncate"])
def test_extra_or_missing_bytes_after_the_message_fail(issue, mutate):
    cert = issue()
    data = _cose(cert)
    data = data + b"\x00" if mutate == "trailing" else data[:-1]
    result = verify.verify_text(cose.encode_text(data))
    assert not result.ok and result.code == "malformed"


def test_base45_of_the_compressed_bytes_is_what_the_qr_carries(issue):
    cert = issue()
    assert zlib.decompress(base45.b45decode(cert.payload[4:])) == _cose(cert)
