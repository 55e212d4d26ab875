"""Staff actions on a case: regrade, merge a duplicate, satisfaction follow-up (rating)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, NotFound
from fengqiao_events.payloads.case import CaseMerged, CaseRated, CaseRegraded, CaseReopened, CaseTransferred

from ..domain import status as status_rules
from ..domain.timeline import note
from .common import Context, actor, actor_json, bad, visible_case
from .status import recompute_status

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


@dataclass
class Regrade:
    ref: str  # case id or case number
    grade: str
    reason: str


@dataclass
class Transfer:
    ref: str  # case id or case number
    grid: str  # the grid that takes the case over
    reason: str


@dataclass
class Merge:
    ref: str
    into: str  # case id or case number of the surviving case
    reason: str | None = None


@dataclass
class Rate:
    ref: str
    rating: str
    comment: str | None = None


@dataclass
class Merged:
    case: dict
    into: dict


async def regrade(uow: IntakeUoW, principal: Principal, cmd: Regrade) -> dict:
    async with uow:
        case = await visible_case(uow, principal, cmd.ref, lock=True)
        if case["grade"] == cmd.grade:
            raise Conflict("等级未改变", "the case already has this grade", code="same_grade", grade=case["grade"])
        at = uow.now()
        reasons = [*case["grade_reasons"], f"staff:{cmd.reason}"]
        await uow.cases.update(case["id"], grade=cmd.grade, grade_reasons=reasons, updated_at=at)
        await uow.timeline.add(case["id"], at=at, kind="case.regraded", effect=None, actor=actor_json(principal),
                               note=note("case.regraded", f"{case['grade']} → {cmd.grade}: {cmd.reason}"),
                               detail={"old_grade": case["grade"], "new_grade": cmd.grade, "reason": cmd.reason})
        uow.emit(CaseRegraded(case_id=case["id"], case_no=case["case_no"], old_grade=case["grade"],
                              new_grade=cmd.grade, reason=cmd.reason, by=actor(principal), at=at))
        await uow.commit()
    return case | {"grade": cmd.grade, "grade_reasons": reasons, "updated_at": at}


async def transfer(uow: IntakeUoW, principal: Principal, cmd: Transfer, *, ctx: Context) -> dict:
    """The centre moves an open case to another grid of the street (its community follows the grid)."""
    grid = ctx.jurisdiction.grid(cmd.grid)
    if grid is None:
        raise bad("grid", f"网格 {cmd.grid} 不存在", f"unknown grid {cmd.grid}", "unknown_grid")
    async with uow:
        case = await visible_case(uow, principal, cmd.ref, lock=True)
        if case["status"] not in status_rules.OPEN:
            raise Conflict("案件已结案或已合并，不能移交", "the case is closed or merged", code="case_not_open",
                           status=case["status"])
        if case["grid"] == grid.code:
            raise Conflict("案件已在该网格", "the case is already in this grid", code="same_grid", grid=grid.code)
        at = uow.now()
        await uow.cases.update(case["id"], grid=grid.code, community=grid.community, updated_at=at)
        await uow.timeline.add(case["id"], at=at, kind="case.transferred", effect=None, actor=actor_json(principal),
                               note=note("case.transferred", f"{case['grid']} → {grid.code}: {cmd.reason}"),
                               detail={"from_grid": case["grid"], "to_grid": grid.code, "reason": cmd.reason})
        uow.emit(CaseTransferred(case_id=case["id"], case_no=case["case_no"], from_grid=case["grid"],
                                 to_grid=grid.code, from_community=case["community"], to_community=grid.community,
                                 reason=cmd.reason, by=actor(principal), at=at))
        await uow.commit()
    return case | {"grid": grid.code, "community": grid.community, "updated_at": at}


async def merge(uow: IntakeUoW, principal: Principal, cmd: Merge) -> Merged:
    async with uow:
        source = await visible_case(uow, principal, cmd.ref)
        try:
            target = await visible_case(uow, principal, cmd.into)
        except NotFound:
            raise bad("into", f"目标案件 {cmd.into} 不存在", f"case {cmd.into} not found", "unknown_case") from None
        await uow.cases.lock([source["id"], target["id"]])  # then re-read both under the locks
        source = await uow.cases.get(source["id"])
        target = await uow.cases.get(target["id"])
        if source["id"] == target["id"]:
            raise bad("into", "不能合并到自身", "a case cannot be merged into itself", "same_case")
        if source["status"] not in status_rules.OPEN:
            raise Conflict("案件已结案或已合并，不能再合并", "the case is closed or already merged",
                           code="case_not_open", status=source["status"])
        if target["status"] not in status_rules.OPEN:
            raise Conflict("目标案件已结案或已合并", "the target case is closed or merged",
                           code="target_not_open", status=target["status"])
        at = uow.now()
        who = actor_json(principal)
        await uow.cases.add_requesters(target["id"], await uow.cases.requesters(source["id"]))
        await uow.cases.update(source["id"], merged_into=target["id"], updated_at=at)
        source["merged_into"], source["updated_at"] = target["id"], at
        text = note("case.merged", target["case_no"] + (f": {cmd.reason}" if cmd.reason else ""))
        await uow.timeline.add(source["id"], at=at, kind="case.merged", effect="merged", actor=who, note=text,
                               detail={"into_case_id": target["id"], "into_case_no": target["case_no"],
                                       "reason": cmd.reason})
        await uow.timeline.add(target["id"], at=at, kind="case.merged_in", effect=None, actor=who,
                               note=note("case.merged_in", source["case_no"]),
                               detail={"case_id": source["id"], "case_no": source["case_no"]})
        await recompute_status(uow, source, note_text=text, at=at)
        uow.emit(CaseMerged(case_id=source["id"], case_no=source["case_no"], into_case_id=target["id"],
                            into_case_no=target["case_no"], by=actor(principal), at=at))
        await uow.commit()
    return Merged(source, target)


async def rate(uow: IntakeUoW, principal: Principal, cmd: Rate) -> dict:
    async with uow:
        case = await visible_case(uow, principal, cmd.ref, lock=True)
        if case["status"] not in status_rules.RATEABLE:
            raise Conflict("案件尚未办结，不能回访评价", "the case is not resolved yet", code="not_resolved",
                           status=case["status"])
        if case["last_rating_at"] is not None and case["last_rating_at"] >= case["status_at"]:
            raise Conflict("本轮办理已评价", "this resolution was already rated", code="already_rated",
                           status=case["status"], rating=case["last_rating"])
        at = uow.now()
        who, by = actor_json(principal), actor(principal)
        await uow.cases.add_rating(case["id"], rating=cmd.rating, comment=cmd.comment, by=who, at=at)
        await uow.cases.update(case["id"], last_rating=cmd.rating, last_rating_at=at, updated_at=at)
        case.update(last_rating=cmd.rating, last_rating_at=at, updated_at=at)
        await uow.timeline.add(case["id"], at=at, kind="case.rated", effect=None, actor=who,
                               note=note("case.rated", cmd.rating), detail={"rating": cmd.rating})
        uow.emit(CaseRated(case_id=case["id"], case_no=case["case_no"], rating=cmd.rating, comment=cmd.comment,
                           by=by, at=at))
        if cmd.rating == "unsatisfied":
            reason = cmd.comment or "回访不满意 / unsatisfied follow-up"
            text = note("case.reopened", reason)
            await uow.timeline.add(case["id"], at=at, kind="case.reopened", effect="reopened", actor=who,
                                   note=text, detail={"reason": reason})
            await recompute_status(uow, case, note_text=text, at=at)
            uow.emit(CaseReopened(case_id=case["id"], case_no=case["case_no"], reason=reason, by=by, at=at))
        await uow.commit()
    return case

