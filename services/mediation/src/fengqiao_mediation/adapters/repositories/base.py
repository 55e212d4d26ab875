from __future__ import annotations

from fengqiao_common.ids import row_dict
from sqlalchemy import cast, literal
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession


class Repository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def _one(self, q) -> dict | None:
        return row_dict((await self.session.execute(q)).first())

    async def _all(self, q) -> list[dict]:
        return [row_dict(r) for r in (await self.session.execute(q)).all()]


def json_list(item: dict):
    """``[item]`` as a JSONB value (to append to a JSONB array with ``||``)."""
    return cast(literal([item], JSONB), JSONB)
