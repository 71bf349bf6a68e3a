"""What text CityLoop stores, and what it writes into XML.

The rule (every intake door applies it: the web forms, the JSON API, Open311, CSV imports):

* text is Unicode in NFC form;
* line breaks are ``\\n`` (``\\r\\n`` and lone ``\\r`` become ``\\n``), tabs stay;
* every other control character (C0 ``\\x00``-``\\x1f``, ``\\x7f``, C1 ``\\x80``-``\\x9f``), lone surrogates
  and the non-characters ``U+FFFE``/``U+FFFF`` are removed: they carry no meaning for a person, a NUL
  breaks PostgreSQL's text columns and any of them breaks XML 1.0;
* single-line fields (names, phones, addresses, titles) also turn line breaks and tabs into spaces.

Cleaning, not refusing: a caller who pasted a stray control character from another program still
gets their request filed. ``xml_safe`` is the second line of defence for text stored before the rule.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls but tab and newline, DEL, C1 controls, lone surrogates, U+FFFE/U+FFFF
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n?")
_SINGLE_LINE_SPACE = re.compile("[\t\n]+")
# XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(value: object, *, multiline: bool = True) -> str:
    """The storable form of ``value`` (``None`` is ``""``); surrounding whitespace is stripped."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _LINE_BREAKS.sub("\n", text)
    text = _UNSTORABLE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if not multiline:
        text = _SINGLE_LINE_SPACE.sub(" ", text)
    return text.strip()


def without_unstorable(text: str) -> str:
    """``text`` without the characters no column can hold (controls, lone surrogates); nothing else."""
    return _UNSTORABLE.sub("", text)


def clean_line(value: object) -> str:
    return clean_text(value, multiline=False)


def is_clean(value: str, *, multiline: bool = True) -> bool:
    return clean_text(value, multiline=multiline) == value.strip()


def xml_safe(value: object) -> str:
    """``value`` as text that an XML 1.0 document may contain (characters XML forbids are dropped)."""
    text = "" if value is None else str(value)
    return _NOT_XML.sub("", text)
