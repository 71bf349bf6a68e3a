"""docs/security.md names a test for each threat: every one of them must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_named_in_the_security_page_exists():
    named = set(
        re.findall(r"`(test_[a-z0-9_]+)`", (ROOT / "docs" / "security.md").read_text(encoding="utf-8"))
    )
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(encoding="utf-8"), flags=re.M))
    assert len(named) > 40
    assert sorted(named - defined) == []
