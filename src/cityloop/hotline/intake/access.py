"""The citizen's secrets: the access code that opens the tracking page and the one-time rating code.

Tracking numbers run in sequence and Open311 lists them, so they prove nothing. Each request gets a
random access code, given to the citizen once (confirmation page, text message); each reply that
waits for the follow-up gets a one-time rating code. Only keyed hashes are stored
(docs/decisions/0004-tracking-access-codes.md).
"""

from __future__ import annotations

import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

# No 0/O, 1/I/L: read out on the phone and typed from a text message without doubt.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 10  # 31**10 ≈ 2**49.5: with the failure limits, guessing one code takes longer than the universe
PURPOSES = ("track", "rate")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(code: str) -> str:
    """What the citizen typed, in canonical form: upper case, without spaces and dashes."""
    return "".join(ch for ch in (code or "").upper() if ch not in " -\t")


def is_well_formed(code: str) -> bool:
    value = normalise(code)
    return len(value) == LENGTH and all(ch in ALPHABET for ch in value)


def display(code: str) -> str:
    """Two groups of five, as printed and read out: ``K7P2M-9XQ4T``."""
    value = normalise(code)
    return f"{value[:5]}-{value[5:]}" if len(value) == LENGTH else value


def code_hash(code: str, *, purpose: str) -> str:
    """A keyed hash (HMAC-SHA256 under the site's secret): a copy of the database alone cannot test
    guesses."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    return salted_hmac(f"cityloop.hotline.{purpose}", normalise(code), algorithm="sha256").hexdigest()


def matches(code: str, stored_hash: str, *, purpose: str) -> bool:
    if not stored_hash or not is_well_formed(code):
        return False
    return constant_time_compare(code_hash(code, purpose=purpose), stored_hash)
