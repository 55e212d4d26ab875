"""The weak-signal ledger on the in-memory fakes: status changes (history, status, the weak-signal.triaged
event keyed like the history), refusals, the replay of a status change, reads and masking."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from analytics_fakes import FakeAnalyticsUoW, context
from fengqiao_analytics.domain import signals as ws
from fengqiao_analytics.usecases import ingest, signals
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_events.payloads.analytics import WeakSignalTriaged
from usecase_events import T0, env, report, weak_signal

CTX = context()
DISPATCHER = Principal(sub="u-d", roles=["dispatcher"])
LEADER = Principal(sub="u-l", roles=["leader"])


async def ledger_with_a_report() -> tuple[FakeAnalyticsUoW, str]:
    uow = FakeAnalyticsUoW()
    e, p = weak_signal(grid="WH-04", category="neighbour")
    await ingest.fold_batch(uow, CTX, [(e, p)])
    uow.committed_events.clear()
    return uow, p.signal_id


async def test_assign_then_handle_writes_history_status_and_events():
    uow, sid = await ledger_with_a_report()
    out = await signals.change_status(uow, DISPATCHER, signals.StatusChange(sid, "assigned", "SFS", "请跟进"))
    assert out["status"] == "assigned" and out["assignee"] == "SFS"
    (ev,) = uow.events_of(WeakSignalTriaged)
    assert (ev.previous_status, ev.status, ev.assignee, ev.by.role, ev.by.name) == ("new", "assigned", "SFS",
                                                                                   "dispatcher", None)
    assert [h["event_id"] for h in out["history"]] == [uow.id_of(ev)]  # the history is keyed by the event id
    uow.clock.advance(timedelta(minutes=5))
    out = await signals.change_status(uow, LEADER, signals.StatusChange(sid, "handled", note="已化解"))
    assert out["status"] == "handled" and out["assignee"] == "SFS"  # the assignee is kept
    assert [(h["from_status"], h["to_status"]) for h in out["history"]] == [("new", "assigned"),
                                                                           ("assigned", "handled")]
    assert uow.db.signals[sid]["status"] == "handled" and len(uow.events_of(WeakSignalTriaged)) == 2


async def test_refusals_change_nothing_and_emit_nothing():
    uow, sid = await ledger_with_a_report()
    with pytest.raises(Invalid) as e:
        await signals.change_status(uow, DISPATCHER, signals.StatusChange(sid, "assigned"))
    assert e.value.fields[0]["field"] == "assignee" and e.value.fields[0]["code"] == "missing"
    await signals.change_status(uow, DISPATCHER, signals.StatusChange(sid, "dismissed"))
    with pytest.raises(Conflict) as c:
        await signals.change_status(uow, DISPATCHER, signals.StatusChange(sid, "handled"))
    assert c.value.code == "invalid_transition" and c.value.extra["current"]["status"] == "dismissed"
    assert c.value.extra["allowed"] == []
    with pytest.raises(NotFound):
        await signals.change_status(uow, DISPATCHER, signals.StatusChange(str(uuid.uuid4()), "dismissed"))
    assert len(uow.committed_events) == 1 and uow.db.signals[sid]["status"] == "dismissed"
    assert len(uow.db.history) == 1


async def test_the_published_status_change_replayed_is_a_no_op_and_restores_after_a_rebuild():
    uow, sid = await ledger_with_a_report()
    await signals.change_status(uow, DISPATCHER, signals.StatusChange(sid, "assigned", "ZFB"))
    (ev,) = uow.events_of(WeakSignalTriaged)
    envelope = env(ev).model_copy(update={"id": uow.id_of(ev)})
    await ingest.fold_batch(uow, CTX, [(envelope, ev)])  # our own consumer sees the published event
    assert len(uow.db.history) == 1
    # a replay where the status change arrives before its signal: a placeholder, not listed, then merged
    fresh = FakeAnalyticsUoW()
    await ingest.fold_batch(fresh, CTX, [(envelope, ev)])
    assert fresh.db.signals[sid]["source"] == "pending" and (await signals.list_signals(
        fresh, LEADER, signals.SignalFilter()))["total"] == 0
    with pytest.raises(NotFound):
        await signals.get_signal(fresh, LEADER, sid)
    (e2, p2) = weak_signal(grid="WH-04", category="neighbour")
    p2 = p2.model_copy(update={"signal_id": sid})
    await ingest.fold_batch(fresh, CTX, [(e2, p2)])
    got = await signals.get_signal(fresh, LEADER, sid)
    assert got["status"] == "assigned" and got["assignee"] == "ZFB" and got["source"] == "report"


async def test_lists_stats_and_the_requester_subject_is_masked_without_pii_rights():
    uow = FakeAnalyticsUoW()
    ref = "requester-hash-1"
    await ingest.fold_batch(uow, CTX, [report(requester=ref, grid=f"WH-1{i}", at=T0 + timedelta(hours=i))
                                       for i in range(3)])
    page = await signals.list_signals(uow, LEADER, signals.SignalFilter(rule="repeat_requester"))
    assert page["total"] == 1 and page["items"][0]["subject"] == "***"
    assert page["items"][0]["rule_name"] == ws.RULES["repeat_requester"]["zh"]
    page = await signals.list_signals(uow, DISPATCHER, signals.SignalFilter(rule="repeat_requester"))
    assert page["items"][0]["subject"].startswith(ref)
    stats = await signals.signal_stats(uow)
    assert stats["total"] == 1 and stats["open"] == 1 and stats["by_rule"] == {"repeat_requester": 1}
    assert stats["by_status"] == {"new": 1, "assigned": 0, "handled": 0, "dismissed": 0}
    assert stats["conversion_rate"] is None
    r = signals.rules(CTX)
    assert r["thresholds"]["repeat_count"] == 3 and r["transitions"]["new"] == ["assigned", "dismissed"]
