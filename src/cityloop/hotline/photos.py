"""Photo checks: type by content (not by name), size, and EXIF location stripped unless kept."""

from __future__ import annotations

import io

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

MAX_BYTES = 10 * 1024 * 1024
SIGNATURES = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png"}
GPS_IFD = 0x8825


def sniff(head: bytes) -> str | None:
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def clean_photo(name: str, data: bytes, *, keep_location: bool, field: str = "photos") -> tuple[ContentFile, str]:
    """A checked copy of the photo (re-encoded without GPS unless ``keep_location``) and its type."""
    if len(data) > MAX_BYTES:
        raise ValidationError({field: f"{name}: {len(data) / 1048576:.1f} MB is over the 10 MB limit"})
    kind = sniff(data[:16])
    if kind is None:
        raise ValidationError({field: f"{name}: not a JPEG, PNG or WebP image (checked by content, not by name)"})
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError({field: f"{name}: the image cannot be read ({exc.__class__.__name__})"}) from exc
    if keep_location:
        return ContentFile(data, name=name), kind
    exif = image.getexif()
    if GPS_IFD in exif:
        del exif[GPS_IFD]
    out = io.BytesIO()
    params = {"exif": exif.tobytes()} if len(exif) else {}
    if kind == "jpeg":
        image.save(out, format="JPEG", quality=92, **params)
    elif kind == "png":
        image.save(out, format="PNG", **params)
    else:
        image.save(out, format="WEBP", quality=90, **params)
    return ContentFile(out.getvalue(), name=name), kind
