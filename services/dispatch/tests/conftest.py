"""Fixtures: the dispatch app on a real PostgreSQL and the real broker, with a manual clock."""

import pytest
from dispatch_testkit import BASE, running_dispatch
from fengqiao_dispatch.clock import ManualClock
from fengqiao_dispatch.config import Settings


@pytest.fixture(scope="session")
async def dispatch(service_settings):
    settings = await service_settings(Settings, "dispatch", suffix="t", demo_data=True, timer_poll_interval=0.1,
                                      consumer_group="dispatch-tests")
    clock = ManualClock(BASE)
    async with running_dispatch(settings, clock) as d:
        yield d


@pytest.fixture
def clock(dispatch) -> ManualClock:
    dispatch.clock.set(BASE)
    return dispatch.clock
