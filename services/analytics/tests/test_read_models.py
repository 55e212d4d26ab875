"""Read models against a straightforward recomputation over a generated history of > 10,000 events,
published in shuffled order (events of one case arrive on different topics in any order) with
duplicates."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from fengqiao_analytics.usecases.rebuild import group_name
from fengqiao_common.jurisdiction import load
from fengqiao_common.settings import ServiceSettings
from fengqiao_devstack.testing import eventually
from history import generate, recompute
from sqlalchemy import text

from conftest import LEADER, running_app


async def publish_many(bootstrap: str, envs) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024)
    await p.start()
    try:
        for k in range(0, len(envs), 2000):
            futures = [await p.send(e.topic, value=e.kafka_value(), key=(e.subject or e.id).encode(),
                                    headers=e.kafka_headers()) for e in envs[k:k + 2000]]
            for f in futures:
                await f
    finally:
        await p.stop()


async def all_processed(app, ids: list[str]) -> bool:
    """Every one of ``ids`` has been processed by the consumer group of the current generation (a cheap
    count first, so that polling does not compete with the consumer)."""
    rt = app.state.runtime
    async with rt.deps.uow() as uow:
        group = group_name(rt.settings.consumer_group, await uow.meta.generation())
    async with rt.session_factory() as s:
        total = (await s.execute(text("SELECT count(*) FROM processed_events WHERE consumer = :g"),
                                 {"g": group})).scalar_one()
        if total < len(ids):
            return False
        n = (await s.execute(text("SELECT count(*) FROM processed_events WHERE consumer = :g AND event_id = ANY(:ids)"),
                             {"g": group, "ids": ids})).scalar_one()
    return n == len(ids)


async def figures(client) -> dict:
    out = {}
    for name, url in (("summary", "/api/v1/analytics/summary"), ("departments", "/api/v1/analytics/departments"),
                      ("mediation", "/api/v1/analytics/mediation"), ("trends", "/api/v1/analytics/trends?n=30"),
                      ("weeks", "/api/v1/analytics/trends?period=week&n=8"),
                      ("stats", "/api/v1/analytics/weak-signals/stats"),
                      ("signals", "/api/v1/analytics/weak-signals?limit=500"),
                      *((f"rates_{p}", f"/api/v1/analytics/departments/rates?period={p}") for p in ("week", "month", "year")),
                      ("rates_last_month", "/api/v1/analytics/departments/rates?period=month&at={last_month}")):
        url = url.format(last_month=(date.today().replace(day=1) - timedelta(days=1)).isoformat())
        r = await client.get(url, headers=LEADER)
        assert r.status_code == 200, r.text
        out[name] = r.json()
    for item in out["signals"]["items"]:
        item.pop("updated_at")
    return out


@pytest.mark.timeout(900)
async def test_counts_equal_recomputation_and_duplicates_do_not_double_count(make_settings, own_broker):
    settings = await make_settings()
    j = load(str(ServiceSettings().jurisdiction_file))
    envs = generate(j, min_events=10_000)
    assert len(envs) >= 10_000
    rng = random.Random(11)
    stream = envs + rng.sample(envs, 500)  # 500 duplicates (same event ids, redelivered)
    rng.shuffle(stream)
    ids = [e.id for e in envs]
    async with running_app(settings) as (app, client):
        await publish_many(own_broker, stream)
        await eventually(lambda: all_processed(app, ids), timeout=600, interval=1.0)
        first = await figures(client)

        s = first["summary"]
        truth = recompute(envs, j, date.fromisoformat(s["today_date"]))
        assert s["total"] == truth["total"]
        assert s["today"] == truth["today"]
        assert s["open"] == truth["open"]
        assert s["overdue"] == truth["overdue"] > 0
        assert {d["code"]: d["count"] for d in s["by_domain"] if d["count"]} == truth["by_category"]
        assert {g["code"]: g["count"] for g in s["by_grade"] if g["count"]} == truth["by_grade"]
        assert {x["code"]: x["count"] for x in s["by_status"] if x["count"]} == truth["by_status"]
        assert {x["code"]: x["count"] for x in s["by_channel"]} == truth["by_channel"]
        assert {g["code"]: g["count"] for g in s["by_grid"] if g["count"]} == truth["by_grid"]
        assert {g["code"]: g["open"] for g in s["by_grid"] if g["open"]} == truth["open_by_grid"]
        assert {c["code"]: c["count"] for c in s["by_community"] if c["count"]} == truth["by_community"]
        assert [(x["period"], x["reported"], x["resolved"]) for x in first["trends"]["series"]] == truth["trend"]
        assert sum(x["reported"] for x in first["weeks"]["series"]) <= truth["total"]

        deps = {d["code"]: d for d in first["departments"]["items"]}
        for code, t in truth["departments"].items():
            d = deps[code]
            for k in ("dispatched", "signed_within", "resolved", "returned", "on_site_required", "on_site_within",
                      "rated", "satisfied", "overdue", "escalated", "cases"):
                assert d[k] == t[k], (code, k, d[k], t[k])
            assert d["response_rate"] == round(t["signed_within"] / t["dispatched"], 4)
            if t["mean_ttr"] is not None:
                assert abs(d["mean_resolve_seconds"] - t["mean_ttr"]) <= 1.0
                # p90 from a histogram with 20 % buckets: never below the exact value, at most one bucket above
                assert t["p90_ttr"] <= d["p90_resolve_seconds"] <= max(t["p90_ttr"] * 1.2, 60.0) + 0.1
        ranks = [d["rank"] for d in first["departments"]["items"] if d["rank"] is not None]
        assert ranks == list(range(1, len(ranks) + 1))
        scores = [d["score"] for d in first["departments"]["items"] if d["rank"] is not None]
        assert scores == sorted(scores, reverse=True)

        # the rates by period (issue #17) equal the recomputation from the event log
        measures = {"response": ("signed_in_time", "dispatched"), "resolution": ("solved", "rated"),
                    "satisfaction": ("satisfied", "rated")}
        checked = 0
        for name in ("rates_week", "rates_month", "rates_year", "rates_last_month"):
            page = first[name]
            for d in page["items"]:
                for key in (page["key"], page["previous"]):
                    t = truth["rates"].get((key, d["code"]), {})
                    if key == page["key"]:
                        for m, (num, den) in measures.items():
                            assert (d[m]["numerator"], d[m]["denominator"]) == (t.get(num, 0), t.get(den, 0)), (
                                name, d["code"], m)
                        assert d["dispatch_accuracy"]["numerator"] == t.get("dispatched", 0) - t.get("returned", 0)
                        checked += t.get("dispatched", 0)
                    elif not t:
                        assert d["previous"]["score"] is None
            ranks = [d["rank"] for d in page["items"] if d["rank"] is not None]
            assert ranks == list(range(1, len(ranks) + 1))
        assert checked > 0

        for k, v in truth["mediation"].items():
            assert first["mediation"][k] == v, k
        by_rule = first["stats"]["by_rule"]
        for rule in ("repeat_domain_grid", "many_people", "escalation", "return_reopen", "grid_report"):
            assert by_rule.get(rule, 0) == truth["signals"][rule], rule
        assert first["stats"]["became_cases"] == truth["signals"]["became_cases"] > 0
