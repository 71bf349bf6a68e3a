"""Attacks on the public verify page: decompression bombs, huge pastes, floods and stale status lists."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import base45
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.seal import actions, cose, published, verify

BOMB_BYTES = 64 * 1024 * 1024  # inflates to 64 MB from about 64 KB


@pytest.fixture(autouse=True)
def _empty_counters():
    cache.clear()
    yield
    cache.clear()


def _bomb() -> bytes:
    compressor = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    body = b"".join(compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk)))
    return body + compressor.flush()


def test_a_zlib_bomb_pasted_as_cl1_text_is_refused_without_inflating_it():
    text = cose.PREFIX + base45.b45encode(_bomb()).decode("ascii")
    with pytest.raises(cose.PayloadError) as refused:
        cose.cose_bytes_of(text)
    assert refused.value.code == "damaged" and "far more than a certificate" in str(refused.value)


def test_inflate_stops_at_its_limit_and_keeps_normal_data():
    data = b"x" * 10_000
    assert cose.inflate(zlib.compress(data), 10_000) == data
    with pytest.raises(cose.InflateLimit):
        cose.inflate(zlib.compress(data), 9_999)
    with pytest.raises(zlib.error):
        cose.inflate(zlib.compress(data)[:-6], 20_000)


def test_a_pdf_full_of_flate_bombs_is_searched_within_bounds(issue):
    cert = issue()
    bomb = _bomb()
    streams = b"".join(b"<</Filter /FlateDecode>> stream\n" + bomb + b"\nendstream\n" for _ in range(3))
    hidden = zlib.compress(f"BT (CLSEAL:{cert.payload}:CLSEAL) Tj ET".encode())
    pdf = b"%PDF-1.7\n" + streams + b"<</Filter /FlateDecode>> stream\n" + hidden + b"\nendstream\n"
    # Each bomb stops at 1 MB; the certificate after them is still found.
    assert verify.extract_payload(pdf) == cert.payload


def test_a_bomb_uploaded_to_the_verify_page_is_answered_calmly(client, db):
    pdf = b"%PDF-1.7\n<</Filter /FlateDecode>> stream\n" + _bomb() + b"\nendstream\n"
    upload = SimpleUploadedFile("bomb.pdf", pdf, content_type="application/pdf")
    response = client.post("/seal/verify/", {"certificate": upload}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "No CityLoop signed data" in response.content.decode()


def test_a_megabyte_paste_is_refused_naming_the_field(client, db):
    response = client.post("/seal/verify/", {"payload": "CL1:" + "A" * 1_000_000}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "at most 50000 characters" in response.content.decode().replace(",", "")


def test_a_flood_of_checks_from_one_address_is_slowed_down(client, db):
    answers = [
        client.post("/seal/verify/", {"payload": "CL1:XYZ"}, HTTP_ACCEPT_LANGUAGE="en").status_code
        for _ in range(21)
    ]
    assert answers[:20] == [200] * 20 and answers[20] == 429
    assert client.get("/seal/verify/").status_code == 200  # reading the page is never limited
    other = client.post("/seal/verify/", {"payload": "CL1:XYZ"}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 200


def test_a_status_list_bomb_is_refused(issue):
    cert = issue()
    key = actions.signing_key("city", actor=SYSTEM)
    status = published.status_list_document(key)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = compressor.compress(b"\0" * (8 * 1024 * 1024)) + compressor.flush()
    status["encodedList"] = "u" + published.b64url(bomb)
    with pytest.raises(ValueError, match="inflates to more than"):
        published.bit_is_set(status["encodedList"], cert.status_index)


def test_an_old_status_list_kept_to_hide_a_revocation_stops_counting(issue):
    cert = issue()
    key = actions.signing_key("city", actor=SYSTEM)
    old = json.loads(json.dumps(published.status_list_document(key)))  # taken before the revocation
    actions.revoke_certificate(cert, reason="issued in error", actor=SYSTEM)
    keys = {entry["kid"]: entry for entry in published.keys_document()["keys"]}
    valid_until = timezone.datetime.fromisoformat(old["validUntil"])
    assert published.check_status_list(old, keys, now=valid_until - timedelta(minutes=1)) is None
    problem = published.check_status_list(old, keys, now=valid_until + timedelta(seconds=1))
    assert problem is not None and "expired" in problem


def test_a_status_list_without_valid_until_is_refused(issue):
    cert = issue()
    key = actions.signing_key("city", actor=SYSTEM)
    status = published.status_list_document(key)
    del status["validUntil"]
    result = verify.verify_text(cert.payload, keys=published.keys_document(), status_list=status)
    assert result.code == "status_list"
