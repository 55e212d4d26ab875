"""The event registry is the one source of what each event type means to its consumers.

* every consumer group handles or explicitly ignores each registered type of every owner it follows
  (a new event type fails here, naming the consumer and the type, until each group decides);
* the events table in README.md and docs/design.md is the one the registry and the consumer groups
  give (``make asyncapi`` rewrites it).
"""

import pytest
from fengqiao_devstack.contracts import all_groups, consumed_by
from fengqiao_events import doc_tables
from fengqiao_events.registry import all_specs, spec_for_topic

GROUPS = [(service, g) for service, groups in all_groups().items() for g in groups]


def test_every_service_with_consumers_is_seen():
    assert {s for s, _ in GROUPS} == {"intake", "dispatch", "mediation", "analytics"}


@pytest.mark.parametrize(("service", "group"), GROUPS, ids=[f"{s}:{g.name}" for s, g in GROUPS])
def test_each_type_of_a_followed_owner_is_handled_or_ignored(service, group):
    registered = {s.topic for s in all_specs()}
    unknown = (set(group.handlers) | set(group.ignores)) - registered
    assert not unknown, f"{service} group {group.name} names unregistered topics {sorted(unknown)}"
    both = set(group.handlers) & set(group.ignores)
    assert not both, f"{service} group {group.name} both handles and ignores {sorted(both)}"
    followed = {spec_for_topic(t).owner for t in group.handlers}
    missing = [s.topic for s in all_specs()
               if s.owner in followed and s.topic not in group.handlers and s.topic not in group.ignores]
    assert not missing, (f"consumer {group.name} ({service}) follows {sorted(followed)} but neither handles nor "
                         f"ignores {missing}: handle them or add them to its ConsumerSpec.ignores")


@pytest.mark.parametrize("doc", doc_tables.DOCUMENTS, ids=lambda p: p.name)
def test_the_events_table_of_the_documents_is_the_registry(doc):
    want = doc_tables.render(consumed_by())
    have = doc_tables.block_of(doc.read_text(encoding="utf-8"))
    assert have is not None, f"{doc.name} has no events table block ({doc_tables.BEGIN})"
    assert have == want, f"{doc.name}: the events table is stale; run `make asyncapi`"
