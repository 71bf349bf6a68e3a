"""Keys live in 0600 files outside the database; rotation keeps old certificates verifiable."""

from __future__ import annotations

import os
import stat

import pytest
from django.core import serializers
from django.core.exceptions import PermissionDenied

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.seal import actions, cose, keyring, published, rules, verify
from cityloop.seal.models import Certificate, Counter, SigningKey


def test_the_city_seal_is_created_on_first_issue_as_a_0600_file(issue, key_dir):
    cert = issue()
    path = key_dir / f"{cert.kid}.pem"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert SigningKey.objects.get(kid=cert.kid).authority == "city"


def test_no_private_key_material_is_stored_in_the_database(issue, key_dir):
    cert = issue()
    actions.rotate_key("city", actor=SYSTEM)
    private_pem = (key_dir / f"{cert.kid}.pem").read_text()
    secret_line = private_pem.splitlines()[1]
    dump = serializers.serialize(
        "json",
        [
            *SigningKey.objects.all(),
            *Certificate.objects.all(),
            *Counter.objects.all(),
            *AuditRecord.objects.all(),
        ],
    )
    assert "PRIVATE KEY" not in dump
    assert secret_line not in dump
    assert all("PUBLIC KEY" in key.public_key_pem for key in SigningKey.objects.all())


def test_a_key_file_readable_by_others_is_refused_with_the_fix(issue, key_dir):
    cert = issue()
    path = key_dir / f"{cert.kid}.pem"
    os.chmod(path, 0o644)
    with pytest.raises(keyring.KeyringError, match="chmod 600"):
        issue()


def test_a_missing_private_key_is_reported_with_its_path(issue, key_dir):
    cert = issue()
    (key_dir / f"{cert.kid}.pem").unlink()
    with pytest.raises(keyring.KeyringError, match=f"private key for kid {cert.kid} is missing"):
        issue()
    assert Certificate.objects.count() == 1


def test_after_rotation_old_certificates_verify_and_new_ones_use_the_new_kid(
    issue, key_dir, django_capture_on_commit_callbacks
):
    old_cert = issue()
    with django_capture_on_commit_callbacks(execute=True):
        new_key = actions.rotate_key("city", actor=SYSTEM)
    new_cert = issue()
    assert new_key.kid != old_cert.kid
    assert new_cert.kid == new_key.kid
    assert verify.verify_text(old_cert.payload).ok
    assert verify.verify_text(new_cert.payload).ok
    assert not (key_dir / f"{old_cert.kid}.pem").exists(), "a retired private key must be removed"
    entries = {entry["kid"]: entry for entry in published.keys_document()["keys"]}
    assert entries[old_cert.kid]["valid_until"] is not None
    assert entries[new_key.kid]["valid_until"] is None
    actions_done = list(
        AuditRecord.objects.filter(action__startswith="seal.").values_list("action", flat=True)
    )
    assert actions_done == ["seal.key_create", "seal.key_create", "seal.key_rotate"]


def test_a_certificate_dated_after_its_key_was_retired_fails(issue, key_dir):
    old_cert = issue()
    old_private = keyring.load(old_cert.kid)
    actions.rotate_key("city", actor=SYSTEM)
    late = rules.from_claims_map(cose.parse(cose.cose_bytes_of(old_cert.payload)).claims)
    late["issued_at"] += 3600
    text = cose.encode_text(
        cose.sign(rules.to_claims_map(late), kid=bytes.fromhex(old_cert.kid), key=old_private)
    )
    result = verify.verify_text(text)
    assert result.code == "key_period"
    assert f"key {old_cert.kid} was not valid on" in result.reason


def test_a_department_with_its_own_seal_signs_with_it_and_cannot_sign_for_another(issue, water, city):
    from cityloop.org.models import Department

    own = actions.rotate_key(rules.authority_for_department("WATER"), actor=SYSTEM)
    cert = issue(issuer_department=water)
    assert cert.kid == own.kid
    assert verify.verify_text(cert.payload).ok
    other = Department.objects.get(city=city, code="CITYMGMT")
    forged = rules.from_claims_map(cose.parse(cose.cose_bytes_of(cert.payload)).claims)
    forged.update(issuer=other.name, issuer_authority=rules.authority_for_department(other.code))
    text = cose.encode_text(
        cose.sign(rules.to_claims_map(forged), kid=bytes.fromhex(own.kid), key=keyring.load(own.kid))
    )
    result = verify.verify_text(text)
    assert result.code == "authority"
    assert f"not to the issuer {other.name}" in result.reason


def test_a_department_without_its_own_seal_issues_under_the_city_seal(issue, water):
    cert = issue(issuer_department=water)
    assert SigningKey.objects.get(kid=cert.kid).authority == "city"
    assert cert.issuer_name == water.name


def test_only_an_administrator_or_the_system_rotates_keys(dept_water_zhao, admin_zhang):
    with pytest.raises(PermissionDenied):
        actions.rotate_key("city", actor=dept_water_zhao)
    assert actions.rotate_key("city", actor=admin_zhang).authority == "city"


def test_keys_json_publishes_every_public_key_as_an_okp_entry(issue):
    cert = issue()
    (entry,) = published.keys_document()["keys"]
    assert entry["kid"] == cert.kid and entry["crv"] == "Ed25519" and entry["alg"] == "EdDSA"
    raw = published.b64url_decode(entry["x"])
    assert len(raw) == 32 and keyring.kid_of(keyring.public_from_raw(raw)) == cert.kid
