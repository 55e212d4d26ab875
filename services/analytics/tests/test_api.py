"""The HTTP API over real read models: identity and roles, the weak-signal rules and the ledger's status
machine, exports with filters and masking, bilingual 4xx errors."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta

from fengqiao_analytics.domain import signals as ws
from fengqiao_devstack.testing import eventually, identity_headers
from fengqiao_events import new_envelope
from fengqiao_events.payloads import case as C
from fengqiao_events.payloads import order as O
from openpyxl import load_workbook
from test_read_models import all_processed, publish_many

from conftest import DISPATCHER, LEADER, running_app

NOW = datetime.now(UTC)


def report(grid="WH-07", community="C07", category="neighbour", at=None, people=0, requester=None, summary="噪音",
           keywords=()):
    cid = str(uuid.uuid4())
    return cid, new_envelope(C.GridEventReported(
        case_id=cid, case_no=f"N-{cid[:6]}", channel="petition", category=category, grade="yellow", grid=grid,
        community=community, street="WH", district="JH", summary=summary, description="d", people_involved=people,
        requester_ref=requester, keywords=list(keywords), reported_at=at or NOW), source="/fengqiao/intake")


def order_env(model, cid, oid, dept="SFS", seq=1, **kw):
    return new_envelope(model(order_id=oid, case_id=cid, department=dept, seq=seq, at=NOW, **kw),
                        source="/fengqiao/dispatch")


async def test_identity_is_required_and_roles_are_checked(make_settings):
    async with running_app(await make_settings(run_consumers=False)) as (_app, c):
        r = await c.get("/api/v1/analytics/summary")
        assert r.status_code == 401 and r.json()["message_zh"]
        r = await c.get("/api/v1/analytics/summary", headers={"X-Fengqiao-Identity": "forged"})
        assert r.status_code == 401
        r = await c.get("/api/v1/analytics/summary", headers=identity_headers(roles=["grid_worker"]))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert (await c.get("/api/v1/analytics/departments", headers=DISPATCHER)).status_code == 200
        # the rates by period (issue #17): aggregates for the dashboard roles, periods week / month / year
        r = await c.get("/api/v1/analytics/departments/rates?period=week&at=2026-03-04", headers=LEADER)
        assert r.status_code == 200 and (r.json()["key"], r.json()["previous"]) == ("2026-W10", "2026-W09")
        assert {d["code"] for d in r.json()["items"]} >= {"SFS"} and r.json()["items"][0]["response"]["denominator"] == 0
        assert (await c.get("/api/v1/analytics/departments/rates", headers=LEADER)).json()["period"] == "month"
        assert (await c.get("/api/v1/analytics/departments/rates?period=decade", headers=LEADER)).status_code == 422
        r = await c.get("/api/v1/analytics/departments/rates?at=0001-01-01", headers=LEADER)
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "at"
        r = await c.get("/api/v1/analytics/departments/rates", headers=identity_headers(roles=["grid_worker"]))
        assert r.status_code == 403
        assert (await c.get("/api/v1/analytics/summary", headers=identity_headers(roles=["admin"]))).status_code == 200
        # the wall screen is anonymous by default (aggregates only)
        assert (await c.get("/screen/data")).status_code == 200
        r = await c.get("/screen")
        assert r.status_code == 200 and 'data-metric="total"' in r.text and "/screen/static/" in r.text
        assert (await c.get("/screen/static/screen.js")).status_code == 200
        assert (await c.get("/screen/static/vendor/echarts.min.js")).status_code == 200
        assert (await c.get("/screen/static/..%2F..%2Fpyproject.toml")).status_code == 404
        r = await c.get("/api/v1/analytics/trends?period=month&n=0", headers=LEADER)
        assert r.status_code == 422
        fields = {f["field"]: f for f in r.json()["fields"]}
        assert set(fields) == {"period", "n"} and fields["n"]["message_zh"] and fields["n"]["message_en"]
        # NUL characters never reach PostgreSQL: 400 in a query, 422 in a body
        r = await c.get("/api/v1/analytics/weak-signals?grid=a%00b", headers=LEADER)
        assert r.status_code == 400 and r.json()["message_en"] == "the request contains NUL characters"
        r = await c.post(f"/api/v1/analytics/weak-signals/{uuid.uuid4()}/status", headers=LEADER,
                         json={"status": "dismissed", "note": "a\u0000b"})
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "note"
        # the event labels of the registry, for the screen's ticker
        labels = (await c.get("/screen/labels")).json()
        assert labels["judicial.reminded"]["zh"] and set(labels["grid.event.reported"]) == {"zh", "en"}
    async with running_app(await make_settings(run_consumers=False, screen_public=False)) as (_app, c):
        assert (await c.get("/screen/data")).status_code == 401
        assert (await c.get("/screen")).status_code == 401
        assert (await c.get("/screen/labels")).status_code == 401
        assert (await c.get("/screen/data", headers=LEADER)).status_code == 200


async def test_weak_signal_rules_ledger_and_status_machine(make_settings, own_broker):
    envs, cases = [], {}
    grid = "WH-18"  # community C07
    for k in range(3):  # repeated events of one domain in one grid
        cid, e = report(grid=grid, community="C07", category="urban", at=NOW - timedelta(minutes=k))
        envs.append(e)
        cases.setdefault("repeat", []).append(cid)
    cid, e = report(grid="WH-30", community="C08", people=25)  # many people
    envs.append(e)
    cases["people"] = cid
    cid, e = report(grid="WH-31", community="C09", category="family")  # returned twice, escalated
    envs.append(e)
    cases["returned"] = cid
    o1, o2 = str(uuid.uuid4()), str(uuid.uuid4())
    envs += [order_env(O.OrderReturned, cid, o1, reason="非本部门"), order_env(O.OrderReturned, cid, o2, reason="同上"),
             order_env(O.OrderEscalated, cid, o2, seq=3, stage="sign_for", due_at=NOW, level="street_leader")]
    ref = uuid.uuid4().hex
    for k in range(3):  # one requester, three cases
        cid, e = report(grid="WH-33", community="C11", category="consumer", requester=ref,
                        at=NOW - timedelta(minutes=k))
        envs.append(e)
        cases.setdefault("requester", []).append(cid)
    sig = str(uuid.uuid4())  # a grid worker's early sign that later became a case
    envs.append(new_envelope(C.WeakSignalReported(
        signal_id=sig, grid="WH-44", community="C11", category="land_housing", summary="宅基地边界争执苗头",
        description="d", people_involved=2, reported_at=NOW - timedelta(days=2)), source="/fengqiao/intake"))
    cid, e = report(grid="WH-44", community="C11", category="land_housing", at=NOW - timedelta(days=1))
    envs.append(e)
    cases["converted"] = cid
    holiday_eve = datetime(2026, 9, 21, 2, tzinfo=UTC)  # Mid-autumn 2026 falls on 25 September
    for k in range(3):
        _, e = report(grid="WH-17", community="C06", category="labour", summary="老板拖欠工资",
                      at=holiday_eve + timedelta(hours=k))
        envs.append(e)
    week = ws.window(date(2026, 6, 10), 7)[1]  # a rising trend: 1 case in one 7-day window, 6 in the next
    base = datetime.combine(week - timedelta(days=7), time(4), tzinfo=UTC)
    for k, days in enumerate([0, 7, 7, 8, 8, 9, 13]):
        _, e = report(grid="WH-21", community="C10", category="health", at=base + timedelta(days=days, minutes=k))
        envs.append(e)

    async with running_app(await make_settings()) as (app, c):
        await publish_many(own_broker, envs)
        await eventually(lambda: all_processed(app, [e.id for e in envs]), timeout=120)
        items = (await c.get("/api/v1/analytics/weak-signals?limit=500", headers=LEADER)).json()["items"]
        mine = {}
        for s in items:
            if s["rule"] == "repeat_domain_grid" and s["grid"] == grid:
                mine["repeat"] = s
            elif set(s["case_ids"]) & {cases["people"]} and s["rule"] == "many_people":
                mine["people"] = s
            elif cases["returned"] in s["case_ids"]:
                mine[s["rule"]] = s
            elif s["rule"] == "repeat_requester" and sorted(s["case_ids"]) == sorted(cases["requester"]):
                mine["requester"] = s
            elif s["signal_id"] == sig:
                mine["report"] = s
            elif s["rule"] == "wage_arrears_holiday" and s["community"] == "C06":
                mine["wage"] = s
            elif s["rule"] == "rising_trend" and s["community"] == "C10":
                mine["trend"] = s
        assert set(mine) == {"repeat", "people", "return_reopen", "escalation", "requester", "report", "wage", "trend"}
        assert sorted(mine["repeat"]["case_ids"]) == sorted(cases["repeat"])
        assert "（阈值 3）" in mine["repeat"]["reasons"][0] and mine["repeat"]["rule_name"] == "同一网格同类事件反复发生"
        assert mine["requester"]["subject"] == "***"  # pseudonymous requester id hidden from a leader
        assert mine["report"]["became_case_id"] == cases["converted"]
        assert "2026-09-25" in mine["wage"]["reasons"][0]
        assert all(s["status"] == "new" for s in mine.values())
        stats = (await c.get("/api/v1/analytics/weak-signals/stats", headers=LEADER)).json()
        assert stats["became_cases"] >= 1 and stats["by_status"]["new"] >= 8
        rules = (await c.get("/api/v1/analytics/weak-signals/rules", headers=LEADER)).json()
        assert rules["thresholds"]["repeat_count"] == 3

        sid = mine["repeat"]["signal_id"]
        url = f"/api/v1/analytics/weak-signals/{sid}/status"
        r = await c.post(url, headers=DISPATCHER, json={"status": "handled"})
        assert r.status_code == 409 and r.json()["current"]["status"] == "new" and r.json()["message_en"]
        r = await c.post(url, headers=DISPATCHER, json={"status": "assigned"})
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "assignee"
        r = await c.post(url, headers=DISPATCHER, json={"status": "closed"})
        assert r.status_code == 422 and r.json()["fields"][0]["field"] == "status"
        r = await c.post(url, headers=identity_headers(roles=["grid_worker"]), json={"status": "dismissed"})
        assert r.status_code == 403
        r = await c.post(f"/api/v1/analytics/weak-signals/{uuid.uuid4()}/status", headers=DISPATCHER,
                         json={"status": "dismissed"})
        assert r.status_code == 404
        r = await c.post(url, headers=DISPATCHER, json={"status": "assigned", "assignee": "ZFB", "note": "执法办核查"})
        assert r.status_code == 200 and r.json()["status"] == "assigned" and r.json()["assignee"] == "ZFB"
        r = await c.post(url, headers=LEADER, json={"status": "handled", "note": "已整改"})
        body = r.json()
        assert body["status"] == "handled"
        assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [("new", "assigned"),
                                                                                 ("assigned", "handled")]
        assert body["history"][0]["by_role"] == "dispatcher"
        assert (await c.get("/api/v1/analytics/weak-signals?status=handled", headers=LEADER)).json()["total"] == 1

        # exports: filters, masking of the pseudonymous requester id unless the role may see personal data
        r = await c.get("/api/v1/analytics/exports/cases.csv?grid=WH-33", headers=LEADER)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        col = rows[0].index("诉求人(化名) requester_ref")
        assert len(rows) == 4 and {row[col] for row in rows[1:]} == {"***"}
        r = await c.get("/api/v1/analytics/exports/cases.xlsx?grid=WH-33", headers=DISPATCHER)
        wb = load_workbook(io.BytesIO(r.content), read_only=True)
        values = list(wb.active.iter_rows(values_only=True))
        assert len(values) == 4 and {v[col] for v in values[1:]} == {ref}
        r = await c.get("/api/v1/analytics/exports/signals.csv?status=handled", headers=LEADER)
        assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 2
        r = await c.get("/api/v1/analytics/exports/orders.csv?department=SFS", headers=LEADER)
        assert r.status_code == 200
        r = await c.get("/api/v1/analytics/exports/cases.csv?from=2026-10-02&to=2026-10-01", headers=LEADER)
        assert r.status_code == 422 and r.json()["fields"][0]["message_zh"] == "结束日期不能早于开始日期"
        r = await c.get("/api/v1/analytics/exports/people.csv", headers=LEADER)
        assert r.status_code == 422


async def test_rebuild_from_the_cli_is_followed_by_the_running_service(make_settings, own_broker):
    from fengqiao_analytics import rebuild

    settings = await make_settings()
    envs = [report(grid="WH-02", community="C02", category="other")[1] for _ in range(3)]
    async with running_app(settings) as (app, c):
        await publish_many(own_broker, envs)
        await eventually(lambda: all_processed(app, [e.id for e in envs]), timeout=60)
        before = (await c.get("/api/v1/analytics/summary", headers=LEADER)).json()
        st = await rebuild.main(settings)
        assert st["generation"] == 2 and st["processed_events"] == 0
        await eventually(lambda: app.state.runtime.deps.supervisor.generation == 2, timeout=60)

        async def same_as_before():
            after = (await c.get("/api/v1/analytics/summary", headers=LEADER)).json()
            return after["total"] == before["total"] and after["by_grid"] == before["by_grid"]

        # the new generation is a new consumer group replaying every topic; on a loaded machine the
        # broker's group join alone can take tens of seconds
        await eventually(same_as_before, timeout=180)


async def test_exports_carry_no_formula_and_follow_the_purpose(make_settings, own_broker):
    """Issue #15: text cells that begin with = + - @, tab or CR are neutralised (CSV and xlsx, typed as text);
    a department exports only the cases it holds or held an order on, a grid worker their grids."""
    evil = ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    envs, mine, grid = [], [], "WH-51"
    for i, text in enumerate(evil):
        cid, e = report(grid=grid, community="C12", summary=text, requester=f"=ref{i}")
        envs.append(e)
        mine.append(cid)
        oid = str(uuid.uuid4())
        envs.append(order_env(O.OrderDispatched, cid, oid, dept="CGK" if i % 2 else "SFS", department_name="部门",
                              level="street", role="lead", category="neighbour", grade="yellow", summary=text,
                              description="d", grid=grid))
    other, e = report(grid="WH-52", community="C12")
    envs.append(e)
    async with running_app(await make_settings()) as (app, c):
        await publish_many(own_broker, envs)
        await eventually(lambda: all_processed(app, [e.id for e in envs]), timeout=60)
        r = await c.get(f"/api/v1/analytics/exports/cases.csv?grid={grid}", headers=DISPATCHER)
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
        assert len(rows) == 1 + len(evil)
        cells = [v for row in rows[1:] for v in row]
        assert not [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
        summary = rows[0].index("摘要 summary")
        assert sorted(row[summary] for row in rows[1:]) == sorted("'" + t for t in evil)
        for kind in ("cases", "orders"):
            r = await c.get(f"/api/v1/analytics/exports/{kind}.xlsx?grid={grid}", headers=DISPATCHER)
            wb = load_workbook(io.BytesIO(r.content))
            cells = [cell for row in wb.active.iter_rows() for cell in row]
            assert len(cells) > len(evil) * 3
            assert not [x for x in cells if x.data_type == "f"]
            assert not [x.value for x in cells if isinstance(x.value, str) and x.value[:1] in ("=", "+", "@", "\t", "\r")]
            assert not [x.value for x in cells if isinstance(x.value, str) and x.value.startswith("-")]
            assert kind == "orders" or "'" + evil[0] in [x.value for x in cells]
        # purpose: the SFS officer gets the SFS cases only, a grid worker their grid, a mediator nothing
        sfs = identity_headers(roles=["department_officer"], department="SFS")
        r = await c.get("/api/v1/analytics/exports/cases.csv", headers=sfs)
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
        ids = {row[0] for row in rows[1:]}
        # (the module's broker also holds the earlier tests' events: compare this test's cases only)
        assert ids & {*mine, other} == {mine[i] for i in range(len(evil)) if i % 2 == 0}
        r = await c.get("/api/v1/analytics/exports/orders.csv", headers=sfs)
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
        assert {row[rows[0].index("部门 department")] for row in rows[1:]} == {"SFS"}
        worker = identity_headers(roles=["grid_worker"], grids=["WH-52"])
        r = await c.get("/api/v1/analytics/exports/cases.csv", headers=worker)
        ids = {row[0] for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig")))}
        assert ids & {*mine, other} == {other}
        r = await c.get("/api/v1/analytics/exports/cases.csv", headers=identity_headers(roles=["mediator"]))
        assert r.status_code == 403
        assert (await c.get("/api/v1/analytics/summary", headers=sfs)).status_code == 403
        assert (await c.get("/api/v1/analytics/weak-signals", headers=worker)).status_code == 200
