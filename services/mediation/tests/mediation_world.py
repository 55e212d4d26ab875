"""Builders for the use-case unit tests: principals, a mediator pool, a booked / recorded / sealed mediation,
all on the in-memory fakes with a ManualClock (Monday 2026-01-05 09:00 in Asia/Shanghai)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.auth import Principal
from fengqiao_mediation.usecases import agreements, bookings, mediators, sessions
from fengqiao_mediation.usecases.commands import BookingIn, MediatorIn, SessionIn, SignatureIn
from mediation_fakes import FakeMediationUoW, fake_render

TZ = ZoneInfo("Asia/Shanghai")
ALL_WEEK = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()

ADMIN = Principal(sub="admin-1", roles=["admin"], name="管理员")
DISPATCHER = Principal(sub="disp-1", roles=["dispatcher"], name="值班员", department="ZZZX")
LEADER = Principal(sub="lead-1", roles=["leader"])
EXTERNAL = Principal(sub="key-1", kind="api_key", roles=["external_system"], external_system="court-portal")


def mediator_p(mid: str) -> Principal:
    return Principal(sub=f"user-{mid}", roles=["mediator"], mediator_id=mid, name=mid)


def party_p(pid: str) -> Principal:
    return Principal(sub=f"party-{pid}", roles=["party"], party_id=pid)


def local(uow: FakeMediationUoW, days: int, hour: int) -> datetime:
    d = (uow.now().astimezone(TZ) + timedelta(days=days)).date()
    return datetime(d.year, d.month, d.day, hour, tzinfo=TZ)


async def add_mediator(uow: FakeMediationUoW, mid: str, **kw) -> dict:
    body = {"id": mid, "name": f"调解员{mid}", "kind": "public_official", "gender": "female",
            "categories": ["labour"], "dialects": ["普通话"], "capacity": 3, "weekly": ALL_WEEK, **kw}
    return await mediators.create_mediator(uow, ADMIN, MediatorIn.model_validate(body))


PARTIES = [{"side": "applicant", "name": "冯甲", "phone": "13800000001"},
           {"side": "respondent", "name": "谭乙", "phone": "13800000002", "organisation": "某工厂"}]


async def book(uow: FakeMediationUoW, mid: str = "M1", *, days: int = 2, hour: int = 10, principal=DISPATCHER,
               **kw) -> dict:
    body = {"category": "labour", "parties": PARTIES, "mediator_id": mid,
            "starts_at": local(uow, days, hour).isoformat(), **kw}
    return await bookings.book(uow, principal, BookingIn.model_validate(body))


async def recorded(uow: FakeMediationUoW, *, outstanding: tuple[str, ...] = ()) -> dict:
    """A mediator M1, a booking and one recorded session: ids in a dict."""
    await add_mediator(uow, "M1")
    b = await book(uow)
    med = b["mediation"]["id"]
    s = await sessions.create_session(uow, mediator_p("M1"), med, SessionIn.model_validate({
        "started_at": local(uow, 2, 10).isoformat(), "ended_at": local(uow, 2, 11).isoformat(), "place": "调解室",
        "attendees": ["冯甲", "谭乙"], "points_agreed": ["按月结算工资"], "points_outstanding": list(outstanding)}))
    return {"med": med, "sid": s["id"], "a": b["parties"][0]["id"], "b": b["parties"][1]["id"], "booking": b}


def image(signer: str, party_id: str | None = None) -> SignatureIn:
    return SignatureIn.model_validate({"signer": signer, "party_id": party_id, "method": "image",
                                       "image_base64": PNG})


async def sealed(uow: FakeMediationUoW, **kw) -> dict:
    k = await recorded(uow, **kw)
    await sessions.sign(uow, party_p(k["a"]), k["sid"], image("party", k["a"]))
    await sessions.sign(uow, party_p(k["b"]), k["sid"], image("party", k["b"]))
    out = await sessions.sign(uow, mediator_p("M1"), k["sid"], image("mediator"))
    assert out["status"] == "sealed"
    return k


async def agreed(uow: FakeMediationUoW) -> dict:
    k = await sealed(uow)
    k["agreement"] = await agreements.generate_agreement(uow, mediator_p("M1"), k["med"], render=fake_render)
    return k
