"""Compile every src/cityloop/*/locale/*/LC_MESSAGES/django.po into .mo with polib.

polib is pure Python, so a fresh machine needs no GNU gettext; the .mo files are committed and a
test checks they match their .po files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent / "src" / "cityloop"


def po_files() -> list[Path]:
    return sorted(ROOT.glob("*/locale/*/LC_MESSAGES/django.po"))


def compiled(po_path: Path) -> bytes:
    po = polib.pofile(str(po_path))
    return po.to_binary()


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        data = compiled(po_path)
        if check:
            if not mo_path.exists() or mo_path.read_bytes() != data:
                stale.append(mo_path)
            continue
        mo_path.write_bytes(data)
        print(f"compiled {mo_path.relative_to(ROOT.parent.parent)}")
    if stale:
        print("stale .mo files (run `make messages`): " + ", ".join(map(str, stale)))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
