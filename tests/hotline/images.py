"""Crafted images for the photo checks."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def pixel_bomb_png(width: int = 7000, height: int = 7000) -> bytes:
    """A valid 1-bit grayscale PNG of ``width`` x ``height`` white pixels: a few kB that unpack to
    millions."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte 0, then the packed pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
