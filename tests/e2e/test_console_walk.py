"""The staff console in headless Chromium (Playwright driving Debian's chromium), over the whole running
system: a grid worker reports from a phone-sized screen (photo, location) -> the dispatcher sees it on the
board -> the department signs for the order and checks in on site -> resolves -> the dispatcher verifies
-> the case timeline shows every step and the big screen counts it. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
# a 1x1 JPEG, enough for the content-type check of the attachment store
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////"
    "////////////////////2wBDAf//////////////////////////////////////////////////////////////////////////////"
    "////////////wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAP/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAA"
    "AAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AKp//9k="
)


async def _login(page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/console/#/login")
    await page.fill("#u", username)
    await page.fill("#p", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector(".tiles")


async def _logout(page) -> None:
    await page.click("#logout")
    await page.wait_for_selector("#login-form")


async def _shot(page, name: str) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def walk(base: str, creds: dict) -> dict:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pw = {u["username"]: u for u in creds["users"]}
    marker = uuid.uuid4().hex[:6]
    photo = ARTIFACTS / "site-photo.jpg"
    photo.write_bytes(PHOTO)
    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            # 1. the grid worker, on a phone, reports with a photo and a location
            phone = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                              locale="zh-CN", geolocation={"latitude": 22.5957, "longitude": 113.1032},
                                              permissions=["geolocation"])
            page = await phone.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            grid = pw["grid01"]
            await _login(page, base, "grid01", grid["password"])
            assert await page.locator("#lang").inner_text() == "English"  # Chinese by default
            await _shot(page, "01-grid-worker-home")
            await page.goto(f"{base}/console/#/report")
            await page.wait_for_selector("#report-form")
            await page.select_option("#category", "family")
            await page.fill("#title", f"邻居家庭纠纷 {marker}")
            await page.fill("#description", f"网格员巡查发现夫妻争吵，需司法所调处。标记 {marker}")
            await page.fill("#people", "2")
            await page.click("#geo")
            await expect(page.locator("#report-form [name=lat]")).not_to_have_value("", timeout=15000)
            await page.fill("#address", "外海街道直冲村 12 号")
            await page.set_input_files("#photo", str(photo))
            await _shot(page, "02-report-form-phone")
            await page.click("#report-form button[type=submit]")
            link = page.locator("#reported a")
            await link.wait_for(timeout=20000)
            case_no = await link.get_attribute("data-case-no")
            href = await link.get_attribute("href")
            case_id = href.rsplit("/", 1)[1]
            out.update(case_no=case_no, case_id=case_id)
            await _shot(page, "03-reported")
            await link.click()
            await page.wait_for_selector("#timeline li")
            assert case_no in await page.locator("#case-no").inner_text()
            assert "附件" in await page.content()
            await _logout(page)
            assert not errors, errors
            await phone.close()

            # 2. the dispatcher sees the case on the board; the rules have routed it to the judicial office
            desk = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = await desk.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await _login(page, base, "dispatcher", pw["dispatcher"]["password"])
            await page.goto(f"{base}/console/#/board/recent")
            await page.wait_for_selector(f"text={case_no}")
            await _shot(page, "04-dispatcher-board")
            order_dept = None
            for _ in range(120):  # routing happens over Kafka: wait for the order to appear on the case page
                await page.goto(f"{base}/console/#/case/{case_id}")
                await page.wait_for_selector("#timeline")
                if await page.locator("text=外海司法所").count():
                    order_dept = "SFS"
                    break
                await asyncio.sleep(0.5)
            assert order_dept == "SFS", "the case was not routed to the judicial office"
            await _shot(page, "05-dispatcher-case-routed")
            await _logout(page)

            # 3. the department signs for the order, checks in on site, resolves
            officer = "officer.sfs"
            await _login(page, base, officer, pw[officer]["password"])
            await page.goto(f"{base}/console/#/inbox")
            card = page.locator(f".order[data-case='{case_id}']")
            await card.wait_for()
            await _shot(page, "06-department-inbox")
            for action, shown in (("sign-for", "已签收"), ("check-in", "已到场")):
                await card.locator(f"[data-act='{action}']").click()
                await page.wait_for_selector(f".order[data-case='{case_id}'] .status:text('{shown}')")
            await card.locator("[name=text]").fill("已到现场调解，双方和好，签订和解协议。")
            await card.locator("[data-act='resolve']").click()
            await page.wait_for_selector(f".order[data-case='{case_id}'] .status:text('已办结')")
            await _shot(page, "07-department-resolved")
            await _logout(page)

            # 4. the dispatcher verifies
            await _login(page, base, "dispatcher", pw["dispatcher"]["password"])
            await page.goto(f"{base}/console/#/board/verify")
            row = page.locator("tr[data-order]", has=page.locator(f"a[href='#/case/{case_id}']"))
            await row.wait_for()
            await row.locator("[name=comment]").fill("核验通过")
            await row.locator("[data-verify='1']").click()
            await row.wait_for(state="detached")
            await _shot(page, "08-dispatcher-verified")

            # 5. the case timeline shows where it stands, in Chinese and in English
            statuses = set()
            for _ in range(120):
                await page.goto(f"{base}/console/#/case/{case_id}")
                await page.wait_for_selector("#timeline li")
                statuses = set(await page.locator("#timeline li").all_inner_texts())
                text = "\n".join(statuses)
                if re.search(r"resolved|closed|verified|已核验|已办结", text) and len(statuses) >= 4:
                    break
                await asyncio.sleep(0.5)
            out["timeline"] = sorted(statuses)
            await _shot(page, "09-case-timeline-zh")
            await page.click("#lang")
            await page.wait_for_selector("text=Timeline")
            await _shot(page, "10-case-timeline-en")
            await page.click("#lang")

            # 6. the big screen shows it
            await page.goto(f"{base}/console/#/screen")
            await page.wait_for_selector("#open-screen")
            screen = await desk.new_page()
            await screen.goto(f"{base}/screen")
            await screen.wait_for_selector(f"text={case_no}", timeout=30000)  # the live feed names the case
            await _shot(screen, "11-big-screen")
            assert not errors, errors
            await desk.close()
        finally:
            await browser.close()
    return out


async def test_console_walk_report_to_big_screen(stack):
    creds = stack.credentials()
    base = stack.gateway_url
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        before = (await c.get("/screen/data")).json()
    result = await walk(base, creds)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        pw = next(u["password"] for u in creds["users"] if u["username"] == "dispatcher")
        tok = (await c.post("/api/v1/auth/login", json={"username": "dispatcher", "password": pw})).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        case = (await c.get(f"/api/v1/cases/{result['case_id']}", headers=h)).json()
        assert case["attachments"] and case["location"]["lat"] is not None
        kinds = [e["kind"] for e in case["timeline"]]
        assert len(kinds) >= 4, kinds
        orders = (await c.get(f"/api/v1/orders?case_id={result['case_id']}", headers=h)).json()
        assert [o["status"] for o in orders if o["department"] == "SFS"] == ["verified"]

        async def counted():
            after = (await c.get("/screen/data")).json()
            return after if after != before else None

        from fengqiao_devstack.testing import eventually
        await eventually(counted, timeout=30, interval=0.5)
        # the audit log recorded who did what to the case, from where
        apw = next(u["password"] for u in creds["users"] if u["username"] == "admin")
        at = (await c.post("/api/v1/auth/login", json={"username": "admin", "password": apw})).json()
        rows = (await c.get("/api/v1/admin/audit?limit=500", headers={"Authorization": f"Bearer {at['access_token']}"})
                ).json()
        actions = {r["action"] for r in rows}
        assert {"cases.grid-events", "attachments.create", "orders.sign-for", "orders.check-in", "orders.resolve",
                "orders.verify"} <= actions, actions
    for name in ("02-report-form-phone", "06-department-inbox", "09-case-timeline-zh", "11-big-screen"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 1000
