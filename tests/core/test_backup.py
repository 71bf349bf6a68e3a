"""`cityloop backup` / `cityloop restore`: a restored installation passes `audit verify` and still verifies
its certificates, on SQLite and on PostgreSQL; a damaged archive, a wrong passphrase or a database that
is not empty change nothing."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cityloop.core import audit, backup
from cityloop.core.actors import SYSTEM
from tests.clock import pinned_command, pinned_env

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def installation(tmp_path, settings, monkeypatch):
    """A certificate under the city seal, a photo in media and a Parquet file in the brain's archive."""
    from cityloop.seal import actions

    monkeypatch.setenv("CITYLOOP_KEY_DIR", str(tmp_path / "keys"))
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CITYLOOP_BRAIN_DIR = str(tmp_path / "brain")
    photo = tmp_path / "media" / "photos" / "2026" / "a.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8 a photo")
    part = tmp_path / "brain" / "archive" / "date=2026-11-18" / "hour=10" / "part-g000000000001-00000.parquet"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"PAR1 readings")
    cert = actions.issue_certificate(
        issuer_department=None,
        holder_name="王小明",
        holder_id="110101199001011234",
        title="营业执照",
        fields={"名称": "小明餐饮有限公司"},
        source_ref="services.application:1",
        actor=SYSTEM,
    )
    return cert


@pytest.fixture
def empty_target(tmp_path):
    """The environment of a new, empty installation of the same kind of database (dropped afterwards)."""
    env = {
        **os.environ,
        "CITYLOOP_DATA_DIR": str(tmp_path / "restored"),
        "PYTHONPATH": str(ROOT / "src"),
        "DJANGO_SETTINGS_MODULE": "cityloop.settings",
    }
    for name in ("CITYLOOP_KEY_DIR", "CITYLOOP_BRAIN_DIR", "CITYLOOP_SECRET_KEY", "CITYLOOP_TESTING"):
        env.pop(name, None)
    created = None
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.settings_dict
        created = f"restore_{uuid.uuid4().hex[:12]}"
        conninfo = dict(
            host=params["HOST"] or "127.0.0.1",
            port=params["PORT"] or 5432,
            user=params["USER"] or "postgres",
            dbname="postgres",
        )
        if params.get("PASSWORD"):
            conninfo["password"] = params["PASSWORD"]
        with psycopg.connect(**conninfo, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{created}"')
        env["CITYLOOP_DATABASE_URL"] = (
            f"postgresql://{conninfo['user']}@{conninfo['host']}:{conninfo['port']}/{created}"
        )
    else:
        env.pop("CITYLOOP_DATABASE_URL", None)
    yield env
    if created:
        with psycopg.connect(**conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def cityloop(env, *args):
    return subprocess.run(
        pinned_command("cityloop.cli.main", *args),
        capture_output=True,
        text=True,
        env=pinned_env(env),
        timeout=300,
    )


def test_a_restored_installation_verifies_its_audit_trail_and_certificates(
    installation, empty_target, tmp_path, settings
):
    cert = installation
    records = audit.verify().checked
    assert records > 0
    archive = tmp_path / "backup.tar"
    summary = backup.backup(archive, passphrase=PASSPHRASE)
    assert summary.database == connection.vendor and summary.secrets

    done = cityloop({**empty_target, "CITYLOOP_BACKUP_PASSPHRASE": PASSPHRASE}, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    verified = cityloop(empty_target, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert f"{records} record(s) checked" in verified.stdout
    sealed = cityloop(empty_target, "seal", "verify", cert.payload)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert cert.serial in sealed.stdout
    restored = Path(empty_target["CITYLOOP_DATA_DIR"])
    assert (restored / "media" / "photos" / "2026" / "a.jpg").read_bytes() == b"\xff\xd8 a photo"
    assert (restored / "archive" / "date=2026-11-18" / "hour=10").is_dir()
    assert (restored / "secret_key").read_text() == settings.SECRET_KEY
    assert oct((restored / "keys" / f"{cert.kid}.pem").stat().st_mode & 0o777) == "0o600"


def test_a_backup_without_secrets_holds_public_keys_only(installation, tmp_path):
    cert = installation
    archive = tmp_path / "public.tar"
    summary = backup.backup(archive)
    assert any("NOT in this backup" in note for note in summary.notes)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        public = tar.extractfile(f"keys/public/{cert.kid}.pem").read()
    assert "secrets.enc" not in names
    assert b"PUBLIC KEY" in public and b"PRIVATE" not in public
    manifest = backup.read_manifest(archive)
    assert set(manifest["files"]) == set(names) - {"manifest.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())


def test_a_damaged_archive_is_refused_before_anything_is_written(installation, empty_target, tmp_path):
    archive = tmp_path / "backup.tar"
    backup.backup(archive)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name.startswith("media/"):
                data = data.replace(b"photo", b"PHOTO")
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    done = cityloop(empty_target, "restore", str(damaged))
    assert done.returncode != 0
    assert "does not match its checksum" in done.stderr
    assert cityloop(empty_target, "restore", str(archive)).returncode == 0  # nothing was half-written


def test_a_wrong_passphrase_changes_nothing(installation, tmp_path):
    archive = tmp_path / "backup.tar"
    backup.backup(archive, passphrase=PASSPHRASE)
    with tarfile.open(archive) as tar:
        blob = tar.extractfile("secrets.enc").read()
    with pytest.raises(backup.BackupError, match="wrong passphrase"):
        backup.decrypt_secrets(blob, "not the passphrase at all")
    assert b"PRIVATE KEY" not in blob
    with pytest.raises(backup.BackupError, match="at least 12 characters"):
        backup.backup(tmp_path / "short.tar", passphrase="short")


def test_restore_refuses_a_database_that_already_holds_tables(installation, tmp_path):
    archive = tmp_path / "backup.tar"
    call_command("backup", str(archive))
    with pytest.raises(CommandError, match="already holds tables"):
        call_command("restore", str(archive))


def test_backup_with_secrets_needs_a_passphrase_and_never_overwrites(installation, tmp_path, monkeypatch):
    monkeypatch.delenv("CITYLOOP_BACKUP_PASSPHRASE", raising=False)
    with pytest.raises(CommandError, match="needs a passphrase"):
        call_command("backup", str(tmp_path / "b.tar"), "--with-secrets")
    folder = tmp_path / "backups"
    folder.mkdir()
    call_command("backup", str(folder))
    (written,) = folder.glob("cityloop-backup-*.tar")
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(written))
