"""The console's other workflows in headless Chromium over the whole running system: a department returns an order
and the dispatcher dispatches it by hand; the dispatcher regrades a case to red (the board's alert counts down its
limits) and refers it to mediation; books a mediation naming a mediator who does not take the category (the page
says why and offers who can), then one who does; the mediator records a session and signs it; each party signs on
their own page with a code sent by SMS; the agreement and the court application; the admin manages users, API keys,
routing rules and reads the audit log in Chinese; the English switch; no page throws a script error."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from test_console_walk import ARTIFACTS, DESKTOP, PHONE, choose, launch, login, logout, shot

pytestmark = pytest.mark.browser


async def _until(page, url: str, locator, tries: int = 120) -> None:
    for _ in range(tries):
        await page.goto(url)
        await page.wait_for_selector("main h1")
        await page.wait_for_timeout(300)
        if await locator.count():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{url}: nothing appeared")


async def test_console_dispatch_mediation_and_admin_pages(stack):
    from playwright.async_api import async_playwright

    base = stack.gateway_url
    pw = {u["username"]: u["password"] for u in stack.credentials()["users"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    marker = str(uuid.uuid4().int)[:6]
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        t = (await c.post("/api/v1/auth/login", json={"username": "grid02", "password": pw["grid02"]})).json()
        r = await c.post("/api/v1/cases/grid-events", headers={"Authorization": f"Bearer {t['access_token']}"},
                         json={"category": "family", "grid": t["user"]["grids"][0], "title": f"退单测试 {marker}",
                               "description": f"需退单重派 {marker}", "location": {"address": "外海"}})
        assert r.status_code == 201, r.text
        case_id, case_no = r.json()["id"], r.json()["case_no"]
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            ctx = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
            page = await ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # a department returns the order (退单); the case waits in the dispatcher's queue; manual dispatch
            await login(page, base, "officer.sfs", pw["officer.sfs"])
            card = page.locator(f".order[data-case='{case_id}']")
            await _until(page, f"{base}/console/#/inbox", card)
            await card.locator("input[name=text]").fill("不属于本所职责，请改派综治办")
            await card.locator("[data-act='return']").click()
            await page.wait_for_selector(f".order[data-case='{case_id}'] .status:has-text('已退单')")
            await logout(page)
            await login(page, base, "dispatcher", pw["dispatcher"])
            queued = page.locator(f".dispatch-form[data-case='{case_id}']")
            await _until(page, f"{base}/console/#/board/queue", queued)
            await shot(page, "19-dispatcher-queue")
            await choose(page, f".dispatch-form[data-case='{case_id}'] .lead", "综合治理办公室")
            await queued.locator(".do-dispatch").click()
            await queued.wait_for(state="detached")
            await page.goto(f"{base}/console/#/case/{case_id}")
            await page.wait_for_selector("text=综合治理办公室")

            # regrade to red: the board's alerts count down the sign-for, on-site and result limits
            await page.click("#act-regrade")
            form = page.locator("#case-action-form")
            await form.locator("label:has-text('红色')").click()
            await form.locator("#action-reason").fill("涉及人身安全")
            await form.locator("button[type=submit]").click()
            await page.wait_for_selector("h1 .grade.red")
            alert = page.locator(f".alert[data-case='{case_id}']")
            await _until(page, f"{base}/console/#/board/alerts", alert, tries=40)
            text = await alert.inner_text()
            assert "签收" in text and "办结" in text and ("剩余" in text or "已超时" in text), text
            assert f"{case_no}-" in text, text
            await shot(page, "20-dispatcher-red-alerts")
            # and refers it to mediation
            await page.goto(f"{base}/console/#/case/{case_id}")
            await page.click("#act-mediation")
            await page.locator("#refer-note").fill("家庭纠纷，建议人民调解")
            await page.locator("#case-action-form button[type=submit]").click()
            await page.wait_for_selector(".el-message--success")

            # booking: the named mediator does not take family disputes -> why, and who can
            await page.goto(f"{base}/console/#/mediation")
            bf = page.locator("#book-form")
            await bf.wait_for()
            await choose(page, "#book-form .el-select >> nth=0", "婚姻家庭")
            await page.fill("#msum", f"家庭纠纷调解 {marker}")
            await page.fill("#a_name", "张三")
            await page.fill("#a_phone", "13800138000")
            await page.fill("#r_name", "李四")
            await page.fill("#r_phone", "13900139000")
            await choose(page, "#book-form .el-select >> nth=3", "区永康")
            await bf.locator("button[type=submit]").click()
            unavailable = page.locator("#unavailable")
            await unavailable.wait_for()
            assert "不调解此类纠纷" in await unavailable.inner_text()
            await shot(page, "21-mediation-unavailable-alternatives")
            first = unavailable.locator(".alternative").first
            name = (await first.inner_text()).split("·")[0].strip()
            await first.click()  # an alternative fills in the mediator
            assert name in await page.locator("#book-form .el-select >> nth=3").inner_text()
            await bf.locator("button[type=submit]").click()
            await page.wait_for_selector("#mediation-no")
            mediation_id = page.url.rsplit("/", 1)[1]
            assert name in await page.locator("main").inner_text()
            await shot(page, "22-mediation-booked")
            await logout(page)

            # the mediator and the two parties get their own accounts (linked to the mediator and parties booked)
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                at = (await c.post("/api/v1/auth/login", json={"username": "admin", "password": pw["admin"]})).json()
                h = {"Authorization": f"Bearer {at['access_token']}"}
                m = (await c.get(f"/api/v1/mediation/mediations/{mediation_id}", headers=h)).json()
                parties = {x["side"]: x for x in m["parties"]}
                r = await c.post("/api/v1/admin/users", headers=h, json={
                    "username": f"mediator-{marker}", "password": "Mediator-2026-pass", "display_name": name,
                    "roles": ["mediator"], "mediator_id": m["mediator_id"]})
                assert r.status_code == 201, r.text
                for side in ("applicant", "respondent"):
                    r = await c.post("/api/v1/admin/users", headers=h, json={
                        "username": f"{side}-{marker}", "password": "Party-2026-pass", "display_name": parties[side]["name"],
                        "roles": ["party"], "party_id": parties[side]["id"]})
                    assert r.status_code == 201, r.text

            # the mediator in charge records a session and signs the record
            await login(page, base, f"mediator-{marker}", "Mediator-2026-pass")
            await page.goto(f"{base}/console/#/mediation/{mediation_id}")
            sf = page.locator("#session-form")
            await sf.wait_for()
            await page.fill("#s-place", "外海街道综治中心调解室")
            await page.fill("#s-att", "张三, 李四")
            await page.fill("#s-agreed", "双方同意分居冷静期一个月\n孩子由母亲照看")
            await sf.locator("button[type=submit]").click()
            session = page.locator(".session")
            await session.wait_for()
            await session.locator(".sign-mediator").click()
            await page.wait_for_selector(".session .sign-mediator", state="detached")
            pending = await session.locator(".pending").inner_text()
            assert "张三（申请人）" in pending and "李四（被申请人）" in pending, pending
            await shot(page, "23-mediation-session-signed-by-mediator")
            await logout(page)

            # each party signs on their own page with the code the SMS brought
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                for side, phone_no in (("applicant", "13800138000"), ("respondent", "13900139000")):
                    await login(page, base, f"{side}-{marker}", "Party-2026-pass")
                    await page.goto(f"{base}/console/#/mediation")
                    await page.locator(".mediation-link").first.click()
                    await page.wait_for_selector(".session .send-code")
                    await page.click(".session .send-code")
                    await page.wait_for_selector(".el-message--success:has-text('验证码已发送')")
                    sms = (await c.get("/api/v1/mediation/dev/sms", params={"phone": phone_no}, headers=h)).json()
                    assert sms, f"no SMS to {phone_no}"
                    code = re.findall(r"\d{6}", sms[-1]["text"])[-1]
                    await page.locator(".session .code input").fill(code)
                    await page.click(".session .sign-party")
                    await page.wait_for_selector(".session .sign-party", state="detached")
                    if side == "applicant":
                        await shot(page, "24-party-signed")
                    await logout(page)

            # sealed: the mediator generates the agreement and applies for judicial confirmation
            await login(page, base, f"mediator-{marker}", "Mediator-2026-pass")
            await page.goto(f"{base}/console/#/mediation/{mediation_id}")
            await page.wait_for_selector(".session .sealed")
            await page.click("#gen-agreement")
            await page.wait_for_selector("#agreement-pdf")
            await page.click("#apply-court")
            await page.wait_for_selector(".court")
            await shot(page, "25-mediation-agreement-court")
            await logout(page)

            # the admin: users, keys (shown once), audit log, rules; English
            await login(page, base, "admin", pw["admin"])
            await page.goto(f"{base}/console/#/admin/users")
            await page.wait_for_selector("#user-form")
            await page.fill("#nu-username", f"grid-{marker}")
            await page.fill("#nu-password", "Grid-2026-pass")
            await page.fill("#nu-name", "新网格员")
            await choose(page, "#user-form .el-select >> nth=2", "第7网格")
            await page.click("#user-form button[type=submit]")
            await page.wait_for_selector(f".username:text('grid-{marker}')")
            await shot(page, "26-admin-users")
            await page.goto(f"{base}/console/#/admin/keys")
            await page.wait_for_selector("#key-form")
            await page.fill("#k-name", f"key-{marker}")
            await page.click("#key-form button[type=submit]")
            key = await page.locator("#new-key code").inner_text()
            assert key.startswith("fqk_")
            await page.click(f".revoke[data-key='key-{marker}']")
            await page.wait_for_selector(f".revoke[data-key='key-{marker}']", state="detached")
            await page.goto(f"{base}/console/#/admin/audit")
            await page.wait_for_selector("#audit .action")
            audit = await page.locator("#audit").inner_text()
            assert "吊销接口密钥" in audit and "记录调解" in audit and "签名" in audit, audit[:500]
            await shot(page, "27-admin-audit")
            await page.goto(f"{base}/console/#/admin/rules")
            await page.wait_for_selector("#rules")
            await page.wait_for_selector("#rules >> text=外海司法所")
            await page.fill("#r-name", f"规则 {marker}")
            await choose(page, "#rule-form .el-select >> nth=0", "消费与合同")
            await choose(page, "#rule-form .el-select >> nth=1", "江海区市场监督管理局")
            await page.fill("#r-kw", f"预付卡{marker}")
            await page.click("#rule-form button[type=submit]")
            row = page.locator("#rules tr", has_text=f"规则 {marker}")
            await row.wait_for()
            assert "江海区市场监督管理局" in await row.inner_text()
            await row.locator(".retire").click()
            await row.wait_for(state="detached")
            await page.click("#lang")
            await page.wait_for_selector(".el-tabs__item:has-text('Routing rules')")
            await shot(page, "28-admin-rules-en")
            await page.click("#lang")
            assert not errors, errors
        finally:
            await browser.close()

    # the new grid worker logs in on a phone and sees only their own grid in the report form
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            page = await (await browser.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN")).new_page()
            await login(page, base, f"grid-{marker}", "Grid-2026-pass")
            await page.goto(f"{base}/console/#/report")
            await page.wait_for_selector("#report-form")
            await page.locator("#report-form .el-select >> nth=1").click()
            items = page.locator(".el-select-dropdown__item:visible")
            await items.first.wait_for()
            assert await items.all_inner_texts() == ["第7网格"]
        finally:
            await browser.close()
