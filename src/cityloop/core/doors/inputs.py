"""Input types of the JSON API that refuse what pydantic's lax mode would quietly accept.

* ``Input``: the base of every request body. Django Ninja's ``Schema`` reads attributes from any
  object, so a body of ``[null, null]`` became an all-defaults object; an input must be a JSON object.
* ``When``: a date-time given as ISO 8601 text, within 1970-9000 and convertible to UTC. Lax pydantic
  reads ``0.5`` as a Unix time, and ``9999-12-31T23:59:59-23:59`` overflowed later into a 500.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, model_validator

from cityloop.core.text import without_unstorable

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class Input(Schema):
    @model_validator(mode="wrap")
    @classmethod
    def _an_object(cls, value: Any, handler):
        if not isinstance(value, dict) and not isinstance(value, cls):
            raise ValueError("the body must be a JSON object")
        return handler(_storable(value) if isinstance(value, dict) else value)


def _storable(value: Any) -> Any:
    """Every string of a JSON body without the characters no database column can hold: JSON escapes can
    carry a NUL or a lone surrogate ("\\ud98b"), which PostgreSQL refuses with an error (a 500) even in a
    lookup. They mean nothing to a person, so they are dropped, as the stored-text rule drops them."""
    if isinstance(value, str):
        return without_unstorable(value)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _iso_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO.match(value.strip()):
        raise ValueError("an ISO 8601 date-time such as 2026-11-26T09:30:00+08:00")
    return value.strip()


def _in_range(value: datetime) -> datetime:
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        ok = EARLIEST <= aware.astimezone(UTC) <= LATEST
    except OverflowError:
        ok = False
    if not ok:
        raise ValueError("must be between 1970-01-01 and 9000-01-01")
    return value


When = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]
