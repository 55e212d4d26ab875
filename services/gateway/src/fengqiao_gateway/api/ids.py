"""Path identifiers: a malformed id is a missing object (404), never a database error."""

from __future__ import annotations

import uuid

from fengqiao_common.errors import NotFound


def uuid_or_404(v: str) -> str:
    try:
        return str(uuid.UUID(v))
    except ValueError:
        raise NotFound() from None
