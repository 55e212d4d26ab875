"""Use cases on in-memory fakes: routing rules - seed, create, validate, version, retire, read."""

import pytest
from dispatch_fakes import ADMIN, LEADER, FakeDispatchUoW, J, env_of, grid_event
from fengqiao_common.errors import Conflict, Invalid, NotFound
from fengqiao_dispatch.domain.rules import RuleBody
from fengqiao_dispatch.usecases import routing
from fengqiao_dispatch.usecases import rules as uc
from fengqiao_dispatch.usecases.commands import CreateRule, SaveRule


def body(**kw) -> RuleBody:
    return RuleBody(**{"name": "夜市噪音", "domain": "neighbour", "areas": ["WH-01"], "lead": "PCS",
                       "assist": ["ZZB"], "priority": 50, **kw})


async def test_the_demo_seed_is_idempotent():
    uow = FakeDispatchUoW()
    n = await uc.seed_demo_rules(uow, jurisdiction=J)
    assert n == len(J.domains) + 1
    assert await uc.seed_demo_rules(uow, jurisdiction=J) == 0
    listed = await uc.list_rules(uow, LEADER)
    assert len(listed) == n and {r["version"] for r in listed} == {1}
    assert {r["created_by"] for r in listed} == {"seed"}


async def test_create_validate_version_and_retire_a_rule():
    uow = FakeDispatchUoW()
    made = await uc.create_rule(uow, ADMIN, CreateRule(body(), rule_id="night-market"), jurisdiction=J)
    assert made["rule_id"] == "night-market" and made["version"] == 1 and made["lead"] == "PCS"
    assert made["created_by"] == ADMIN.sub and not made["deleted"]
    with pytest.raises(Conflict) as e:
        await uc.create_rule(uow, ADMIN, CreateRule(body(), rule_id="night-market"), jurisdiction=J)
    assert e.value.code == "rule_exists"
    with pytest.raises(Invalid) as e:
        await uc.create_rule(uow, ADMIN, CreateRule(body(lead="ZZZX", areas=["nowhere"], domain="x")), jurisdiction=J)
    assert {f["field"] for f in e.value.fields} == {"domain", "lead", "areas.0"}
    generated = await uc.create_rule(uow, ADMIN, CreateRule(body(name="另一条")), jurisdiction=J)
    assert generated["rule_id"].startswith("rule-") and len(generated["rule_id"]) == 17

    v2 = await uc.save_rule_version(uow, ADMIN, SaveRule("night-market", body(lead="ZFB"), base_version=1),
                                    jurisdiction=J)
    assert v2["version"] == 2 and v2["lead"] == "ZFB"
    with pytest.raises(Conflict) as e:  # edited from version 1 again: lost update refused
        await uc.save_rule_version(uow, ADMIN, SaveRule("night-market", body(), base_version=1), jurisdiction=J)
    assert e.value.code == "version_conflict" and e.value.extra == {"current_version": 2}
    assert (await uc.get_rule(uow, LEADER, "night-market"))["lead"] == "ZFB"
    assert (await uc.get_rule(uow, LEADER, "night-market", 1))["lead"] == "PCS"

    gone = await uc.save_rule_version(uow, ADMIN, SaveRule("night-market", delete=True), jurisdiction=J)
    assert gone["version"] == 3 and gone["deleted"] and gone["lead"] == "ZFB"
    assert [r["version"] for r in await uc.rule_versions(uow, LEADER, "night-market")] == [1, 2, 3]
    assert "night-market" not in {r["rule_id"] for r in await uc.list_rules(uow, LEADER)}
    assert "night-market" in {r["rule_id"] for r in await uc.list_rules(uow, LEADER, include_deleted=True)}
    with pytest.raises(NotFound):
        await uc.save_rule_version(uow, ADMIN, SaveRule("night-market", delete=True), jurisdiction=J)
    with pytest.raises(NotFound):
        await uc.get_rule(uow, LEADER, "nope")
    with pytest.raises(NotFound):
        await uc.rule_versions(uow, LEADER, "nope")
    with pytest.raises(NotFound):
        await uc.save_rule_version(uow, ADMIN, SaveRule("nope", body()), jurisdiction=J)
    assert uow.committed_events == []  # rules are not events


async def test_orders_record_the_rule_version_that_routed_them():
    uow = FakeDispatchUoW()
    await uc.seed_demo_rules(uow, jurisdiction=J)
    await uc.create_rule(uow, ADMIN, CreateRule(body(), rule_id="night-market"), jurisdiction=J)
    await uc.save_rule_version(uow, ADMIN, SaveRule("night-market", body(lead="ZFB")), jurisdiction=J)
    here, elsewhere = grid_event(grid="WH-01"), grid_event(grid="WH-02")
    for p in (here, elsewhere):
        await routing.receive_case(uow, env_of(p), p, jurisdiction=J)
    lead_here = next(o for o in await uow.orders.of_case(here.case_id) if o["role"] == "lead")
    assert (lead_here["department"], lead_here["rule_id"], lead_here["rule_version"]) == ("ZFB", "night-market", 2)
    lead_there = next(o for o in await uow.orders.of_case(elsewhere.case_id) if o["role"] == "lead")
    assert (lead_there["department"], lead_there["rule_id"]) == ("SFS", "default-neighbour")
