"""Which events fold into which read model, derived from the event registry (no hand lists of topics).

* order events: every registered type whose payload names an order (``EventSpec.order_field``);
* mediation events: every type that names a mediation (``mediation_field``) and the mediation entity's own
  topics (``mediation.<verb>``, e.g. dispatch's ``mediation.referred``): counted in the mediation figures;
* case events: every other type that names a case (``case_field``);
* the weak-signal ledger: ``weak-signal.reported`` (intake) and ``weak-signal.triaged`` (our own status
  changes, so that a replay restores them), handled one by one.

Analytics follows every owner; the types it does not handle are listed in :data:`IGNORED` with the reason,
and :func:`check` proves that every registered topic is handled or ignored.
"""

from __future__ import annotations

from fengqiao_events.registry import EventSpec, all_specs

# registered types the read models deliberately leave out
IGNORED: dict[str, str] = {
    "weak-signal.flagged": "our own announcement: the ledger row was written when the signal was raised",
    "order.cancelled": "the read models do not model cancelled orders (an order's figures stay as they were)",
}
SIGNAL_TOPICS = frozenset({"weak-signal.reported", "weak-signal.triaged"})


def _is_mediation(s: EventSpec) -> bool:
    return bool(s.mediation_field) or s.topic.partition(".")[0] == "mediation"


def _specs() -> list[EventSpec]:
    return [s for s in all_specs() if s.topic not in IGNORED]


ORDER_TOPICS = frozenset(s.topic for s in _specs() if s.order_field)
MEDIATION_TOPICS = frozenset(s.topic for s in _specs() if not s.order_field and _is_mediation(s))
CASE_TOPICS = frozenset(s.topic for s in _specs()
                        if s.case_field and not s.order_field and not _is_mediation(s))
HANDLED = CASE_TOPICS | ORDER_TOPICS | MEDIATION_TOPICS | SIGNAL_TOPICS
IGNORES = frozenset(IGNORED)

# The live ticker shows the milestones a command centre watches (a choice, not a derivation); every name
# must be a registered topic that the read models handle (checked below).
TICKER_TOPICS = frozenset({
    "grid.event.reported", "order.escalated", "case.resolved", "case.closed", "case.reopened", "mediation.confirmed",
    "weak-signal.reported", "weak-signal.flagged",
})


def check() -> None:
    """Every registered topic is handled or ignored, never both; ticker topics are registered."""
    topics = {s.topic for s in all_specs()}
    missing = topics - HANDLED - IGNORES
    both = HANDLED & IGNORES
    unknown = (HANDLED | IGNORES | TICKER_TOPICS) - topics
    if missing or both or unknown:
        raise RuntimeError(f"analytics topics: unhandled {sorted(missing)}, handled and ignored {sorted(both)}, "
                           f"unknown {sorted(unknown)}")


check()
