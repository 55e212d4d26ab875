"""The big screen in headless Chromium: renders at 1920x1080 (screenshot kept under test-artifacts/),
shows a new event within 2 seconds without a reload (SSE), and shows no personal data."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fengqiao_analytics.main import create_app
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.case import GridEventReported
from fengqiao_events.registry import spec_for_topic
from playwright.async_api import async_playwright

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PHONE = "13800138000"
CHROMIUM = Path("/usr/bin/chromium")


def report(grid: str = "WH-05", grade: str = "red") -> object:
    return new_envelope(GridEventReported(
        case_id=str(uuid.uuid4()), case_no=f"WH-{uuid.uuid4().hex[:6]}", channel="grid_app", category="labour",
        grade=grade, grid=grid, community="C05", street="WH", district="JH",
        summary=f"张三 {PHONE} 反映欠薪", description=f"联系人 张三 {PHONE}", people_involved=3,
        reported_at=datetime.now(UTC)), source="/fengqiao/intake")


@contextlib.asynccontextmanager
async def serving(settings):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 30)


async def metric(page, name: str) -> int:
    return int(await page.text_content(f'[data-metric="{name}"]'))


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_screen_renders_and_shows_a_new_event_within_two_seconds(make_settings, own_broker):
    assert CHROMIUM.exists(), "Debian chromium is required for the browser test"  # noqa: ASYNC240
    settings = await make_settings(stream_interval=0.3)
    ARTIFACTS.mkdir(exist_ok=True)
    async with serving(settings) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.goto(f"{base}/screen")
            await page.wait_for_selector("#live.on", timeout=20_000)  # the SSE stream is connected
            # warm up: the first event proves the consumer has joined its group and caught up
            total0 = await metric(page, "total")
            await publish(own_broker, report())
            await page.wait_for_function(
                f"() => Number(document.querySelector('[data-metric=total]').textContent) >= {total0 + 1}",
                timeout=30_000)
            total, today, open_ = (await metric(page, "total"), await metric(page, "today"), await metric(page, "open"))

            await publish(own_broker, report(grid="WH-40", grade="orange"))
            t0 = asyncio.get_running_loop().time()
            await page.wait_for_function(
                f"() => Number(document.querySelector('[data-metric=total]').textContent) === {total + 1}",
                timeout=2_000)  # within 2 seconds of the event, without a reload
            assert asyncio.get_running_loop().time() - t0 < 2.0
            assert await metric(page, "today") == today + 1
            assert await metric(page, "open") == open_ + 1
            assert await metric(page, "overdue") == 0

            # charts are drawn with ECharts, the heat map has the 77 grids, the ticker shows the events
            assert await page.evaluate("() => typeof window.echarts === 'object'")
            assert await page.locator("#heatmap canvas").count() >= 1
            assert await page.evaluate("() => echarts.getInstanceByDom(document.getElementById('heatmap'))"
                                       ".getOption().series[0].data.length") == 77
            assert await page.locator('#ticker li[data-topic="grid.event.reported"]').count() >= 2
            # ticker lines are labelled from the event registry (served at /screen/labels)
            label = spec_for_topic("grid.event.reported").label_zh
            assert label in await page.text_content('#ticker li[data-topic="grid.event.reported"]')
            assert "红色" in await page.text_content("#grade-legend")
            html = await page.content()
            assert PHONE not in html and "张三" not in html  # no personal data on the wall
            await page.screenshot(path=str(ARTIFACTS / "analytics-screen.png"))
        finally:
            await browser.close()
