"""Wiring without a database: the consumer handles or deliberately ignores every topic of the owners it
follows, the department listener's topics are the registry's order topics, the handlers run their use
cases in the consumer's unit of work, and the timer loop fires due timers and sets the gauges."""

import asyncio
import contextlib
import inspect
from datetime import timedelta
from types import SimpleNamespace

import pytest
from dispatch_fakes import FakeDispatchUoW, J, env_of, grid_event
from fengqiao_dispatch.cli import listen, order_topics, security_of
from fengqiao_dispatch.config import Settings
from fengqiao_dispatch.consumers import IGNORES, consumer_specs
from fengqiao_dispatch.timer_loop import refresh_gauges, timer_loop
from fengqiao_dispatch.usecases import routing
from fengqiao_dispatch.usecases.rules import seed_demo_rules
from fengqiao_events.kafka import KafkaSecurity
from fengqiao_events.payloads.case import CaseMerged
from fengqiao_events.payloads.common import Actor
from fengqiao_events.payloads.order import OrderCancelled, OrderDispatched
from fengqiao_events.registry import all_specs, department_topic, spec_for_topic, specs_of_owner
from prometheus_client import REGISTRY


def test_every_topic_of_a_followed_owner_is_handled_or_ignored():
    [spec] = consumer_specs(lambda: None, "dispatch")
    handled = set(spec.handlers)
    followed = {spec_for_topic(t).owner for t in handled}
    assert followed == {"intake", "mediation"}
    registered = {s.topic for owner in followed for s in specs_of_owner(owner)}
    assert registered == handled | spec.ignores, "handle or ignore: " + ", ".join(sorted(registered - handled))
    assert not handled & spec.ignores
    assert spec.ignores == IGNORES and IGNORES <= {s.topic for s in all_specs()}


def test_every_order_topic_of_the_registry_reaches_the_department_topic_the_listener_reads():
    topics = order_topics()
    assert set(topics) == {
        "order.dispatched", "order.signed", "department.checked-in", "order.progressed", "order.resolved",
        "order.returned", "order.verified", "order.reminded", "deadline.missed", "order.escalated",
        "order.cancelled"}
    for t in topics:  # each carries the department header the listener filters on
        s = spec_for_topic(t)
        assert s.owner == "dispatch" and "department" in s.extensions and s.order_field == "order_id"
        assert s.per_department  # the outbox also writes it to dept.<code>.orders
    defaults = inspect.signature(listen).parameters
    assert defaults["topics"].default is None and defaults["security"].default == KafkaSecurity()
    assert department_topic("RSS") == "dept.rss.orders"


def test_the_department_listener_takes_sasl_scram_credentials():
    assert security_of(None, None, None, None).client_kwargs() == {}  # the embedded broker: plaintext
    sec = security_of(None, None, "dept-rss", "pw")
    assert sec.client_kwargs() == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                   "sasl_plain_username": "dept-rss", "sasl_plain_password": "pw"}
    assert security_of("SASL_SSL", "SCRAM-SHA-512", "dept-rss", "pw").client_kwargs()["security_protocol"] == "SASL_SSL"
    with pytest.raises(ValueError):
        security_of("SASL_PLAINTEXT", None, "dept-rss", None)


class _Deps:
    """Stands in for deps.Deps: every unit of work is the same in-memory one."""

    def __init__(self, uow):
        self._uow, self.jurisdiction, self.replica = uow, J, "test-replica"
        self.settings = Settings(timer_poll_interval=0.01, timer_batch_size=2)

    def uow(self):
        return self._uow

    def uow_joined(self, session):
        assert session == "the consumer's session"
        return self._uow


async def test_consumer_handlers_call_their_use_cases_in_the_consumers_transaction():
    uow = FakeDispatchUoW()
    await seed_demo_rules(uow, jurisdiction=J)
    rt = SimpleNamespace(deps=_Deps(uow))
    [spec] = consumer_specs(lambda: rt, "dispatch")
    p = grid_event(category="other")
    await spec.handlers["grid.event.reported"]("the consumer's session", env_of(p), p)
    assert (await uow.cases.get(p.case_id))["status"] == "routed"
    merged = CaseMerged(case_id=p.case_id, case_no="WH-2", into_case_id="c-1", into_case_no="WH-1", at=uow.now(),
                        by=Actor(id="u-1"))
    await spec.handlers["case.merged"]("the consumer's session", env_of(merged), merged)
    assert (await uow.cases.get(p.case_id))["status"] == "merged"
    assert [type(e) for e in uow.committed_events] == [OrderDispatched, OrderCancelled]


async def test_the_timer_loop_fires_due_timers_and_refreshes_the_gauges():
    uow = FakeDispatchUoW()
    await seed_demo_rules(uow, jurisdiction=J)
    p = grid_event(category="other", grade="red")  # ZZB alone, 15 min to sign for
    await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    uow.clock.advance(timedelta(minutes=31))  # 4 sign-for and 2 on-site timers due: three full batches of 2
    task = asyncio.create_task(timer_loop(SimpleNamespace(deps=_Deps(uow))))
    try:
        for _ in range(200):
            if not await uow.timers.due_count(uow.now()):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await uow.timers.due_count(uow.now()) == 0
    assert len([t for t in uow.db.timers if t["fired_by"] == "test-replica"]) == 6
    await refresh_gauges(_Deps(uow))
    assert REGISTRY.get_sample_value("fq_dispatch_orders_overdue", {"department": "ZZB"}) == 1
    assert REGISTRY.get_sample_value("fq_dispatch_orders_overdue", {"department": "PCS"}) == 0
    assert REGISTRY.get_sample_value("fq_dispatch_timers_due") == 0
