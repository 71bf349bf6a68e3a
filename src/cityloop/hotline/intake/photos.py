"""Photo checks: type by content (not by name), size in bytes and in pixels, EXIF location stripped unless
kept."""

from __future__ import annotations

import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _l
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
# A phone's photo is at most ~50 M pixels only on rare 200 MP sensors that bin to 12-50 MP; 40 M is
# generous, and a tiny PNG of 7000 x 7000 zeros would otherwise unpack to 49 MB per band in memory.
MAX_PIXELS = 40_000_000
# Pillow's own guard, lowered from its ~89 M default for every image this process opens, and its
# warning (between the limit and twice it) made an error: a bomb is refused, never just logged.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
SIGNATURES = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png"}
GPS_IFD = 0x8825


def sniff(head: bytes) -> str | None:
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def clean_photo(
    name: str, data: bytes, *, keep_location: bool, field: str = "photos"
) -> tuple[ContentFile, str]:
    """A checked copy of the photo (re-encoded without GPS unless ``keep_location``) and its type."""
    if len(data) > MAX_BYTES:
        size = f"{len(data) / 1048576:.1f}"
        raise ValidationError(
            {field: format_lazy(_l("{name}: {size} MB is over the 10 MB limit"), name=name, size=size)}
        )
    kind = sniff(data[:16])
    if kind is None:
        raise ValidationError(
            {
                field: format_lazy(
                    _l("{name}: not a JPEG, PNG or WebP image (checked by content, not by name)"), name=name
                )
            }
        )
    try:
        image = Image.open(io.BytesIO(data))
        # Judged from the header, before a single pixel is unpacked.
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ValidationError(
                {
                    field: format_lazy(
                        _l("{name}: {width} x {height} pixels is over the limit of {limit} million pixels"),
                        name=name,
                        width=width,
                        height=height,
                        limit=MAX_PIXELS // 1_000_000,
                    )
                }
            )
        image.load()
    except (
        UnidentifiedImageError,
        OSError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValidationError(
            {
                field: format_lazy(
                    _l("{name}: the image cannot be read ({why})"), name=name, why=exc.__class__.__name__
                )
            }
        ) from exc
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


THUMBNAIL_PX = 320


def thumbnail(fileobj) -> bytes:
    """A JPEG at most 320 px on its longer side, upright (EXIF orientation applied), without metadata."""
    from PIL import ImageOps

    with Image.open(fileobj) as image:
        image.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))  # JPEG decodes at a fraction of its size
        small = ImageOps.exif_transpose(image)
        small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        if small.mode not in ("RGB", "L"):
            small = small.convert("RGB")
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
    return out.getvalue()
