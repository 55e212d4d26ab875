"""Identifier and row helpers shared by every service's adapters and use cases."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any


def new_id() -> str:
    """A new random identifier (UUID4, as text)."""
    return str(uuid.uuid4())


def row_dict(row: Any) -> dict[str, Any] | None:
    """A SQLAlchemy row (or mapping) as a plain dict; ``None`` stays ``None``."""
    if row is None:
        return None
    if isinstance(row, Mapping):
        return dict(row)
    return dict(row._mapping)
