"""Signed checkpoints of the audit chain, kept where the database cannot rewrite them.

The hash chain (``core.audit``) shows any edit of a record, but someone with write access to the
database can rewrite a record *and every digest after it*, or delete the newest records and move
the head back, and the chain is intact again. A checkpoint stops both: it is the head's
``(seq, digest)`` signed with an Ed25519 key that lives only in ``CITYLOOP_KEY_DIR``
(``audit-anchor.pem``, mode 0600), appended as one JSON line to ``audit-checkpoints.jsonl`` in the
same folder and printed for an external witness (a log shipper, a mail to the auditor).
``cityloop audit verify`` then checks that every checkpoint's record still exists with the signed
digest and that the head has not fallen behind the newest checkpoint.

``cityloop audit checkpoint`` writes one at once; the scheduler's ``audit.checkpoint`` job (and
``cityloop tick``) write one when the chain has grown and the last is older than
``CITYLOOP_AUDIT_CHECKPOINT_MINUTES``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from cityloop.core import config

KEY_FILE = "audit-anchor.pem"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"


class AnchorError(RuntimeError):
    """The anchor key or the checkpoint file cannot be used; the message names the file and the fix."""


def key_dir() -> Path:
    """``$CITYLOOP_KEY_DIR`` or ``<data dir>/keys`` (the seal's private keys live there too)."""
    return config.key_dir()


def checkpoint_path() -> Path:
    return key_dir() / CHECKPOINT_FILE


def _key(create: bool) -> Ed25519PrivateKey | None:
    path = key_dir() / KEY_FILE
    if not path.exists():
        if not create:
            return None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            return _key(create=False)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AnchorError(f"{path} is readable by others (mode {mode:04o}); run `chmod 600 {path}`")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{path} does not hold an Ed25519 private key")
    return key


def _signed_bytes(seq: int, digest: str, at: str) -> bytes:
    return json.dumps(
        {"at": at, "digest": digest, "seq": seq}, sort_keys=True, separators=(",", ":")
    ).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    digest: str
    at: str
    signature: str

    def line(self) -> str:
        return json.dumps(
            {"seq": self.seq, "digest": self.digest, "at": self.at, "signature": self.signature},
            sort_keys=True,
            separators=(",", ":"),
        )


def read_checkpoints() -> list[Checkpoint]:
    path = checkpoint_path()
    if not path.exists():
        return []
    found = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
            found.append(
                Checkpoint(int(data["seq"]), str(data["digest"]), str(data["at"]), str(data["signature"]))
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {number} is not a checkpoint: {exc}") from exc
    return found


def last_checkpoint() -> Checkpoint | None:
    found = read_checkpoints()
    return found[-1] if found else None


def write_checkpoint() -> Checkpoint:
    """Sign the chain's head now and append it to the checkpoint file (also returned for printing)."""
    from cityloop.core.models import AuditHead

    head = AuditHead.objects.filter(pk=1).first()
    seq, digest = (head.seq, head.digest) if head is not None else (0, "")
    at = timezone.now().isoformat(timespec="seconds")
    key = _key(create=True)
    signature = _b64(key.sign(_signed_bytes(seq, digest, at)))
    point = Checkpoint(seq, digest, at, signature)
    fd = os.open(checkpoint_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two workers checkpointing at once write whole lines
        handle.write(point.line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return point


def checkpoint_if_due() -> Checkpoint | None:
    """A checkpoint when the chain grew since the last one and that one is older than the period."""
    from cityloop.core.models import AuditHead

    minutes = float(getattr(settings, "AUDIT_CHECKPOINT_MINUTES", 10))
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        return None
    last = last_checkpoint()
    if last is not None:
        if last.seq == head.seq and last.digest == head.digest:
            return None
        if timezone.now() - datetime.fromisoformat(last.at) < timedelta(minutes=minutes):
            return None
    return write_checkpoint()


def check(records_by_seq) -> str | None:
    """None when every checkpoint is genuine and matches the stored chain, else what is wrong.

    ``records_by_seq(seqs)`` returns ``{seq: digest}`` for the stored records among ``seqs``, and
    ``head`` is the chain's head seq."""
    from cityloop.core.models import AuditHead

    points = read_checkpoints()
    if not points:
        return None
    key = _key(create=False)
    if key is None:
        return (
            f"{checkpoint_path()} holds {len(points)} checkpoint(s) but the anchor key {KEY_FILE} is missing "
            "from the key folder: restore it to verify them"
        )
    public: Ed25519PublicKey = key.public_key()
    for point in points:
        try:
            public.verify(_unb64(point.signature), _signed_bytes(point.seq, point.digest, point.at))
        except (InvalidSignature, ValueError):
            return (
                f"the checkpoint of seq={point.seq} at {point.at} is not signed by the anchor key: "
                "it was forged"
            )
    stored = records_by_seq({p.seq for p in points if p.seq > 0})
    head = AuditHead.objects.filter(pk=1).first()
    head_seq = head.seq if head is not None else 0
    newest = max(points, key=lambda p: p.seq)
    if head_seq < newest.seq:
        return (
            f"the chain ends at seq={head_seq} but a signed checkpoint of {newest.at} saw seq={newest.seq}: "
            "the newest records were deleted"
        )
    for point in points:
        if point.seq == 0:
            continue
        if point.seq not in stored:
            return f"record seq={point.seq}, signed in the checkpoint of {point.at}, is missing"
        if stored[point.seq] != point.digest:
            return (
                f"record seq={point.seq} no longer has the digest signed in the checkpoint of {point.at}: "
                "the chain was rewritten"
            )
    return None
