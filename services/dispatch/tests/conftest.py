"""Fixtures: the dispatch app on a real PostgreSQL and the real broker, with a manual clock, and one
probe reading every topic dispatch publishes (joining a consumer group once, not per test).

The app and the probe are shared by this directory's tests and stopped as soon as its last test
module is done, so that, in a whole-repository test session, this app does not route other services'
test cases."""

import contextlib
from pathlib import Path

import pytest
from dispatch_testkit import BASE, running_dispatch
from fengqiao_common.clock import ManualClock
from fengqiao_devstack.testing import EventProbe
from fengqiao_dispatch.config import Settings
from fengqiao_events import all_specs

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
async def _dispatch_stack():
    async with contextlib.AsyncExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
async def events(kafka_bootstrap, _dispatch_stack):
    topics = [s.topic for s in all_specs() if s.owner == "dispatch"]
    return await _dispatch_stack.enter_async_context(EventProbe(kafka_bootstrap, topics))


@pytest.fixture(scope="session")
async def dispatch(service_settings, events, _dispatch_stack):
    settings = await service_settings(Settings, "dispatch", suffix="t", demo_data=True, timer_poll_interval=0.1,
                                      consumer_group="dispatch-tests")
    d = await _dispatch_stack.enter_async_context(running_dispatch(settings, ManualClock(BASE)))
    d.events = events
    return d


@pytest.fixture(scope="module", autouse=True)
async def _stop_shared_app_after_the_last_module(request, _dispatch_stack):
    yield
    mine = [i for i in request.session.items if str(i.path).startswith(f"{HERE}/")]
    if mine and mine[-1].module is request.module:
        await _dispatch_stack.aclose()


@pytest.fixture
def clock(dispatch) -> ManualClock:
    dispatch.clock.set(BASE)
    return dispatch.clock
