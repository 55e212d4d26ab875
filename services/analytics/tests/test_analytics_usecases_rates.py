"""The three rates by the requester's answers per department and period (issue #17) on the in-memory fakes:
the fold (deadlines, returns, ratings and the requester's "solved" answer), the read (numerators and
denominators, ranking, trend against the previous period), and independence from the arrival order."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest
from analytics_fakes import FakeAnalyticsUoW, context
from fengqiao_analytics.domain import rates as rt
from fengqiao_analytics.usecases import ingest, rates
from fengqiao_common.errors import Invalid
from fengqiao_events.payloads import case as C
from fengqiao_events.payloads import order as O
from fengqiao_events.payloads.common import Actor
from usecase_events import T0, item, report

CTX = context()
BY = Actor(id="u1", role="dispatcher")
H = timedelta(hours=1)


class CaseRatedWithAnswer(C.CaseRated):
    """case.rated as intake will send it with the requester's answer (optional, backwards compatible)."""

    solved: bool | None = None


def dispatched(cid: str, oid: str, dept: str, at=T0, sign_by=T0 + 2 * H):
    return item(O.OrderDispatched(order_id=oid, case_id=cid, case_no="N1", department=dept, seq=1, at=at,
                                  department_name="d", level="street", role="lead", category="other", grade="yellow",
                                  grid="WH-01", deadlines=O.Deadlines(sign_for_by=sign_by)))


def signed(cid: str, oid: str, dept: str, at, within=True):
    return item(O.OrderSigned(order_id=oid, case_id=cid, department=dept, seq=2, at=at, officer="x",
                              within_limit=within))


def returned(cid: str, oid: str, dept: str, at):
    return item(O.OrderReturned(order_id=oid, case_id=cid, department=dept, seq=3, at=at, reason="r"))


def rated(cid: str, rating: str, at, solved: bool | None = None):
    if solved is None:
        return item(C.CaseRated(case_id=cid, case_no="N1", rating=rating, by=BY, at=at))
    e, _ = item(C.CaseRated(case_id=cid, case_no="N1", rating=rating, by=BY, at=at))
    return e, CaseRatedWithAnswer(case_id=cid, case_no="N1", rating=rating, by=BY, at=at, solved=solved)


def history() -> list:
    """Week 2026-W10 (2–8 March): SFS 3 orders (one signed in time, one late although dispatch said 'within',
    one returned), RSS 1 order signed in time; ratings: SFS's case satisfied but unsolved (explicit answer),
    RSS's case basically satisfied (no answer: solved). Week W09: SFS one order, not signed."""
    c = [str(uuid.uuid4()) for _ in range(5)]
    o = [str(uuid.uuid4()) for _ in range(6)]
    return [
        *(report(x, at=T0 - 10 * 24 * H) for x in c),
        dispatched(c[0], o[0], "SFS"), signed(c[0], o[0], "SFS", T0 + H),
        dispatched(c[1], o[1], "SFS"), signed(c[1], o[1], "SFS", T0 + 3 * H, within=True),  # after sign_for_by
        dispatched(c[2], o[2], "SFS"), returned(c[2], o[2], "SFS", T0 + H),
        dispatched(c[2], o[3], "RSS", at=T0 + 2 * H, sign_by=None), signed(c[2], o[3], "RSS", T0 + 5 * H),
        dispatched(c[3], o[4], "SFS", at=T0 - 7 * 24 * H),
        rated(c[0], "satisfied", T0 + 24 * H, solved=False), rated(c[2], "basically_satisfied", T0 + 30 * H),
    ]


def test_the_definitions():
    o = {"signed_at": T0, "sign_for_by": T0 - H, "sign_within": True}
    assert not rt.signed_in_time(o) and rt.signed_in_time({**o, "sign_for_by": None})
    assert rt.requester_solved({"rating": "satisfied", "solved": False}) is False
    assert rt.requester_solved({"rating": "unsatisfied"}) is False and rt.requester_solved({"rating": "satisfied"})
    assert rt.period_key("week", date(2026, 1, 1)) == "2026-W01" and rt.period_key("week", date(2027, 1, 1)) == "2026-W53"
    assert rt.period_bounds("month", date(2026, 2, 10)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert rt.previous_day("year", date(2026, 5, 5)) == date(2025, 12, 31)


async def test_the_fold_counts_by_period_from_the_events():
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, history())
    r = uow.db.rates
    assert (r[("2026-W10", "SFS", "dispatched")], r[("2026-W10", "SFS", "signed_in_time")],
            r[("2026-W10", "SFS", "returned")]) == (3, 1, 1)
    assert r[("2026-03", "SFS", "dispatched")] == 3 and r[("2026-02", "SFS", "dispatched")] == 1
    assert r[("2026", "SFS", "dispatched")] == 4
    assert r[("2026-W09", "SFS", "dispatched")] == 1 and r[("2026-W09", "SFS", "signed_in_time")] == 0
    # the returned order's case is rated for RSS only (the department with a standing order)
    assert (r[("2026-W10", "SFS", "rated")], r[("2026-W10", "SFS", "satisfied")], r[("2026-W10", "SFS", "solved")],
            r[("2026-W10", "SFS", "solved_answers")]) == (1, 1, 0, 1)
    assert (r[("2026-W10", "RSS", "rated")], r[("2026-W10", "RSS", "solved")], r[("2026-W10", "RSS", "signed_in_time")]
            ) == (1, 1, 1)
    assert uow.db.cases[next(c for c, x in uow.db.cases.items() if x["rating"] == "satisfied")]["solved"] is False


async def test_a_new_answer_replaces_the_old_one_and_moves_to_its_period():
    uow = FakeAnalyticsUoW()
    h = history()
    await ingest.fold_batch(uow, CTX, h)
    cid = h[5][1].case_id  # c[0], rated satisfied / unsolved in W10
    await ingest.fold_batch(uow, CTX, [rated(cid, "unsatisfied", T0 + 8 * 24 * H)])  # answered again in W11
    r = uow.db.rates
    assert r[("2026-W10", "SFS", "rated")] == 0 and r[("2026-W10", "SFS", "satisfied")] == 0
    assert (r[("2026-W11", "SFS", "rated")], r[("2026-W11", "SFS", "solved")], r[("2026-W11", "SFS", "solved_answers")]
            ) == (1, 0, 0)
    assert r[("2026-03", "SFS", "rated")] == 1


async def test_the_read_gives_ratios_ranking_and_trend():
    uow = FakeAnalyticsUoW()  # today: 2026-03-02, week W10
    await ingest.fold_batch(uow, CTX, history())
    page = await rates.department_rates(uow, CTX, "week")
    assert (page["key"], page["previous"], page["start"], page["end"]) == ("2026-W10", "2026-W09", date(2026, 3, 2),
                                                                          date(2026, 3, 8))
    items = {d["code"]: d for d in page["items"]}
    sfs, rss = items["SFS"], items["RSS"]
    assert sfs["response"] == {"numerator": 1, "denominator": 3, "rate": 0.3333}
    assert sfs["dispatch_accuracy"] == {"numerator": 2, "denominator": 3, "rate": 0.6667}
    assert sfs["resolution"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert sfs["satisfaction"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    assert sfs["score"] == round((1 / 3 + 0 + 1) / 3, 4) and sfs["solved_answers"] == 1
    assert rss["score"] == 1.0 and (rss["rank"], sfs["rank"]) == (1, 2)
    assert [d["code"] for d in page["items"]][:2] == ["RSS", "SFS"]
    # SFS had one unsigned order the week before: score 0, rank 1 then; now better (up) but lower in rank
    assert sfs["previous"] == {"period": "2026-W09", "score": 0.0, "rank": 1}
    assert (sfs["trend"], sfs["rank_change"], sfs["score_change"]) == ("up", -1, sfs["score"])
    assert (rss["trend"], rss["rank_change"], rss["previous"]["rank"]) == ("new", None, None)
    others = [d for d in page["items"] if d["code"] not in ("SFS", "RSS")]
    assert others and all(d["rank"] is None and d["trend"] is None for d in others)
    month = await rates.department_rates(uow, CTX, "month", date(2026, 3, 31))
    m = {d["code"]: d for d in month["items"]}["SFS"]
    assert (month["key"], month["previous"], m["response"]["denominator"]) == ("2026-03", "2026-02", 3)
    year = await rates.department_rates(uow, CTX, "year")
    assert year["key"] == "2026" and {d["code"]: d for d in year["items"]}["SFS"]["dispatched"] == 4
    with pytest.raises(Invalid):
        await rates.department_rates(uow, CTX, "week", date(1, 1, 1))


async def test_any_arrival_order_and_one_by_one_give_the_same_rates():
    h = history()
    uow = FakeAnalyticsUoW()
    await ingest.fold_batch(uow, CTX, h)
    expected = {k: v for k, v in uow.db.rates.items() if v}
    rng = random.Random(5)
    for _ in range(5):
        shuffled = h[:5] + rng.sample(h[5:], len(h) - 5)  # reports first: the orders' cases exist
        one = FakeAnalyticsUoW()
        for e in shuffled:
            await ingest.fold_one(one, CTX, *e)
        assert {k: v for k, v in one.db.rates.items() if v} == expected
