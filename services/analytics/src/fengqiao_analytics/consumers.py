"""Topic -> handler wiring (thin): one consumer group over every registered topic the read models handle
(domain/topics.py; the rest are listed in ``ignores``), named after the read-model generation. The
consumer's lifecycle across rebuilds is adapters/supervisor.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fengqiao_common.app import ConsumerSpec
from fengqiao_events.consumer import BatchHandler, Handler

from .domain.topics import HANDLED, IGNORES
from .usecases import ingest
from .usecases.rebuild import group_name

if TYPE_CHECKING:
    from .deps import Deps


def handlers(deps: Deps | None, generation: int | None = None) -> dict[str, Handler]:
    """The per-message handler of every handled topic (the consumer's slow path), writing for
    ``generation``: a batch of one through the same fold as :func:`batch_handler`."""

    async def one(session, env, payload) -> None:
        async with deps.uow_joined(session) as uow:
            await ingest.fold_one(uow, deps.context, env, payload, generation=generation)

    return {topic: one for topic in sorted(HANDLED)}


def batch_handler(deps: Deps, generation: int | None = None) -> BatchHandler:
    """The consumer's fast path: a whole poll's new events folded at once."""

    async def many(session, items) -> None:
        async with deps.uow_joined(session) as uow:
            await ingest.fold_batch(uow, deps.context, items, generation=generation)

    return many


def spec(deps: Deps, generation: int) -> ConsumerSpec:
    """The read-model consumer group of ``generation``."""
    return ConsumerSpec(name=group_name(deps.settings.consumer_group, generation),
                        handlers=handlers(deps, generation), ignores=IGNORES,
                        batch_handler=batch_handler(deps, generation))
