"""Access by purpose on in-memory fakes: who sees which case, which fields in full, and the audit rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fengqiao_common.auth import Principal
from fengqiao_common.errors import Forbidden, Invalid, NotFound
from fengqiao_events.payloads.mediation import MediationBooked
from fengqiao_intake.domain.access import AccessContext
from fengqiao_intake.schemas import PartyIn
from fengqiao_intake.usecases import attachments, reads
from fengqiao_intake.usecases.status import record_event
from intake_usecase_kit import ADMIN, DISPATCHER, SYSTEM, WORKER, envelope, grid_body, new_case, world
from test_intake_usecases_status import _dispatched

RSS = Principal(sub="officer-rss", name="人社所干部", roles=["department_officer"], department="RSS")
PCS = Principal(sub="officer-pcs", name="派出所干部", roles=["department_officer"], department="PCS")
RSS_KEY = Principal(sub="key-rss", kind="api_key", roles=["department_system"], department="RSS")
MEDIATOR = Principal(sub="med-user", roles=["mediator"], mediator_id="med-1")
OTHER_MEDIATOR = Principal(sub="med-user-2", roles=["mediator"], mediator_id="med-2")
DPO = Principal(sub="dpo-1", roles=["dpo"])
ID = "11010519491231002X"
CTX = AccessContext(request_id="req-1", client_address="203.0.113.7")


def _body():
    return grid_body(parties=[PartyIn(name="张三丰", phone="13812345678", id_card=ID, role="requester")])


async def _case_with_order(uow, c, department="RSS"):
    case = await new_case(uow, c, body=_body())
    p = _dispatched(case, uow.now() + timedelta(seconds=5)).model_copy(update={"department": department})
    await record_event(uow, envelope(p), p)
    return case


async def test_a_department_reads_only_cases_it_holds_an_order_on_contact_in_full_never_the_id():
    uow, c, _ = world()
    case = await _case_with_order(uow, c)
    other = await new_case(uow, c, body=_body())  # no order at all
    order_at = next(t["at"] for t in uow.db.timeline if t["kind"] == "order.dispatched")
    assert uow.db.case_departments == {(case["id"], "RSS"): order_at}
    for who in (RSS, RSS_KEY):
        page = await reads.list_cases(uow, who, reads.CaseQuery(), ctx=CTX)
        assert [r["id"] for r in page.items] == [case["id"]] and page.total == 1
        [party] = page.items[0]["parties"]
        assert party["name"] == "张三丰" and party["phone"] == "13812345678" and party["masked"] is False
        assert party["id_card"] == "1101**********002X" and party["id_card_masked"] is True
        with pytest.raises(NotFound):
            await reads.get_case(uow, who, other["id"], ctx=CTX)
    detail = await reads.get_case(uow, RSS, case["case_no"], ctx=CTX)
    assert detail.case["parties"][0]["id_card"] != ID
    # what the gateway's audit is told (X-Fengqiao-Audit-*)
    assert detail.disclosure.headers() == {"X-Fengqiao-Audit-Fields": "name,phone,id_number(masked)",
                                           "X-Fengqiao-Audit-Purpose": "handle_order",
                                           "X-Fengqiao-Audit-Subjects": case["case_no"]}
    # another department: not in the list, 404 on the detail
    assert (await reads.list_cases(uow, PCS, reads.CaseQuery())).total == 0
    with pytest.raises(NotFound):
        await reads.get_case(uow, PCS, case["id"])
    # the officer's reads are in the audit, with the fields read, the purpose and where from
    rows = [r for r in uow.db.access_log if r["actor_id"] == RSS.sub]
    assert [r["action"] for r in rows] == ["list", "detail"]
    assert rows[1] | {"at": None, "id": None} == rows[1] | {
        "at": None, "id": None, "role": "department_officer", "department": "RSS", "object_type": "case",
        "object_id": case["id"], "case_id": case["id"], "case_no": case["case_no"],
        "fields": ["parties.name", "parties.phone"], "purpose": "handle_order", "request_id": "req-1",
        "client_address": "203.0.113.7"}
    assert not [r for r in uow.db.access_log if r["actor_id"] == PCS.sub]


async def test_a_department_that_held_an_order_keeps_seeing_the_case():
    uow, c, _ = world()
    case = await _case_with_order(uow, c)
    from fengqiao_events.payloads.order import OrderReturned

    p = OrderReturned(order_id="o1", case_id=case["id"], department="RSS", seq=2, at=uow.now() + timedelta(60),
                      reason="不属本部门")
    await record_event(uow, envelope(p), p)
    assert (await reads.get_case(uow, RSS, case["id"])).case["id"] == case["id"]


async def test_a_mediator_reads_only_cases_of_mediations_booked_with_them():
    uow, c, _ = world()
    case = await new_case(uow, c, body=_body())
    with pytest.raises(NotFound):
        await reads.get_case(uow, MEDIATOR, case["id"])
    at = uow.now() + timedelta(hours=1)
    p = MediationBooked(mediation_id="m1", case_id=case["id"], category="neighbour", at=at, booking_id="b1",
                        mediator_id="med-1", starts_at=at, ends_at=at + timedelta(hours=1))
    await record_event(uow, envelope(p, "/fengqiao/mediation"), p)
    detail = await reads.get_case(uow, MEDIATOR, case["id"], ctx=CTX)
    assert detail.case["parties"][0]["phone"] == "13812345678" and detail.case["parties"][0]["id_card_masked"]
    assert uow.db.access_log[-1]["purpose"] == "mediation" and uow.db.access_log[-1]["role"] == "mediator"
    assert (await reads.list_cases(uow, OTHER_MEDIATOR, reads.CaseQuery())).total == 0
    with pytest.raises(NotFound):
        await reads.get_case(uow, OTHER_MEDIATOR, case["id"])


async def test_grid_workers_leaders_and_systems_see_parties_masked_and_write_no_audit():
    uow, c, _ = world()
    case = await new_case(uow, c, body=_body())
    demand = await new_case(uow, c, SYSTEM)
    leader = Principal(sub="leader-1", roles=["leader"])
    for who, ref in ((WORKER, case["id"]), (leader, case["id"]), (ADMIN, case["id"]), (SYSTEM, demand["id"])):
        detail = await reads.get_case(uow, who, ref)
        for party in detail.case["parties"]:
            assert party["masked"] is True and party.get("phone") != "13812345678"
    worker_view = await reads.get_case(uow, WORKER, case["id"])
    shown = worker_view.case
    assert shown["description"] and shown["address"] == "外海大道 1 号"  # free text and address: yes
    assert worker_view.disclosure.fields == ("name(masked)", "phone(masked)", "id_number(masked)")
    assert worker_view.disclosure.purpose == "grid_management"
    page = await reads.list_cases(uow, leader, reads.CaseQuery())
    assert page.disclosure.purpose == "oversight" and set(page.disclosure.subjects) == {case["case_no"],
                                                                                         demand["case_no"]}
    assert uow.db.access_log == []


async def test_a_dispatcher_reads_contact_data_and_reveals_an_id_number_only_with_a_purpose():
    uow, c, _ = world()
    case = await new_case(uow, c, body=_body())
    detail = await reads.get_case(uow, DISPATCHER, case["id"], ctx=CTX)
    assert detail.case["parties"][0]["phone"] == "13812345678" and detail.case["parties"][0]["id_card"] != ID
    assert uow.db.access_log[-1]["fields"] == ["parties.name", "parties.phone"]
    assert uow.db.access_log[-1]["purpose"] == "dispatch"
    with pytest.raises(Invalid):
        await reads.get_case(uow, DISPATCHER, case["id"], reveal=reads.Reveal("id_number"))
    with pytest.raises(Invalid):
        await reads.get_case(uow, DISPATCHER, case["id"], reveal=reads.Reveal("id_number", "curiosity"))
    revealed = await reads.get_case(uow, DISPATCHER, case["id"],
                                    reveal=reads.Reveal("id_number", "identity_verification"), ctx=CTX)
    assert revealed.case["parties"][0]["id_card"] == ID and revealed.case["parties"][0]["id_card_masked"] is False
    assert revealed.disclosure.fields == ("name", "phone", "id_number")
    assert revealed.disclosure.purpose == "identity_verification"
    row = uow.db.access_log[-1]
    assert row["fields"] == ["parties.name", "parties.phone", "parties.id_card"]
    assert row["purpose"] == "identity_verification" and row["action"] == "detail"
    # nobody else may reveal it (not even a department holding an order, nor admin)
    await _case_with_order(uow, c)
    for who in (RSS, ADMIN, WORKER):
        with pytest.raises(Forbidden):
            await reads.get_case(uow, who, case["id"], reveal=reads.Reveal("id_number", "identity_verification"))
    # the list never reveals
    page = await reads.list_cases(uow, DISPATCHER, reads.CaseQuery())
    assert all(p["id_card"] != ID for r in page.items for p in r["parties"])


async def test_an_export_is_audited_per_case_as_an_export():
    uow, c, _ = world()
    a = await _case_with_order(uow, c)
    await new_case(uow, c, body=_body())
    page = await reads.export_cases(uow, RSS, reads.CaseQuery(limit=100), ctx=CTX)
    assert [r["id"] for r in page.items] == [a["id"]]
    assert [(r["action"], r["case_id"]) for r in uow.db.access_log] == [("export", a["id"])]


async def test_attachments_of_a_case_only_for_its_readers_and_every_read_audited():
    uow, c, storage = world()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    att = (await attachments.store_attachment(uow, WORKER, attachments.Upload("p.png", png), storage=storage,
                                              max_bytes=10_000)).item
    case = await new_case(uow, c, body=_body().model_copy(update={"attachments": [att["id"]]}))
    # the uploader reads their own without an audit row
    await attachments.read_attachment(uow, WORKER, att["id"], storage=storage)
    assert uow.db.access_log == []
    with pytest.raises(NotFound):
        await attachments.read_attachment(uow, RSS, att["id"], storage=storage)
    p = _dispatched(case, uow.now() + timedelta(seconds=5))
    await record_event(uow, envelope(p), p)
    _row, data = await attachments.read_attachment(uow, RSS, att["id"], storage=storage, ctx=CTX)
    assert data == png
    [log] = uow.db.access_log
    assert log["action"] == "attachment" and log["object_id"] == att["id"] and log["case_id"] == case["id"]
    assert log["fields"] == ["attachment"] and log["client_address"] == "203.0.113.7"


async def test_the_access_log_for_admin_and_the_data_protection_officer_only():
    uow, c, _ = world()
    case = await _case_with_order(uow, c)
    await reads.get_case(uow, RSS, case["id"], ctx=CTX)
    await reads.get_case(uow, DISPATCHER, case["id"], ctx=CTX)
    for reader in (ADMIN, DPO):
        rows, total = await reads.access_log(uow, reader, reads.AccessLogQuery(case=case["case_no"]))
        assert total == 2 and {r["actor_id"] for r in rows} == {RSS.sub, DISPATCHER.sub}
        rows, total = await reads.access_log(uow, reader, reads.AccessLogQuery(actor=RSS.sub))
        assert total == 1 and rows[0]["fields"] == ["parties.name", "parties.phone"]
        assert (await reads.access_log(uow, reader, reads.AccessLogQuery(since=uow.now() + timedelta(days=1))))[1] == 0
        assert await reads.access_log(uow, reader, reads.AccessLogQuery(case="NO-SUCH")) == ([], 0)
        # by resident: every read of a case they are a party in (phone or ID number)
        for number in ("13812345678", ID.lower()):
            assert (await reads.access_log(uow, reader, reads.AccessLogQuery(resident=number)))[1] == 2
        assert await reads.access_log(uow, reader, reads.AccessLogQuery(resident="13000000000")) == ([], 0)
        assert await reads.access_log(uow, reader, reads.AccessLogQuery(case=case["id"], actor=RSS.sub,
                                                                        resident="13812345678")) != ([], 0)
    for who in (DISPATCHER, RSS, WORKER):
        with pytest.raises(Forbidden):
            await reads.access_log(uow, who, reads.AccessLogQuery())
