"""The other console pages in headless Chromium over the whole running system: the dispatcher books a
mediation, the mediator records a session and signs it (process confirmation), the admin manages users
and API keys and reads the audit log; the English switch; no page throws a script error."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from test_console_walk import ARTIFACTS, CHROMIUM, _login, _logout, _shot

pytestmark = pytest.mark.browser


async def test_console_mediation_and_admin_pages(stack):
    from playwright.async_api import async_playwright

    base = stack.gateway_url
    pw = {u["username"]: u["password"] for u in stack.credentials()["users"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex[:6]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = await ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # a department returns an order (退单); the case waits in the dispatcher's queue; manual dispatch
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                t = (await c.post("/api/v1/auth/login", json={"username": "grid02", "password": pw["grid02"]})).json()
                r = await c.post("/api/v1/cases/grid-events", headers={"Authorization": f"Bearer {t['access_token']}"},
                                 json={"category": "family", "grid": t["user"]["grids"][0], "title": f"退单测试 {marker}",
                                       "description": f"需退单重派 {marker}", "location": {"address": "外海"}})
                assert r.status_code == 201, r.text
                case_id = r.json()["id"]
            await _login(page, base, "officer.sfs", pw["officer.sfs"])
            card = page.locator(f".order[data-case='{case_id}']")
            for _ in range(120):
                await page.goto(f"{base}/console/#/inbox")
                await page.wait_for_selector("h1")
                if await card.count():
                    break
                await asyncio.sleep(0.5)
            await card.locator("[name=text]").fill("不属于本所职责，请改派综治办")
            await card.locator("[data-act='return']").click()
            await page.wait_for_selector(f".order[data-case='{case_id}'] .status:text('已退单')")
            await _logout(page)
            await _login(page, base, "dispatcher", pw["dispatcher"])
            queued = page.locator(f".dispatch-form[data-case='{case_id}']")
            for _ in range(120):
                await page.goto(f"{base}/console/#/board/queue")
                await page.wait_for_selector("#board-body")
                if await queued.count():
                    break
                await asyncio.sleep(0.5)
            await _shot(page, "19-dispatcher-queue")
            await queued.locator("[name=lead]").select_option("ZZB")
            await queued.locator("button[type=submit]").click()
            await queued.wait_for(state="detached")
            await page.goto(f"{base}/console/#/case/{case_id}")
            await page.wait_for_selector("td:text('综合治理办公室 ★')")
            for tab in ("overdue", "escalations", "verify", "recent"):
                await page.goto(f"{base}/console/#/board/{tab}")
                await page.wait_for_selector(f"button[data-tab='{tab}'].active")
                await page.wait_for_selector("#board-body table, #board-body p")

            # the dispatcher books a mediation with mediator M001
            await page.goto(f"{base}/console/#/mediation")
            form = page.locator("#book-form")
            await form.wait_for()
            await form.locator("[name=category]").fill("family")
            await form.locator("[name=summary]").fill(f"家庭纠纷调解 {marker}")
            await form.locator("[name=a_name]").fill("张三")
            await form.locator("[name=a_phone]").fill("13800138000")
            await form.locator("[name=r_name]").fill("李四")
            await form.locator("[name=r_phone]").fill("13900139000")
            await form.locator("[name=mediator_id]").fill("M001")
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector(f"text=家庭纠纷调解 {marker}")
            mediation_url = page.url
            await _shot(page, "20-mediation-booked")
            await _logout(page)

            # the mediator in charge records a session and signs the record
            await _login(page, base, "mediator", pw["mediator"])
            await page.goto(f"{base}/console/#/mediation")
            await page.wait_for_selector(f"a[href='{mediation_url.split('/console/')[1]}']")
            await page.goto(mediation_url)
            sf = page.locator("#session-form")
            await sf.wait_for()
            await sf.locator("[name=started_at]").fill("2026-11-20T09:00")
            await sf.locator("[name=ended_at]").fill("2026-11-20T10:00")
            await sf.locator("[name=place]").fill("外海街道综治中心调解室")
            await sf.locator("[name=attendees]").fill("张三, 李四")
            await sf.locator("[name=points_agreed]").fill("双方同意分居冷静期一个月\n孩子由母亲照看")
            await sf.locator("button[type=submit]").click()
            row = page.locator("tr[data-session]")
            await row.wait_for()
            await row.locator("[data-sign-mediator]").click()
            await page.wait_for_selector("tr[data-session] [data-sign-mediator]", state="detached")
            text = await row.inner_text()
            assert "party:" in text and "mediator:" not in text, text  # the parties still have to sign
            await _shot(page, "21-mediation-session-signed-by-mediator")
            await _logout(page)

            # the admin: users, keys (shown once), audit log, rules, catalogue; English
            await _login(page, base, "admin", pw["admin"])
            await page.goto(f"{base}/console/#/admin/users")
            uf = page.locator("#user-form")
            await uf.wait_for()
            await uf.locator("[name=username]").fill(f"grid-{marker}")
            await uf.locator("[name=password]").fill("Grid-2026-pass")
            await uf.locator("[name=display_name]").fill("新网格员")
            await uf.locator("[name=role]").select_option("grid_worker")
            await uf.locator("[name=grids]").fill("WH-07")
            await uf.locator("button[type=submit]").click()
            await page.wait_for_selector(f"td:text('grid-{marker}')")
            await _shot(page, "22-admin-users")
            await page.goto(f"{base}/console/#/admin/keys")
            kf = page.locator("#key-form")
            await kf.wait_for()
            await kf.locator("[name=name]").fill(f"key-{marker}")
            await kf.locator("button[type=submit]").click()
            key = await page.locator("#new-key code").inner_text()
            assert key.startswith("fqk_")
            await page.wait_for_selector(f"td:text('key-{marker}')")
            await page.locator("tr", has=page.locator(f"td:text('key-{marker}')")).locator("[data-key]").click()
            await page.wait_for_selector(f"td:text('key-{marker}')", state="detached")
            await page.goto(f"{base}/console/#/admin/audit")
            await page.wait_for_selector("td:text('admin.api_keys.revoke')")
            await page.wait_for_selector("td:text('mediation.mediations.sessions')")
            await _shot(page, "23-admin-audit")
            await page.goto(f"{base}/console/#/admin/rules")
            await page.wait_for_selector("td:text('外海司法所')")
            rf = page.locator("#rule-form")
            await rf.locator("[name=name]").fill(f"规则 {marker}")
            await rf.locator("[name=domain]").select_option("consumer")
            await rf.locator("[name=lead]").select_option("QSJJ")
            await rf.locator("[name=keywords]").fill(f"预付卡{marker}")
            await rf.locator("button[type=submit]").click()
            rule_row = page.locator("tr[data-rule]", has=page.locator(f"td:text('规则 {marker}')"))
            await rule_row.wait_for()
            assert "江海区市场监督管理局" in await rule_row.inner_text()
            await rule_row.locator("[data-retire]").click()
            await rule_row.wait_for(state="detached")
            await page.click("#lang")
            await page.wait_for_selector("button[data-tab='rules']:text('Routing rules')")
            await _shot(page, "24-admin-rules-en")
            await page.click("#lang")
            assert not errors, errors
        finally:
            await browser.close()

    # the new grid worker logs in and sees only their own grid in the report form
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            page = await (await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
            await _login(page, base, f"grid-{marker}", "Grid-2026-pass")
            await page.goto(f"{base}/console/#/report")
            await page.wait_for_selector("#grid")
            assert await page.locator("#grid option").all_inner_texts() == ["第7网格 (WH-07)"]
        finally:
            await browser.close()
