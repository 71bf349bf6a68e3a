"""Upload checks by content, not by what the browser claims: type sniffing, size, structure. Pure."""

from __future__ import annotations

from django.core.exceptions import ValidationError

MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = {"application/pdf": {".pdf"}, "image/jpeg": {".jpg", ".jpeg"}, "image/png": {".png"}}


def sniff(content: bytes) -> str | None:
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _structure_error(kind: str, content: bytes) -> str | None:
    if kind == "application/pdf" and b"%%EOF" not in content[-1024:]:
        return "the PDF is truncated (no %%EOF trailer)"
    if kind == "image/jpeg" and not content.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return "the JPEG is truncated (no end-of-image marker)"
    if kind == "image/png" and (content[12:16] != b"IHDR" or b"IEND" not in content[-16:]):
        return "the PNG is damaged (no IHDR header or IEND chunk)"
    return None


def check_upload(filename: str, content: bytes, *, field: str = "file") -> str:
    """The sniffed content type, or a ValidationError naming ``field`` and what is wrong."""
    if not content:
        raise ValidationError({field: "the file is empty"})
    if len(content) > MAX_BYTES:
        raise ValidationError({field: f"the file is {len(content) / 1048576:.1f} MB; the limit is 10 MB"})
    kind = sniff(content)
    if kind is None:
        raise ValidationError({field: "only PDF, JPEG and PNG files are accepted (checked by content)"})
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in EXTENSIONS[kind]:
        raise ValidationError({field: f"the file is a {kind} but is named {filename!r}"})
    problem = _structure_error(kind, content)
    if problem:
        raise ValidationError({field: problem})
    return kind
