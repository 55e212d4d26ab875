"""CLI: ``python -m fengqiao_analytics.rebuild`` empties the read models and moves to a new generation; every
running analytics replica notices within ANALYTICS_GENERATION_POLL_INTERVAL seconds and replays all topics
from the beginning with a new consumer group. ``--status`` prints the progress instead."""

from __future__ import annotations

import argparse
import asyncio
import json

from fengqiao_common.db import make_engine, make_session_factory
from fengqiao_events import Outbox

from .adapters.uow import AnalyticsUoW
from .config import Settings
from .usecases import rebuild


async def main(settings: Settings, status_only: bool = False) -> dict:
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        uow = AnalyticsUoW(make_session_factory(engine), Outbox("/fengqiao/analytics"))
        if not status_only:
            await rebuild.reset_read_models(uow, consumer_group=settings.consumer_group)
        return await rebuild.status(uow, consumer_group=settings.consumer_group)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--status", action="store_true", help="only print generation and progress")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(Settings(), args.status)), default=str, ensure_ascii=False))
