"""Input rules every service applies."""

from __future__ import annotations

from typing import Any


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
