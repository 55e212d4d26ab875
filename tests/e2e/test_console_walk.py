"""The staff console (Vue 3 + Element Plus, built into services/gateway/web/dist) in headless Chromium (Playwright
driving Debian's chromium), over the whole running system: a grid worker reports from a phone-sized screen (photo,
location) -> the dispatcher sees it on the board -> the department signs for the order, checks in on site, resolves
with a photo -> the dispatcher verifies -> the case timeline shows every step and the big screen counts it (it names no case).
Screenshots go to test-artifacts/console/. The helpers here (launch, login, choose, scan, axe) serve the other
console tests too."""

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
AXE = REPO / "services" / "gateway" / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# a 1x1 JPEG, enough for the content-type check of the attachment store
PHOTO = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////"
    "////////////////////2wBDAf//////////////////////////////////////////////////////////////////////////////"
    "////////////wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAP/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAA"
    "AAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/AKp//9k="
)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
RAW_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+(?:-[a-z0-9]+)*)+\b")
WORD = re.compile(r"[A-Za-z]{2,}")
# Latin text a Chinese page may show: the language switch, case numbers (WH-…), file formats
ALLOWED_LATIN = {"English", "WH", "PDF", "CSV", "Excel"}
VISIBLE_TEXT = """() => {
  const out = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = w.nextNode())) {
    const el = n.parentElement;
    if (!el || el.closest("[data-verbatim], script, style, noscript")) continue;
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const s = n.textContent.trim();
    if (s) out.push([s, !!el.closest("[data-user-text]")]);
  }
  return out;
}"""


async def launch(p):
    return await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


async def login(page, base: str, username: str, password: str) -> None:
    await page.goto(f"{base}/console/#/login")
    await page.fill("#u", username)
    await page.fill("#p", password)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector(".tiles")


async def logout(page) -> None:
    await page.click("#logout")
    await page.wait_for_selector("#login-form")


async def shot(page, name: str) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def choose(page, trigger: str, option: str) -> None:
    """Picks an option of an Element Plus select (the dropdown is teleported to the body)."""
    await page.locator(trigger).click()
    item = page.locator(".el-select-dropdown__item:visible", has_text=option).first
    await item.click()
    await page.keyboard.press("Escape")


async def scan(page, lang: str) -> dict[str, list[str]]:
    """Raw keys, UUIDs and (in Chinese) English words among the visible text of the page."""
    texts = await page.evaluate(VISIBLE_TEXT)
    found: dict[str, list[str]] = {"uuid": [], "raw_key": [], "english": []}
    for s, typed_by_people in texts:  # what people typed (summaries, results, notes) may hold any word
        found["uuid"] += UUID.findall(s)
        if lang == "zh":
            found["raw_key"] += RAW_KEY.findall(s)
        if lang == "zh" and not typed_by_people:
            found["english"] += [w for w in WORD.findall(UUID.sub("", s)) if w not in ALLOWED_LATIN]
    return found


async def axe(page) -> list[dict]:
    """Serious and critical axe-core violations of the page as it stands (the context needs bypass_csp)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    return await page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" "))}))""")


async def walk(base: str, creds: dict) -> dict:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pw = {u["username"]: u for u in creds["users"]}
    marker = str(uuid.uuid4().int)[:6]
    photo = ARTIFACTS / "site-photo.jpg"
    photo.write_bytes(PHOTO)
    out: dict = {}
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            # 1. the grid worker, on a phone, reports with a photo and a location
            phone = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN",
                                              geolocation={"latitude": 22.5957, "longitude": 113.1032},
                                              permissions=["geolocation"])
            page = await phone.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await login(page, base, "grid01", pw["grid01"]["password"])
            assert (await page.locator("#lang").inner_text()).strip() == "English"  # Chinese by default
            await shot(page, "01-grid-worker-home")
            await page.goto(f"{base}/console/#/report")
            await page.wait_for_selector("#report-form")
            await choose(page, "#report-form .el-select >> nth=0", "婚姻家庭")
            await page.fill("#title", f"邻居家庭纠纷 {marker}")
            await page.fill("#description", f"网格员巡查发现夫妻争吵，需司法所调处。标记 {marker}")
            await page.fill("#people", "2")
            await page.click("#geo")
            await expect(page.locator("#report-form input[name=lat]")).not_to_have_value("", timeout=15000)
            await page.fill("#address", "外海街道直冲村 12 号")
            await page.set_input_files("#photo", str(photo))
            await shot(page, "02-report-form-phone")
            await page.click("#report-form button[type=submit]")
            link = page.locator("#reported a")
            await link.wait_for(timeout=20000)
            case_no = await link.get_attribute("data-case-no")
            case_id = (await link.get_attribute("href")).rsplit("/", 1)[1]
            out.update(case_no=case_no, case_id=case_id)
            await shot(page, "03-reported")
            await link.click()
            await page.wait_for_selector("#timeline .el-timeline-item")
            assert case_no in await page.locator("#case-no").inner_text()
            await page.wait_for_selector(".thumbs img")  # the photo, fetched with the token
            await logout(page)
            assert not errors, errors
            await phone.close()

            # 2. the dispatcher sees the case on the board; the rules have routed it to the judicial office
            desk = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
            page = await desk.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await login(page, base, "dispatcher", pw["dispatcher"]["password"])
            await page.goto(f"{base}/console/#/board/recent")
            await page.wait_for_selector(f"text={case_no}")
            await shot(page, "04-dispatcher-board")
            routed = False
            for _ in range(120):  # routing happens over Kafka: wait for the order to appear on the case page
                await page.goto(f"{base}/console/#/case/{case_id}")
                await page.wait_for_selector("#timeline")
                if await page.locator("text=外海司法所").count():
                    routed = True
                    break
                await asyncio.sleep(0.5)
            assert routed, "the case was not routed to the judicial office"
            assert await page.locator(f"text={case_no}-1").count()  # the order's human number
            await shot(page, "05-dispatcher-case-routed")
            await logout(page)

            # 3. the department signs for the order, checks in on site, resolves with a photo
            officer = "officer.sfs"
            await login(page, base, officer, pw[officer]["password"])
            await page.goto(f"{base}/console/#/inbox")
            card = page.locator(f".order[data-case='{case_id}']")
            await card.wait_for()
            await shot(page, "06-department-inbox")
            for action, shown in (("sign-for", "已签收"), ("check-in", "已到场")):
                await card.locator(f"[data-act='{action}']").click()
                await page.wait_for_selector(f".order[data-case='{case_id}'] .status:has-text('{shown}')")
            await card.locator("input[name=text]").fill("已到现场调解，双方和好，签订和解协议。")
            await card.locator(".order-photo").set_input_files(str(photo))
            await card.locator("[data-act='resolve']").click()
            await page.wait_for_selector(f".order[data-case='{case_id}'] .status:has-text('已办结')")
            await card.locator(".thumbs img").wait_for()  # the result photo is viewable
            await shot(page, "07-department-resolved")
            await logout(page)

            # 4. the dispatcher verifies
            await login(page, base, "dispatcher", pw["dispatcher"]["password"])
            await page.goto(f"{base}/console/#/board/verify")
            row = page.locator(f".order-row[data-case='{case_id}']")
            await row.wait_for()
            await row.locator(".comment input").fill("核验通过")
            await row.locator(".verify-yes").click()
            await row.wait_for(state="detached")
            await shot(page, "08-dispatcher-verified")

            # 5. the case timeline shows where it stands, in Chinese and in English
            statuses: list[str] = []
            for _ in range(120):
                await page.goto(f"{base}/console/#/case/{case_id}")
                await page.wait_for_selector("#timeline .el-timeline-item")
                statuses = await page.locator("#timeline .el-timeline-item").all_inner_texts()
                if re.search(r"已核验|已办结", "\n".join(statuses)) and len(statuses) >= 4:
                    break
                await asyncio.sleep(0.5)
            out["timeline"] = statuses
            await shot(page, "09-case-timeline-zh")
            await page.click("#lang")
            await page.wait_for_selector("h2:text('Timeline')")
            await shot(page, "10-case-timeline-en")
            await page.click("#lang")

            # 6. the big screen shows it
            await page.goto(f"{base}/console/#/screen")
            await page.wait_for_selector("#open-screen")
            screen = await desk.new_page()
            await screen.goto(f"{base}/screen")
            await screen.wait_for_load_state("load")  # the public screen names no case; the counts are checked below
            await screen.wait_for_timeout(2000)
            await shot(screen, "11-big-screen")
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
        sfs = [o for o in orders if o["department"] == "SFS"]
        assert [o["status"] for o in sfs] == ["verified"] and sfs[0]["evidence"], sfs

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
