"""The same requester through the hall (phone + ID number) and an external system (ID number only): linked
on the real database; the centre sees the other case's number, a grid worker may not ask."""

from __future__ import annotations

import random

from intake_helpers import dispatcher, spot, system, worker

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number() -> str:
    body = f"440703198{random.randint(0, 9)}0{random.randint(1, 9)}1{random.randint(0, 9)}{random.randint(100, 999)}"
    check = "10X98765432"[sum(int(a) * b for a, b in zip(body, _W, strict=True)) % 11]
    return body + check


async def test_one_requester_across_the_hall_and_an_external_system(client):
    idn = _id_number()
    phone = "137" + str(random.randint(10_000_000, 99_999_999))
    hall = await client.post("/api/v1/cases/petitions", headers=dispatcher(), json={
        "category": "labour", "channel": "visit", "description": "来访反映工资拖欠", "location": {**spot()},
        "requester": {"name": "陈八", "phone": phone, "id_card": idn}})
    assert hall.status_code == 201, hall.text
    ext = await client.post("/api/v1/cases/demands", headers=system(), json={
        "category": "labour", "description": "粤省事：工资拖欠", "location": {**spot()},
        "requester": {"name": "陈八", "id_card": idn}})
    assert ext.status_code == 201, ext.text
    r = await client.get(f"/api/v1/cases/{hall.json()['id']}/related", headers=dispatcher())
    assert r.status_code == 200, r.text
    assert [i["case_no"] for i in r.json()["items"]] == [ext.json()["case_no"]]
    assert phone not in r.text and idn not in r.text and "陈八" not in r.text
    assert r.headers.get("x-fengqiao-audit-purpose") == "handling"
    denied = await client.get(f"/api/v1/cases/{hall.json()['id']}/related", headers=worker())
    assert denied.status_code == 403
