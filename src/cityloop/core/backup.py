"""One consistent archive of a CityLoop installation, and its restore onto an empty system.

``cityloop backup DEST`` writes one tar file::

    manifest.json                 format, time, database vendor, migrations, every file's size and SHA-256
    database/cityloop.sqlite3     SQLite through the online backup API (a consistent copy while it runs)
    database/cityloop.pgdump      or PostgreSQL through ``pg_dump -Fc`` (one snapshot)
    media/...                     photos and uploads (MEDIA_ROOT)
    brain/archive/..., brain/rejects/..., brain/state/...   the brain's Parquet archive and detector state
    keys/public/<kid>.pem         the public half of every seal key; other files of the key folder
                                  (audit checkpoints) as they are
    secrets.enc                   only with --with-secrets: the private seal keys and the secret key,
                                  encrypted with a passphrase (scrypt + AES-256-GCM)

``cityloop restore SRC`` checks every checksum first, refuses a database that already holds tables,
loads the database, puts the files back, decrypts the secrets when present, and migrates. The
database is the source of truth for the audit chain and the certificates; the files beside it are
copied after the database snapshot, so a file written during the backup may or may not be in it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from cityloop.core import config

FORMAT = "cityloop-backup"
FORMAT_VERSION = 1
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
BRAIN_FOLDERS = ("archive", "rejects", "state")


class BackupError(RuntimeError):
    """Something the operator must fix; the message names it."""


@dataclass
class Summary:
    path: Path
    files: int = 0
    bytes: int = 0
    database: str = ""
    secrets: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- where things live


def _key_dir() -> Path:
    return config.key_dir()


def _brain_root() -> Path:
    return config.brain_dir()


def _db():
    return connections["default"]


def _pg_env(settings_dict: dict) -> tuple[list[str], dict]:
    """libpq arguments and environment for pg_dump/pg_restore (the password never on the command line)."""
    env = {**os.environ}
    args = []
    if settings_dict.get("HOST"):
        args += ["--host", str(settings_dict["HOST"])]
    if settings_dict.get("PORT"):
        args += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        args += ["--username", str(settings_dict["USER"])]
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return args, env


def _run(command: list[str], env: dict, what: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(
            f"{command[0]} is not installed; it is needed to {what} "
            "(Debian: apt-get install postgresql-client)"
        )
    done = subprocess.run(command, env=env, capture_output=True, text=True)  # noqa: S603 - fixed argv
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed to {what}: {done.stderr.strip() or done.stdout.strip()}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith((".tmp", ".lock")))


# --------------------------------------------------------------------------- secrets


def _derive(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase.encode("utf-8"))


def encrypt_secrets(secrets: dict[str, str], passphrase: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(passphrase) < 12:
        raise BackupError("the backup passphrase must be at least 12 characters long")
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_derive(passphrase, salt)).encrypt(
        nonce, json.dumps(secrets).encode("utf-8"), FORMAT.encode("ascii")
    )
    b64 = base64.b64encode
    return json.dumps(
        {
            "kdf": "scrypt",
            **SCRYPT,
            "cipher": "AES-256-GCM",
            "salt": b64(salt).decode(),
            "nonce": b64(nonce).decode(),
            "ciphertext": b64(sealed).decode(),
        }
    ).encode("utf-8")


def decrypt_secrets(blob: bytes, passphrase: str) -> dict[str, str]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = json.loads(blob)
    b64d = base64.b64decode
    key = _derive(passphrase, b64d(sealed["salt"]))
    try:
        plain = AESGCM(key).decrypt(b64d(sealed["nonce"]), b64d(sealed["ciphertext"]), FORMAT.encode("ascii"))
    except InvalidTag as exc:
        raise BackupError(
            "secrets.enc cannot be decrypted: wrong passphrase, or the file was altered"
        ) from exc
    return json.loads(plain)


def _collect_secrets() -> dict[str, str]:
    found = {f"keys/{p.name}": p.read_text(encoding="ascii") for p in sorted(_key_dir().glob("*.pem"))}
    found["secret_key"] = settings.SECRET_KEY
    return found


def _public_keys() -> dict[str, bytes]:
    from cryptography.hazmat.primitives import serialization

    out = {}
    for path in sorted(_key_dir().glob("*.pem")):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        out[path.name] = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return out


# --------------------------------------------------------------------------- backup


def _dump_database(staging: Path) -> tuple[str, Path]:
    connection = _db()
    settings_dict = connection.settings_dict
    target = staging / "database"
    target.mkdir()
    if connection.vendor == "sqlite":
        out = target / "cityloop.sqlite3"
        source = sqlite3.connect(str(settings_dict["NAME"]))
        try:
            dest = sqlite3.connect(str(out))
            try:
                source.backup(dest)  # the online backup API: a consistent copy, writers keep going
            finally:
                dest.close()
        finally:
            source.close()
        return "sqlite", out
    if connection.vendor == "postgresql":
        out = target / "cityloop.pgdump"
        args, env = _pg_env(settings_dict)
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                *args,
                "--file",
                str(out),
                str(settings_dict["NAME"]),
            ],
            env,
            "dump the database",
        )
        return "postgresql", out
    raise BackupError(f"backups of a {connection.vendor} database are not supported")


def _migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(_db()).migration_qs.values_list("app", "name").order_by("app", "name"):
        latest[app] = name
    return latest


def backup(dest: str | os.PathLike, *, passphrase: str | None = None) -> Summary:
    """Write the archive to ``dest`` (a file; a folder gets a dated file name inside it)."""
    dest = Path(dest)
    now = timezone.now()
    if dest.is_dir():
        dest = dest / f"cityloop-backup-{now:%Y%m%dT%H%M%SZ}.tar"
    if dest.exists():
        raise BackupError(f"{dest} exists already; a backup never overwrites one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    summary = Summary(dest, secrets=passphrase is not None)
    with tempfile.TemporaryDirectory(prefix="cityloop-backup-", dir=dest.parent) as tmp:
        staging = Path(tmp)
        vendor, dump = _dump_database(staging)
        summary.database = vendor
        members: dict[str, Path] = {f"database/{dump.name}": dump}
        for path in _files_under(Path(settings.MEDIA_ROOT)):
            members[f"media/{path.relative_to(settings.MEDIA_ROOT).as_posix()}"] = path
        brain = _brain_root()
        for folder in BRAIN_FOLDERS:
            for path in _files_under(brain / folder):
                members[f"brain/{path.relative_to(brain).as_posix()}"] = path
        public = staging / "public"
        public.mkdir()
        for name, pem in _public_keys().items():
            (public / name).write_bytes(pem)
            members[f"keys/public/{name}"] = public / name
        for path in sorted(_key_dir().iterdir()):
            if path.is_file() and path.suffix != ".pem":
                members[f"keys/{path.name}"] = path
        if passphrase is not None:
            sealed = staging / "secrets.enc"
            sealed.write_bytes(encrypt_secrets(_collect_secrets(), passphrase))
            members["secrets.enc"] = sealed
        files = {}
        for name, path in members.items():
            files[name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": now.isoformat(),
            "database": vendor,
            "migrations": _migrations(),
            "secrets": passphrase is not None,
            "files": files,
        }
        partial = dest.with_name(dest.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in members.items():
                tar.add(str(path), arcname=name, recursive=False)
        os.chmod(partial, 0o600)
        partial.replace(dest)  # a backup that is there is whole
    summary.files = len(files)
    summary.bytes = sum(f["size"] for f in files.values())
    if passphrase is None:
        summary.notes.append(
            "private seal keys and the secret key are NOT in this backup "
            "(use --with-secrets, or keep them safe separately)"
        )
    return summary


# --------------------------------------------------------------------------- restore


def read_manifest(src: Path) -> dict:
    try:
        with tarfile.open(src, "r") as tar:
            handle = tar.extractfile("manifest.json")
            if handle is None:
                raise KeyError("manifest.json")
            manifest = json.loads(handle.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{src} is not a CityLoop backup: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{src} is not a CityLoop backup of format version {FORMAT_VERSION}")
    return manifest


def _extract_checked(src: Path, manifest: dict, into: Path) -> None:
    """Unpack every file the manifest lists, refusing anything else and any checksum that differs."""
    files = manifest["files"]
    with tarfile.open(src, "r") as tar:
        names = {m.name for m in tar.getmembers()} - {"manifest.json"}
        extra = sorted(names - set(files))
        if extra:
            raise BackupError(f"the backup holds files its manifest does not list: {', '.join(extra[:5])}")
        missing = sorted(set(files) - names)
        if missing:
            raise BackupError(f"the backup lacks files its manifest lists: {', '.join(missing[:5])}")
        tar.extractall(into, filter="data")
    for name, expected in files.items():
        path = into / name
        if path.stat().st_size != expected["size"] or _sha256(path) != expected["sha256"]:
            raise BackupError(f"{name} in the backup does not match its checksum: the archive is damaged")


def _database_is_empty() -> bool:
    connection = _db()
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    return not tables


def _restore_database(vendor: str, unpacked: Path) -> None:
    connection = _db()
    if vendor != connection.vendor:
        raise BackupError(
            f"the backup holds a {vendor} database but this installation uses {connection.vendor}"
        )
    settings_dict = connection.settings_dict
    if vendor == "sqlite":
        target = Path(settings_dict["NAME"])
        connection.close()
        source = sqlite3.connect(str(unpacked / "database" / "cityloop.sqlite3"))
        try:
            dest = sqlite3.connect(str(target))
            try:
                source.backup(dest)
            finally:
                dest.close()
        finally:
            source.close()
        return
    args, env = _pg_env(settings_dict)
    connection.close()
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            *args,
            "--dbname",
            str(settings_dict["NAME"]),
            str(unpacked / "database" / "cityloop.pgdump"),
        ],
        env,
        "restore the database",
    )


def _copy_tree(source: Path, target: Path) -> int:
    count = 0
    for path in _files_under(source):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
        count += 1
    return count


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)


def restore(src: str | os.PathLike, *, passphrase: str | None = None) -> Summary:
    """Put the backup ``src`` back onto this installation, whose database must be empty."""
    src = Path(src)
    manifest = read_manifest(src)
    if manifest["secrets"] and passphrase is None:
        raise BackupError(
            "this backup holds encrypted private keys: give its passphrase "
            "(CITYLOOP_BACKUP_PASSPHRASE or --passphrase-file)"
        )
    if not _database_is_empty():
        raise BackupError(
            "the database already holds tables; restore only onto an empty database "
            "(a new CITYLOOP_DATA_DIR, or a new PostgreSQL database)"
        )
    summary = Summary(src, database=manifest["database"], secrets=manifest["secrets"])
    with tempfile.TemporaryDirectory(prefix="cityloop-restore-") as tmp:
        unpacked = Path(tmp)
        _extract_checked(src, manifest, unpacked)
        secrets = (
            decrypt_secrets((unpacked / "secrets.enc").read_bytes(), passphrase)
            if manifest["secrets"]
            else None
        )  # before anything is written: a wrong passphrase changes nothing
        _restore_database(manifest["database"], unpacked)
        summary.files += _copy_tree(unpacked / "media", Path(settings.MEDIA_ROOT))
        brain = _brain_root()
        for folder in BRAIN_FOLDERS:
            summary.files += _copy_tree(unpacked / "brain" / folder, brain / folder)
        keys = _key_dir()
        for path in _files_under(unpacked / "keys"):
            if path.parent.name != "public":
                shutil.copy2(path, keys / path.name)
                summary.files += 1
        if secrets is not None:
            for name, text in secrets.items():
                if name.startswith("keys/"):
                    _write_private(keys / Path(name).name, text)
                    summary.files += 1
            configured = os.environ.get("CITYLOOP_SECRET_KEY")
            if configured:
                if configured != secrets["secret_key"]:
                    summary.notes.append(
                        "CITYLOOP_SECRET_KEY differs from the backed-up secret key: set it to "
                        "the old value, or citizens' access codes and sessions stop working"
                    )
            else:
                _write_private(Path(settings.DATA_DIR) / "secret_key", secrets["secret_key"])
                summary.notes.append("the secret key was restored; restart every CityLoop process")
        else:
            summary.notes.append(
                "no private keys in this backup: new certificates need `cityloop seal rotate` "
                "or the key folder restored separately; old certificates still verify"
            )
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return summary
