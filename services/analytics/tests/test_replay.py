"""Rebuild: the read models are emptied and every topic is replayed from the beginning by a new consumer
group; the figures, the ledger and its triage history come out identical."""

from __future__ import annotations

import pytest
from conftest import ADMIN, DISPATCHER, LEADER, running_app
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import ServiceSettings
from fengqiao_devstack.testing import eventually
from history import generate
from test_read_models import all_processed, figures, publish_many


@pytest.mark.timeout(600)
async def test_rebuild_replays_all_topics_into_identical_read_models(make_settings, own_broker):
    settings = await make_settings()
    j = load(str(ServiceSettings().jurisdiction_file))
    envs = generate(j, min_events=1_200, seed=3)
    ids = [e.id for e in envs]
    async with running_app(settings) as (app, client):
        await publish_many(own_broker, envs)
        await eventually(lambda: all_processed(app, ids), timeout=300, interval=1.0)
        # triage two signals: their status changes travel as weak-signal.triaged and must survive the replay
        items = (await client.get("/api/v1/analytics/weak-signals?limit=5", headers=LEADER)).json()["items"]
        assert len(items) >= 2
        a, b = items[0]["signal_id"], items[1]["signal_id"]
        r = await client.post(f"/api/v1/analytics/weak-signals/{a}/status", headers=DISPATCHER,
                              json={"status": "assigned", "assignee": "SFS", "note": "请司法所跟进"})
        assert r.status_code == 200, r.text
        r = await client.post(f"/api/v1/analytics/weak-signals/{a}/status", headers=DISPATCHER,
                              json={"status": "handled", "note": "已化解"})
        assert r.status_code == 200 and r.json()["status"] == "handled"
        r = await client.post(f"/api/v1/analytics/weak-signals/{b}/status", headers=LEADER,
                              json={"status": "dismissed"})
        assert r.status_code == 200
        triage_ids = [h["event_id"] for s in (a, b) for h in
                      (await client.get(f"/api/v1/analytics/weak-signals/{s}", headers=LEADER)).json()["history"]]
        assert len(triage_ids) == 3
        # the relay publishes them and our own consumer sees them (a no-op the first time)
        await eventually(lambda: all_processed(app, triage_ids), timeout=60)
        before = await figures(client)
        hist_before = (await client.get(f"/api/v1/analytics/weak-signals/{a}", headers=LEADER)).json()

        r = await client.post("/api/v1/analytics/admin/rebuild", headers=ADMIN)
        assert r.status_code == 202, r.text
        assert r.json()["generation"] == 2
        r = await client.get("/api/v1/analytics/summary", headers=LEADER)
        assert r.json()["total"] < before["summary"]["total"]  # really emptied, now refilling
        await eventually(lambda: all_processed(app, ids + triage_ids), timeout=300, interval=1.0)
        after = await figures(client)
        s0 = {x["signal_id"]: x for x in before["signals"]["items"]}
        s1 = {x["signal_id"]: x for x in after["signals"]["items"]}
        assert [(k, {f: (v[f], s1[k][f]) for f in v if v[f] != s1[k][f]}) for k, v in s0.items() if v != s1.get(k)] == []
        assert after == before
        hist_after = (await client.get(f"/api/v1/analytics/weak-signals/{a}", headers=LEADER)).json()
        hist_after.pop("updated_at"), hist_before.pop("updated_at")
        assert hist_after == hist_before
        assert [h["to_status"] for h in hist_after["history"]] == ["assigned", "handled"]

        st = (await client.get("/api/v1/analytics/admin/status", headers=ADMIN)).json()
        assert st["generation"] == 2 and st["consumer_group"].endswith("-g2")
        r = await client.post("/api/v1/analytics/admin/rebuild", headers=LEADER)
        assert r.status_code == 403
