"""Every role's console pages in headless Chromium, in Chinese and in English, at 1280×800 and at 390×844: each
page is screenshotted (test-artifacts/console/roles/), scanned for raw keys (``order.dispatched``, ``grid_worker``),
UUIDs and, in Chinese, English words, and checked with axe-core (no serious or critical violation); the pages are
reached with the keyboard from the navigation. Fails with the list of what it found."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from test_console_walk import ARTIFACTS, DESKTOP, PHONE, axe, launch, login, scan

pytestmark = pytest.mark.browser

ROLES: dict[str, list[str]] = {
    "grid01": ["/home", "/report", "/my", "/case/{case}", "/screen"],
    "dispatcher": ["/home", "/board/alerts", "/board/queue", "/board/verify", "/board/overdue", "/board/escalations",
                   "/board/recent", "/signals", "/search", "/case/{case}", "/mediation", "/mediation/{mediation}"],
    "officer.sfs": ["/home", "/inbox", "/search", "/case/{case}"],
    "mediator": ["/home", "/mediation", "/mediation/{mediation}", "/search"],
    "party": ["/home", "/mediation"],
    "leader": ["/home", "/board/alerts", "/board/recent", "/signals", "/search"],
    "admin": ["/home", "/admin/users", "/admin/keys", "/admin/audit", "/admin/rules", "/admin/catalogue"],
}


async def _settle(page) -> None:
    await page.wait_for_selector("main h1, #login-form")
    await page.wait_for_load_state("load")
    await page.wait_for_timeout(500)  # the page's own requests (the board keeps an SSE stream open: no network idle)


async def _references(base: str, creds: dict) -> dict[str, dict[str, str]]:
    """Per user, a case and a mediation that user may open (access is by purpose: a grid worker sees its
    grids, an officer its department's cases, a mediator its own mediations): a page of someone else's
    case is a 404, not a page to walk."""
    pw = {u["username"]: u["password"] for u in creds["users"]}
    refs: dict[str, dict[str, str]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        for user in ROLES:
            tok = (await c.post("/api/v1/auth/login", json={"username": user, "password": pw[user]})).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            r = await c.get("/api/v1/cases", params={"limit": 5}, headers=h)
            cases = r.json()["items"] if r.status_code == 200 else []
            r = await c.get("/api/v1/mediation/mediations", headers=h)
            mediations = r.json() if r.status_code == 200 else []
            refs[user] = {"case": cases[0]["id"] if cases else "", "mediation": mediations[0]["id"] if mediations else ""}
    return refs


async def walk_roles(base: str, creds: dict) -> dict:
    from playwright.async_api import async_playwright

    out = ARTIFACTS / "roles"
    out.mkdir(parents=True, exist_ok=True)
    refs = await _references(base, creds)
    pw = {u["username"]: u["password"] for u in creds["users"]}
    found: list[dict] = []
    violations: list[dict] = []
    errors: list[str] = []
    async def one(browser, user: str, paths: list[str]) -> int:
        done = 0
        ctx = await browser.new_context(viewport=DESKTOP, locale="zh-CN", bypass_csp=True)
        page = await ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"{user}: {e}"))
        await login(page, base, user, pw[user])
        # the keyboard reaches the navigation: Tab from the top of a page lands on the skip link
        await page.reload()
        await _settle(page)
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.classList.contains('skip')")
        for path in paths:
            if ("{mediation}" in path and not refs[user]["mediation"]) or ("{case}" in path and not refs[user]["case"]):
                continue
            url = path.format(**refs[user])
            name = f"{user}{path.split('{')[0].rstrip('/').replace('/', '-')}"
            await page.goto(f"{base}/console/#{url}")
            await _settle(page)
            done += 1
            for lang, size, tag in (("zh", DESKTOP, "zh-desktop"), ("zh", PHONE, "zh-phone"),
                                    ("en", PHONE, "en-phone"), ("en", DESKTOP, "en-desktop")):
                current = await page.evaluate("document.documentElement.lang")
                if (current == "zh-CN") != (lang == "zh"):
                    await page.click("#lang")
                    await page.wait_for_timeout(200)
                await page.set_viewport_size(size)
                await page.wait_for_timeout(100)
                hits = await scan(page, lang)
                for kind, items in hits.items():
                    if items:
                        found.append({"page": f"{user} {url}", "view": tag, "kind": kind, "items": sorted(set(items))})
                if tag in ("zh-desktop", "zh-phone"):
                    for v in await axe(page):
                        violations.append({"page": f"{user} {url}", "view": tag, **v})
                await page.screenshot(path=str(out / f"{name}-{tag}.png"), full_page=True)
            await page.click("#lang")  # back to Chinese for the next page
        await ctx.close()
        return done

    async with async_playwright() as p:
        browser = await launch(p)
        try:
            gate = asyncio.Semaphore(2)  # two roles at a time

            async def gated(user: str, paths: list[str]) -> int:
                async with gate:
                    return await one(browser, user, paths)

            pages = sum(await asyncio.gather(*(gated(u, ps) for u, ps in ROLES.items())))
        finally:
            await browser.close()
    return {"pages": pages, "found": found, "violations": violations, "errors": errors}


async def test_console_every_role_every_page_zh_en_desktop_phone(stack):
    started = time.monotonic()
    result = await walk_roles(stack.gateway_url, stack.credentials())
    took = time.monotonic() - started
    report = ARTIFACTS / "roles" / "report.json"
    report.write_text(json.dumps({**result, "seconds": round(took, 1)}, ensure_ascii=False, indent=1))
    assert result["pages"] >= 35, result["pages"]
    assert not result["errors"], result["errors"]
    assert not result["found"], json.dumps(result["found"], ensure_ascii=False, indent=1)
    assert not result["violations"], json.dumps(result["violations"], ensure_ascii=False, indent=1)
