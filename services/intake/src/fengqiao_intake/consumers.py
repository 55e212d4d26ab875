"""Topic -> handler (thin): order, check-in, mediation and closure events update status + timeline.

The topics come from the event registry: every registered event of the owners intake follows is
handled, except those in :data:`IGNORES`; ``domain/status.py:EFFECTS`` must name exactly the handled
ones (checked at import and by a unit test), so a new event type cannot be silently dropped.
"""

from __future__ import annotations

from fengqiao_common.app import ConsumerSpec
from fengqiao_events.registry import all_specs

from .domain.status import EFFECTS
from .usecases.status import record_event

CONSUMER_GROUP = "intake-case-status"
FOLLOWS = ("dispatch", "mediation")
# followed events that carry no case of ours to put on a timeline
IGNORES = frozenset({"judicial.reminded"})


def followed_topics() -> set[str]:
    return {s.topic for s in all_specs() if s.owner in FOLLOWS}


def handled_topics() -> set[str]:
    return followed_topics() - IGNORES


def _check() -> None:
    missing, extra = handled_topics() - set(EFFECTS), set(EFFECTS) - handled_topics()
    if missing or extra:
        raise RuntimeError(f"intake consumer: topics without an effect {sorted(missing)}, "
                           f"effects of topics not followed {sorted(extra)}")


_check()


def specs(runtime, *, group: str | None = None) -> list[ConsumerSpec]:
    """``runtime.deps`` is read per event (built before consumers start)."""

    async def on_event(session, envelope, payload) -> None:
        deps = runtime.deps
        await record_event(deps.uow_joined(session), envelope, payload, after=deps.consequences)

    return [ConsumerSpec(name=group or CONSUMER_GROUP, handlers=dict.fromkeys(sorted(handled_topics()), on_event),
                         ignores=IGNORES)]


consumer_specs = specs  # the name other suites import
