"""Pure rules: serial numbers, holder-ID masking, claim names. No I/O."""

from __future__ import annotations

import re
from datetime import date

SERIAL_RE = re.compile(r"^CL-\d{4}-\d{6,}$")
# Compact integer keys in the signed CBOR map, like the EU DCC's CWT claims; names for people.
CLAIM_KEYS = {
    "serial": 1,
    "issuer": 2,
    "issuer_authority": 3,
    "holder_name": 4,
    "holder_id": 5,
    "title": 6,
    "fields": 7,
    "issued_at": 8,
    "kid": 9,
    "status_index": 10,
}
CLAIM_NAMES = {number: name for name, number in CLAIM_KEYS.items()}
PERSONAL_ID_RE = re.compile(r"^\d{6}(\d{8})\d{3}[\dXx]$")


def format_serial(year: int, number: int) -> str:
    return f"CL-{year:04d}-{number:06d}"


def _is_birth_date(text: str) -> bool:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def mask_holder_id(holder_id: str) -> str:
    """Mask a person's resident ID (身份证号) to 6+4 digits; a company's credit code is public.

    A resident ID is 17 digits and a check character with a real birth date at positions 7–14;
    anything else (统一社会信用代码, passport numbers of businesses) is printed as given.
    """
    value = holder_id.strip()
    match = PERSONAL_ID_RE.match(value)
    if match and _is_birth_date(match.group(1)):
        return value[:6] + "*" * 8 + value[-4:]
    return value


def authority_for_department(code: str) -> str:
    return f"dept:{code}"


def to_claims_map(claims: dict) -> dict:
    return {CLAIM_KEYS[name]: value for name, value in claims.items()}


def from_claims_map(raw: dict) -> dict:
    return {CLAIM_NAMES.get(key, str(key)): value for key, value in raw.items()}
