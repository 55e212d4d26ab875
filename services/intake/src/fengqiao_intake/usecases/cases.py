"""New cases: grid-event reports, walk-in petitions, external demands (and Open311 requests).

The write path is ``adapters.case_writer`` (``uow.new_cases``): the day's case number in its own
one-statement transaction, the duplicate candidates, then the case with its requester, first
timeline entry and outbox row in one statement (with attachments: one explicit transaction that
also locks and links them). Same caller + Idempotency-Key: the first case, nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fengqiao_common.auth import EXTERNAL_SYSTEM, Principal
from fengqiao_common.errors import Forbidden, field_error
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.case import GridEventReported
from fengqiao_events.payloads.common import Location

from ..domain import duplicates, geo, grading, pii
from ..domain import idempotency as idem
from ..domain import notifications as sms_rules
from ..domain.case_no import format_case_no
from ..domain.timeline import note
from ..domain.visibility import may_report_in
from ..schemas import CaseIn, DemandIn, GridEventIn, PetitionIn
from .common import Context, Created, actor, actor_json, bad
from .notifications import sms_row

if TYPE_CHECKING:
    from ..adapters.case_writer import NewCaseUoW


@dataclass
class NewCase:
    body: CaseIn
    channel: str
    sub_channel: str | None = None
    idempotency_key: str | None = None
    extra_parties: list[dict] = field(default_factory=list)
    snap_grid: bool = False
    media_url: str | None = None


def _place(ctx: Context, body: CaseIn, *, snap: bool) -> tuple[str | None, str | None]:
    j = ctx.jurisdiction
    grid, community = body.grid, body.community
    if grid:
        g = j.grid(grid)
        if g is None:
            raise bad("grid", f"网格 {grid} 不在本辖区", f"unknown grid {grid}", "unknown_grid")
        if community and community != g.community:
            raise bad("community", f"网格 {grid} 不属于社区 {community}",
                      f"grid {grid} is not in community {community}", "grid_community_mismatch")
        return grid, g.community
    if community and j.community(community) is None:
        raise bad("community", f"社区 {community} 不在本辖区", f"unknown community {community}", "unknown_community")
    if snap and body.location and body.location.lat is not None:
        code = geo.nearest(body.location.lat, body.location.lon,
                           [(g.code, g.centroid.lat, g.centroid.lon) for g in j.grids], ctx.settings.grid_snap_max_m)
        if code:
            return code, j.grid(code).community
    return None, community


async def _replayed(uow: NewCaseUoW, caller: str, key: str, request_hash: str) -> Created | None:
    existing = await uow.new_cases.by_idempotency(caller, key)
    if existing is None:
        return None
    idem.replay(existing["idem_hash"], request_hash, case_id=existing["id"], case_no=existing["case_no"])
    return Created(existing, False)


async def create_case(uow: NewCaseUoW, principal: Principal, cmd: NewCase, *, ctx: Context) -> Created:
    body, key, channel = cmd.body, cmd.idempotency_key, cmd.channel
    caller = principal.sub
    request_hash = idem.model_hash(body)
    j, s = ctx.jurisdiction, ctx.settings
    try:
        async with uow:
            if key and (replayed := await _replayed(uow, caller, key, request_hash)):
                return replayed
            domain = j.domain(body.category)
            if domain is None:
                raise bad("category", f"类别 {body.category} 不在目录中", f"unknown category {body.category}",
                          "unknown_category")
            grid, community = _place(ctx, body, snap=cmd.snap_grid)
            if channel == "grid_app" and not may_report_in(principal, body.grid):
                raise Forbidden("只能上报本人负责网格的事件", "grid workers report only in their own grids",
                                fields=[field_error("grid", "not_your_grid", "非本人负责网格", "not one of your grids",
                                                    ["body", "grid"])])
            decision = grading.decide(domain.default_grade, f"{body.title or ''}\n{body.description}",
                                      body.people_involved, body.grade)
            at = uow.now()
            loc = body.location
            lat, lon = (loc.lat, loc.lon) if loc else (None, None)
            parties = [p.model_dump() for p in body.parties] + list(cmd.extra_parties)
            source_system = principal.external_system if principal.has(EXTERNAL_SYSTEM) else None
            if source_system is not None:
                ctx.require_registered(source_system)
            req_ref = pii.ref_of_parties(ctx.requester_key, parties)
            id_ref = pii.id_ref_of_parties(ctx.requester_key, parties)
            summary = body.title or body.description.replace("\n", " ")[:40]
            case_id = new_id()
            street, day = j.street.code, at.astimezone(ctx.timezone).date()
            # outside any transaction: the day's counter row is locked for one statement only
            case_no = format_case_no(street, day, await uow.new_cases.next_seq(street, day))
            ids = list(body.attachments)
            if ids:
                found = await uow.new_cases.claim_attachments(ids, caller)
                missing = [a for a in ids if a not in found]
                if missing:
                    raise bad("attachments", f"附件不存在或已被使用：{', '.join(missing)}",
                              f"unknown or already used attachments: {', '.join(missing)}", "unknown_attachment")
            duplicate_of = None
            if lat is not None and lon is not None:
                lat_box, lon_box = duplicates.search_box(lat, lon, s.duplicate_radius_m)
                candidates = await uow.new_cases.duplicate_candidates(
                    body.category, duplicates.window_start(at, s.duplicate_window_hours), lat_box, lon_box)
                duplicate_of = duplicates.nearest(lat, lon, candidates, s.duplicate_radius_m)
            who = actor_json(principal)
            code = sms_rules.new_query_code()
            row = {
                "id": case_id, "case_no": case_no, "channel": channel, "sub_channel": cmd.sub_channel,
                "source_system": source_system, "external_ref": getattr(body, "external_ref", None),
                "category": body.category, "grade": decision.grade, "grade_reasons": decision.reasons,
                "keywords": decision.keywords, "district": j.district.code, "street": street,
                "community": community, "grid": grid, "lat": lat, "lon": lon,
                "address": loc.address if loc else None, "media_url": cmd.media_url, "summary": summary,
                "description": body.description,
                "people_involved": body.people_involved, "parties": parties, "occurred_at": body.occurred_at,
                "reported_at": at, "reporter": who, "status": "reported",
                "status_at": at, "duplicate_of": duplicate_of, "merged_into": None,
                "last_rating": None, "last_rating_at": None,
                "idem_caller": caller if key else None, "idem_key": key,
                "idem_hash": request_hash if key else None, "updated_at": at,
                "query_code_hash": sms_rules.query_code_hash(case_no, code),
            }
            # the acceptance message: the case number and the query code, to the requester only
            sms = sms_row(ctx.sms, row, "accepted", {"case_no": case_no, "code": code},
                          key=f"accepted:{case_id}", now=at) if ctx.sms else None
            uow.new_cases.add(
                row, requester={"source_system": source_system, "channel": channel, "requester_ref": req_ref,
                                     "id_ref": id_ref},
                timeline={"at": at, "kind": "case.reported", "actor": who, "note": note("case.reported", case_no),
                          "detail": {"channel": channel, "duplicate_of": duplicate_of}},
                sms=sms)
            if ids:
                uow.new_cases.link_attachments(ids, case_id)
            uow.emit(GridEventReported(
                case_id=case_id, case_no=case_no, channel=channel, sub_channel=cmd.sub_channel,
                source_system=source_system, category=body.category, grade=decision.grade,
                grade_reasons=decision.reasons, grid=grid, community=community, street=street,
                district=j.district.code, location=Location(lat=lat, lon=lon, address=row["address"]),
                summary=summary, description=body.description, people_involved=body.people_involved,
                keywords=decision.keywords, occurred_at=body.occurred_at, reported_at=at,
                reporter=actor(principal), requester_ref=req_ref, duplicate_of=duplicate_of,
            ))
            await uow.commit()
    except idem.KeyTaken:
        if not key:
            raise
        async with uow:  # a concurrent retry with the same key won the unique constraint
            if replayed := await _replayed(uow, caller, key, request_hash):
                return replayed
        raise
    return Created(row, True)


async def report_grid_event(uow: NewCaseUoW, principal: Principal, body: GridEventIn, *, ctx: Context,
                            idempotency_key: str | None = None) -> Created:
    return await create_case(uow, principal, NewCase(body, "grid_app", idempotency_key=idempotency_key), ctx=ctx)


async def register_petition(uow: NewCaseUoW, principal: Principal, body: PetitionIn, *, ctx: Context,
                            idempotency_key: str | None = None) -> Created:
    requester = body.requester.model_dump() | {"role": "requester"}
    return await create_case(uow, principal, NewCase(body, "petition", sub_channel=body.channel,
                                                     idempotency_key=idempotency_key, extra_parties=[requester]),
                             ctx=ctx)


async def submit_demand(uow: NewCaseUoW, principal: Principal, body: DemandIn, *, ctx: Context,
                        idempotency_key: str | None = None) -> Created:
    extra = [body.requester.model_dump() | {"role": "requester"}] if body.requester else []
    return await create_case(uow, principal, NewCase(body, "external", idempotency_key=idempotency_key,
                                                     extra_parties=extra, snap_grid=True), ctx=ctx)
