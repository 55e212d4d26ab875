"""Event knowledge from the registry: the consumer handles or deliberately ignores every topic of the
owners it follows, and the department listener's topics are the registry's order topics."""

from fengqiao_dispatch.cli import order_topics
from fengqiao_dispatch.consumers import IGNORES, consumer_specs
from fengqiao_events.registry import all_specs, spec_for_topic, specs_of_owner


def test_every_topic_of_a_followed_owner_is_handled_or_ignored():
    [spec] = consumer_specs(lambda: None, "dispatch")
    handled = set(spec.handlers)
    followed = {spec_for_topic(t).owner for t in handled}
    assert followed == {"intake", "mediation"}
    registered = {s.topic for owner in followed for s in specs_of_owner(owner)}
    assert registered == handled | spec.ignores, "handle or ignore: " + ", ".join(sorted(registered - handled))
    assert not handled & spec.ignores
    assert spec.ignores == IGNORES and IGNORES <= {s.topic for s in all_specs()}


def test_the_department_listener_reads_every_order_topic_of_the_registry():
    topics = order_topics()
    assert set(topics) == {
        "order.dispatched", "order.signed", "department.checked-in", "order.progressed", "order.resolved",
        "order.returned", "order.verified", "order.reminded", "deadline.missed", "order.escalated",
        "order.cancelled"}
    for t in topics:  # each carries the department header the listener filters on
        s = spec_for_topic(t)
        assert s.owner == "dispatch" and "department" in s.extensions and s.order_field == "order_id"
