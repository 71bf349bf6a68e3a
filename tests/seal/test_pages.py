"""The certificate page and PDF, the public verify page, and the published documents."""

from __future__ import annotations

import io
import json

from cityloop.core.actors import SYSTEM
from cityloop.seal import actions, published, verify


def test_the_pdf_carries_an_extractable_payload_that_verifies(issue, client, admin_zhang, persona_password):
    cert = issue()
    client.login(username="admin_zhang", password=persona_password)
    response = client.get(f"/seal/certificates/{cert.serial}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert b"STSong-Light" in pdf
    assert verify.extract_payload(pdf) == cert.payload
    assert verify.verify_text(verify.extract_payload(pdf)).ok


def test_the_certificate_page_is_bilingual_with_qr_payload_and_a_link_to_verify(
    issue, client, admin_zhang, persona_password
):
    cert = issue()
    client.login(username="admin_zhang", password=persona_password)
    response = client.get(cert.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in page and "营业执照" in page and "电子证照" in page
    assert "110101********1234" in page and "110101199001011234" not in page
    assert 'href="/seal/verify/"' in page
    assert verify.extract_payload(response.content) == cert.payload


def test_the_certificate_page_is_hidden_from_other_citizens_and_anonymous_visitors(
    issue, client, citizen_wang, outsider_zhou, persona_password
):
    cert = issue(holder_user=citizen_wang)
    assert client.get(cert.get_absolute_url()).status_code == 302
    client.login(username="outsider_zhou", password=persona_password)
    assert client.get(cert.get_absolute_url()).status_code == 404
    assert client.get(cert.get_pdf_url()).status_code == 404
    client.login(username="citizen_wang", password=persona_password)
    own = client.get(cert.get_absolute_url())
    assert own.status_code == 200
    assert "/revoke/" not in own.content.decode(), "the holder must not be offered revocation"
    assert client.post(f"/seal/certificates/{cert.serial}/revoke/", {"reason": "x"}).status_code == 403
    assert cert.serial in client.get("/seal/certificates/").content.decode()


def test_the_verify_page_works_for_anonymous_visitors_in_chinese(issue, client):
    cert = issue()
    assert client.get("/seal/verify/").status_code == 200
    page = client.post("/seal/verify/", {"payload": cert.payload}).content.decode()
    assert 'data-result="valid"' in page and "有效" in page and cert.serial in page


def test_the_verify_page_shows_a_tampered_payload_as_invalid_with_the_reason(issue, client):
    cert = issue()
    body = cert.payload
    position = len(body) // 2
    tampered = body[:position] + ("A" if body[position] != "A" else "B") + body[position + 1 :]
    page = client.post("/seal/verify/", {"payload": tampered}).content.decode()
    assert 'data-result="invalid"' in page and "无效" in page


def test_the_verify_page_names_the_revocation(issue, client):
    cert = issue()
    actions.revoke_certificate(cert, reason="执照已注销", actor=SYSTEM)
    page = client.post("/seal/verify/", {"payload": cert.payload}).content.decode()
    assert 'data-code="revoked"' in page and "执照已注销" in page and "撤销" in page


def test_the_verify_page_accepts_an_uploaded_pdf(issue, client, admin_zhang, persona_password):
    from cityloop.seal.render import pdf_bytes

    cert = issue()
    upload = io.BytesIO(pdf_bytes(cert))
    upload.name = f"{cert.serial}.pdf"
    page = client.post("/seal/verify/", {"certificate": upload}).content.decode()
    assert 'data-result="valid"' in page


def test_an_uploaded_file_without_a_payload_gets_a_clear_error(client, db):
    upload = io.BytesIO(b"%PDF-1.4 just a pdf")
    upload.name = "other.pdf"
    page = client.post("/seal/verify/", {"certificate": upload}).content.decode()
    assert "CLSEAL" in page and "data-result" not in page


def test_an_empty_verify_form_asks_for_a_payload_or_a_file(client, db):
    page = client.post("/seal/verify/", {}).content.decode()
    assert "data-result" not in page and 'class="errorlist' in page


def test_keys_and_status_documents_are_public_json(issue, client):
    cert = issue()
    actions.revoke_certificate(cert, reason="x", actor=SYSTEM)
    keys = client.get("/seal/keys.json").json()
    status = client.get("/seal/status.json").json()
    assert [entry["kid"] for entry in keys["keys"]] == [cert.kid]
    assert status["type"] == "BitstringStatusList" and status["length"] == 131072
    assert published.bit_is_set(status["encodedList"], cert.status_index)
    assert published.check_status_list(json.loads(json.dumps(status)), {cert.kid: keys["keys"][0]}) is None


def test_a_staff_member_of_the_issuing_department_revokes_from_the_page(
    issue, client, water, dept_water_zhao, persona_password
):
    cert = issue(issuer_department=water)
    client.login(username="dept_water_zhao", password=persona_password)
    assert (
        f'action="/seal/certificates/{cert.serial}/revoke/"'
        in client.get(cert.get_absolute_url()).content.decode()
    )
    response = client.post(f"/seal/certificates/{cert.serial}/revoke/", {"reason": "水表信息有误"})
    assert response.status_code == 302
    cert.refresh_from_db()
    assert cert.revocation_reason == "水表信息有误"
    assert "水表信息有误" in client.get(cert.get_absolute_url()).content.decode()


def test_the_status_list_before_any_certificate_is_a_404_and_opening_it_makes_no_key(client, db):
    from cityloop.seal.models import SigningKey

    answer = client.get("/seal/status.json")
    assert answer.status_code == 404 and "no certificate has been issued yet" in answer.json()["detail"]
    assert not SigningKey.objects.exists()  # a GET writes nothing, not even the city seal


def test_a_damaged_payload_is_explained_in_chinese_without_the_decoders_english(issue, client):
    from cityloop.seal import verify

    cert = issue()
    damaged = cert.payload[:-3] + "!!!"  # not Base45 any more
    result = verify.verify_text(damaged)
    assert result.code in ("damaged", "malformed") and "Base45" in result.reason  # the CLI keeps the detail
    page = client.post("/seal/verify/", {"payload": damaged}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "签名数据已被改动或损坏：" in page and "Base45" not in page and "CBOR" not in page
