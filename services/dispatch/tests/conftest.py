"""Fixtures: the dispatch app on a real PostgreSQL and the real broker, with a manual clock, and one
probe reading every topic dispatch publishes (joining a consumer group once per session, not per test)."""

import pytest
from dispatch_testkit import BASE, running_dispatch
from fengqiao_devstack.testing import EventProbe
from fengqiao_dispatch.clock import ManualClock
from fengqiao_dispatch.config import Settings
from fengqiao_events import all_specs


@pytest.fixture(scope="session")
async def events(kafka_bootstrap):
    topics = [s.topic for s in all_specs() if s.owner == "dispatch"]
    async with EventProbe(kafka_bootstrap, topics) as probe:
        yield probe


@pytest.fixture(scope="session")
async def dispatch(service_settings, events):
    settings = await service_settings(Settings, "dispatch", suffix="t", demo_data=True, timer_poll_interval=0.1,
                                      consumer_group="dispatch-tests")
    clock = ManualClock(BASE)
    async with running_dispatch(settings, clock) as d:
        d.events = events
        yield d


@pytest.fixture
def clock(dispatch) -> ManualClock:
    dispatch.clock.set(BASE)
    return dispatch.clock
