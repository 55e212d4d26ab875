"""The public case page in headless Chromium at phone size (390x844): a resident looks a case up with the
number and the query code from the acceptance SMS (simulator) and rates it (screenshot in test-artifacts/)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.order import CaseResolved, OrderVerified
from playwright.async_api import async_playwright
from test_intake_residents import _phone, _report, _sms

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")


@contextlib.asynccontextmanager
async def serving(app):
    """The session's (already started) intake app over real HTTP."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
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


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_a_resident_looks_the_case_up_and_rates_it_on_a_phone(intake_app, client, kafka_bootstrap):
    assert CHROMIUM.exists(), "Debian chromium is required for the browser test"  # noqa: ASYNC240
    phone = _phone()
    case = await _report(client, phone)
    [msg] = await _sms(client, phone, "accepted")
    code = msg["params"]["code"]
    at = datetime.now(UTC)  # when it happened: after the report, before the rating
    await publish(kafka_bootstrap, new_envelope(OrderVerified(order_id="o-" + case["id"], case_id=case["id"],
                                                              department="RSS", seq=5, at=at), source="/fengqiao/dispatch"),
                  new_envelope(CaseResolved(case_id=case["id"], at=at), source="/fengqiao/dispatch"))

    async def rateable():
        r = await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": code})
        return r.json()["can_rate"]
    await eventually(rateable, timeout=30)
    ARTIFACTS.mkdir(exist_ok=True)
    async with serving(intake_app) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                           args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            await page.goto(f"{base}/c/")
            await page.fill("#no", case["case_no"])
            await page.fill("#code", "00000000")
            await page.click("#go")
            await page.wait_for_function("() => document.querySelector('#msg').textContent.includes('未找到')")
            await page.fill("#code", code)
            await page.click("#go")
            await page.wait_for_selector("#rate:not([hidden])", timeout=15_000)
            assert await page.text_content("#status") == "已办结，请评价"
            body = await page.text_content("body")
            assert "赵六" not in body and phone not in body and "噪音" not in body
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
            await page.click("#ratings [data-v=satisfied]")
            await page.click("#solved [data-v=true]")
            await page.click("#send")
            await page.wait_for_function("() => document.querySelector('#rated').textContent.includes('感谢')")
            await page.screenshot(path=str(ARTIFACTS / "intake-public-case-390x844.png"), full_page=True)
        finally:
            await browser.close()
    r = await client.get(f"/api/v1/public/cases/{case['case_no']}", params={"code": code})
    assert r.json()["last_rating"] == "satisfied" and not r.json()["can_rate"]
