"""One requester across channels on fakes: the phone pseudonym and the ID-number pseudonym link a hall
case (phone + ID), an external one (ID only) and a grid one (the same phone); another person is not linked."""

from __future__ import annotations

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import NotFound
from fengqiao_intake.domain import pii
from fengqiao_intake.schemas import PartyIn
from fengqiao_intake.usecases.related import related_cases
from intake_usecase_kit import DISPATCHER, SYSTEM, demand_body, grid_body, new_case, settings, world

ID = "11010519491231002X"
KEY = settings().requester_key_bytes


def test_phone_and_id_number_each_have_one_ref():
    assert pii.requester_ref(KEY, phone="+8613812345678") == pii.requester_ref(KEY, phone="13812345678")
    assert pii.id_ref_of_parties(KEY, [{"role": "requester", "phone": "13812345678", "id_card": ID}]) == \
        pii.requester_ref(KEY, id_card=ID.lower())
    assert pii.id_ref_of_parties(KEY, [{"role": "requester", "phone": "13812345678"}]) is None


async def test_related_cases_across_channels():
    uow, c, _ = world()
    grid = await new_case(uow, c, body=grid_body(
        parties=[PartyIn(name="张三丰", phone="13812345678", id_card=ID, role="requester")]))
    external = await new_case(uow, c, principal=SYSTEM, body=demand_body(
        requester=PartyIn(name="张三丰", id_card=ID)))  # 粤省事: ID number only
    same_phone = await new_case(uow, c, body=grid_body(
        parties=[PartyIn(name="张三", phone="+8613812345678", role="requester")]))
    other = await new_case(uow, c, body=grid_body(
        parties=[PartyIn(name="李四", phone="13900000009", role="requester")]))
    out = await related_cases(uow, DISPATCHER, grid["id"])
    assert {i["case_no"] for i in out["items"]} == {external["case_no"], same_phone["case_no"]}
    assert set(out["items"][0]) == {"case_no", "reported_at", "status", "channel"}
    assert {i["case_no"] for i in (await related_cases(uow, DISPATCHER, external["id"]))["items"]} == {grid["case_no"]}
    assert (await related_cases(uow, DISPATCHER, other["id"]))["items"] == []


async def test_related_needs_a_visible_case():
    uow, c, _ = world()
    case = await new_case(uow, c)
    outsider = Principal(sub="gw-9", roles=["grid_worker"], grids=["WH-09"])
    with pytest.raises(NotFound):
        await related_cases(uow, outsider, case["id"])


async def test_rekey_also_gives_old_rows_their_id_ref():
    from fengqiao_intake.usecases.pseudonyms import rekey_requesters

    uow, c, _ = world()
    await new_case(uow, c, body=grid_body(
        parties=[PartyIn(name="张三丰", phone="13812345678", id_card=ID, role="requester")]))
    [row] = uow.db.requesters
    row.update(requester_ref="req-old", requester_ref_scheme=pii.PENDING_SCHEME, id_ref=None)
    assert await rekey_requesters(uow, key=KEY) == 1
    assert row["id_ref"] == pii.requester_ref(KEY, id_card=ID)
    assert row["requester_ref"] == pii.requester_ref(KEY, phone="13812345678")
