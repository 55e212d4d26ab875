"""Input rules every service applies."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def no_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere in a (nested) value: PostgreSQL text cannot store them, so
    they must be a 422 with a field message, not a 500 at the database."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("不允许包含空字符 / NUL characters are not allowed")
    elif isinstance(value, dict):
        for item in value.values():
            no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            no_nul(item)
    return value


_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_only(value: Any) -> Any:
    """pydantic reads a bare number as a Unix timestamp; a date-time parameter documented as ISO 8601
    (``format: date-time``) must refuse it, as its schema says."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("应为 ISO 8601 日期时间，如 2026-12-01T08:00:00+08:00 / expected an ISO 8601 date-time")
    return value


# A query or body date-time that is ISO 8601 text only (never a number taken as a Unix timestamp).
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
