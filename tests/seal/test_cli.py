"""`cityloop seal …`: exit 0 when valid, 1 with the reason otherwise; offline with exported documents."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cityloop.core.actors import SYSTEM
from cityloop.seal import actions
from cityloop.seal.models import SigningKey
from cityloop.seal.render import pdf_bytes
from tests.clock import pinned_command, pinned_env

ROOT = Path(__file__).resolve().parents[2]


def test_verify_accepts_a_payload_and_a_pdf_file(issue, tmp_path, capsys):
    cert = issue()
    call_command("seal", "verify", cert.payload)
    assert "VALID" in capsys.readouterr().out
    pdf = tmp_path / "cert.pdf"
    pdf.write_bytes(pdf_bytes(cert))
    call_command("seal", "verify", str(pdf))
    assert cert.serial in capsys.readouterr().out


def test_verify_fails_with_exit_code_1_and_the_reason(issue):
    cert = issue()
    actions.revoke_certificate(cert, reason="issued in error", actor=SYSTEM)
    with pytest.raises(CommandError) as caught:
        call_command("seal", "verify", cert.payload)
    assert caught.value.returncode == 1
    assert "was revoked on" in str(caught.value) and "issued in error" in str(caught.value)


def test_verify_of_a_file_without_a_payload_names_the_file(tmp_path, db):
    other = tmp_path / "other.html"
    other.write_text("<html>nothing</html>")
    with pytest.raises(CommandError, match="no CityLoop signed data"):
        call_command("seal", "verify", str(other))


def test_rotate_and_revoke_from_the_command_line(issue, capsys):
    cert = issue()
    call_command("seal", "rotate")
    assert SigningKey.objects.filter(authority="city", retired_at__isnull=True).count() == 1
    assert SigningKey.objects.get(kid=cert.kid).retired_at is not None
    call_command("seal", "revoke", cert.serial, "--reason", "duplicate")
    cert.refresh_from_db()
    assert cert.revocation_reason == "duplicate"
    with pytest.raises(CommandError, match="no department with this code"):
        call_command("seal", "rotate", "--department", "NOPE")


def test_the_cityloop_command_verifies_offline_with_exported_documents(issue, tmp_path):
    good, bad = issue(), issue(holder_name="李四")
    actions.revoke_certificate(bad, reason="issued in error", actor=SYSTEM)
    keys, status = tmp_path / "keys.json", tmp_path / "status.json"
    call_command("seal", "export-keys", "-o", str(keys))
    call_command("seal", "status-list", "-o", str(status))
    assert json.loads(keys.read_text())["keys"][0]["kid"] == good.kid
    (tmp_path / "good.pdf").write_bytes(pdf_bytes(good))
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(tmp_path / "elsewhere"),
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
    }
    env.pop("CITYLOOP_DATABASE_URL", None)

    def run(source):
        return subprocess.run(
            pinned_command(
                "cityloop.cli.main",
                "seal",
                "verify",
                source,
                "--keys",
                str(keys),
                "--status-list",
                str(status),
            ),
            capture_output=True,
            text=True,
            env=pinned_env(env),
            timeout=120,
        )

    ok = run(str(tmp_path / "good.pdf"))
    assert ok.returncode == 0, ok.stderr
    assert f"VALID: valid: {good.serial}" in ok.stdout
    revoked = run(bad.payload)
    assert revoked.returncode == 1
    assert "issued in error" in revoked.stderr
    tampered = run(good.payload[:-3] + ("AAA" if good.payload[-3:] != "AAA" else "BBB"))
    assert tampered.returncode == 1 and "NOT VALID" in tampered.stderr
