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

EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


class Input(Schema):
    @model_validator(mode="wrap")
    @classmethod
    def _an_object(cls, value: Any, handler):
        if not isinstance(value, dict) and not isinstance(value, cls):
            raise ValueError("the body must be a JSON object")
        return handler(value)


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
