"""The key folder: one Ed25519 private key per file, ``<kid>.pem``, mode 0600, never in the database.

The folder is ``$CITYLOOP_KEY_DIR`` or ``<data dir>/keys`` (read at each call, so an operator can
mount the keys from a separate volume or secret store).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cityloop.core import config


class KeyringError(RuntimeError):
    """A key file is missing, unreadable or too open; the message names the file and the fix."""


def key_dir() -> Path:
    return config.key_dir()


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(public_key: Ed25519PublicKey) -> str:
    """First 8 bytes of SHA-256 of the raw public key, in hex (the EU DCC's kid rule)."""
    return hashlib.sha256(raw_public(public_key)).digest()[:8].hex()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise KeyringError("the public key is not an Ed25519 key")
    return key


def path_of(kid: str) -> Path:
    if not kid or not all(c in "0123456789abcdef" for c in kid):
        raise KeyringError(f"{kid!r} is not a key id (hex)")
    return key_dir() / f"{kid}.pem"


def generate() -> tuple[str, Ed25519PrivateKey]:
    """A new key written to its file (0600, never overwriting one); returns (kid, key)."""
    key = Ed25519PrivateKey.generate()
    kid = kid_of(key.public_key())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path_of(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return kid, key


def load(kid: str) -> Ed25519PrivateKey:
    path = path_of(kid)
    if not path.exists():
        raise KeyringError(
            f"the private key for kid {kid} is missing: expected {path} "
            "(restore the key folder, or run `cityloop seal rotate` to start a new key)"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(f"{path} is readable by others (mode {mode:04o}); run `chmod 600 {path}`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey) or kid_of(key.public_key()) != kid:
        raise KeyringError(f"{path} does not hold the Ed25519 key with kid {kid}")
    return key


def discard(kid: str) -> None:
    """Remove a retired key's private file: old certificates only need its public half."""
    path_of(kid).unlink(missing_ok=True)


def public_from_raw(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)
