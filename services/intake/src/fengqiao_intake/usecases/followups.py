"""Follow-up (回访) as a workflow: a task per handling cycle when the centre verifies a result; the
requester's answer (a call, an SMS reply, the public page): satisfied / basically satisfied /
unsatisfied and, separately, "was the problem solved?". Unsatisfied or unsolved reopens the case with
the reason, at most ``max_reopens`` times; after that the task goes to the leader (``to_leader``).

Deadlines are in calendar days (``INTAKE_FOLLOW_UP_DAYS``), not working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from fengqiao_common.auth import Principal
from fengqiao_common.errors import Conflict, NotFound
from fengqiao_common.ids import new_id
from fengqiao_events.payloads.case import CaseRated, CaseReopened
from fengqiao_events.payloads.common import Actor

from ..domain import status as status_rules
from ..domain.timeline import note
from .common import actor
from .notifications import SmsPolicy, notify_event
from .status import recompute_status

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW

RESIDENT = Actor(id="resident", kind="user", name="来电人", role="requester")


@dataclass
class Answer:
    rating: str  # satisfied | basically_satisfied | unsatisfied
    solved: bool | None = None
    channel: str = "call"  # call | sms | public_page | external | staff
    comment: str | None = None


@dataclass(frozen=True)
class FollowUpPolicy:
    days: float = 3.0
    max_reopens: int = 2


async def cycle_of(uow: IntakeUoW, case_id: str) -> int:
    """The handling cycle: how often the case was reopened."""
    return sum(1 for e in await uow.timeline.of_case(case_id) if e["kind"] == "case.reopened")


async def open_task(uow: IntakeUoW, case: dict, policy: FollowUpPolicy) -> bool:
    """Inside the caller's transaction (the consumer's of order.verified / case.closed)."""
    if case.get("merged_into"):
        return False
    now = uow.now()
    return await uow.follow_ups.open_task({
        "id": new_id(), "case_id": case["id"], "cycle": await cycle_of(uow, case["id"]), "created_at": now,
        "due_at": now + timedelta(days=policy.days), "status": "open", "to_leader": False})


async def record_answer(uow: IntakeUoW, case: dict, answer: Answer, *, by: Actor, policy: FollowUpPolicy) -> dict:
    """Inside the caller's ``async with uow`` with the case locked: the rating, the task done, and a
    reopening (or the leader) when the requester is unsatisfied or says the problem is not solved."""
    if case["status"] not in status_rules.RATEABLE:
        raise Conflict("案件尚未办结，不能回访评价", "the case is not resolved yet", code="not_resolved",
                       status=case["status"])
    if case["last_rating_at"] is not None and case["last_rating_at"] >= case["status_at"]:
        raise Conflict("本轮办理已评价", "this resolution was already rated", code="already_rated",
                       status=case["status"], rating=case["last_rating"])
    at, who = uow.now(), by.model_dump(mode="json")
    cycle = await cycle_of(uow, case["id"])
    task = await uow.follow_ups.of_cycle(case["id"], cycle, lock=True)
    if task is None:
        task = {"id": new_id(), "case_id": case["id"], "cycle": cycle, "created_at": at, "due_at": at,
                "status": "open", "to_leader": False}
        await uow.follow_ups.open_task(task)
    await uow.cases.add_rating(case["id"], rating=answer.rating, comment=answer.comment, by=who, at=at)
    await uow.cases.update(case["id"], last_rating=answer.rating, last_rating_at=at, updated_at=at)
    case.update(last_rating=answer.rating, last_rating_at=at, updated_at=at)
    await uow.timeline.add(case["id"], at=at, kind="case.rated", effect=None, actor=who,
                           note=note("case.rated", answer.rating),
                           detail={"rating": answer.rating, "solved": answer.solved, "channel": answer.channel})
    uow.emit(CaseRated(case_id=case["id"], case_no=case["case_no"], rating=answer.rating, comment=answer.comment,
                       by=by, at=at, solved=answer.solved, channel=answer.channel))
    to_leader = False
    if answer.rating == "unsatisfied" or answer.solved is False:
        reason = answer.comment or ("回访不满意 / unsatisfied follow-up" if answer.rating == "unsatisfied"
                                    else "问题未解决 / the problem is not solved")
        if cycle < policy.max_reopens:
            text = note("case.reopened", reason)
            await uow.timeline.add(case["id"], at=at, kind="case.reopened", effect="reopened", actor=who,
                                   note=text, detail={"reason": reason})
            await recompute_status(uow, case, note_text=text, at=at)
            uow.emit(CaseReopened(case_id=case["id"], case_no=case["case_no"], reason=reason, by=by, at=at))
        else:
            to_leader = True
            await uow.timeline.add(case["id"], at=at, kind="follow_up.to_leader", effect=None, actor=who,
                                   note=f"已重办 {cycle} 次仍不满意，转领导督办：{reason}",
                                   detail={"reason": reason, "reopened": cycle})
    done = {"status": "done", "rating": answer.rating, "solved": answer.solved, "channel": answer.channel,
            "comment": answer.comment, "by": who, "done_at": at, "to_leader": to_leader}
    await uow.follow_ups.update(task["id"], **done)
    return task | done


async def record_outcome(uow: IntakeUoW, principal: Principal, task_id: str, answer: Answer, *,
                         policy: FollowUpPolicy) -> dict:
    """The centre records the requester's answer (a call, an SMS reply) on a task of the call list."""
    async with uow:
        task = await uow.follow_ups.get(task_id, lock=True)
        if task is None:
            raise NotFound("follow_up", "回访任务")
        if task["status"] != "open":
            raise Conflict("回访任务已完成", "the follow-up is already done", code="follow_up_done",
                           status=task["status"])
        case = await uow.cases.get(task["case_id"], lock=True)
        done = await record_answer(uow, case, answer, by=actor(principal), policy=policy)
        await uow.commit()
    return done | {"case_no": case["case_no"], "summary": case["summary"], "case_status": case["status"],
                   "category": case["category"]}


async def list_tasks(uow: IntakeUoW, principal: Principal, *, status: str | None, to_leader: bool | None,
                     limit: int, offset: int) -> tuple[list[dict], int]:
    async with uow:
        return await uow.follow_ups.list(status=status, to_leader=to_leader, limit=limit, offset=offset)


def consequences(sms: SmsPolicy | None, policy: FollowUpPolicy):
    """What a handling event causes besides the timeline (``record_event``'s ``after``): the resident's
    messages, and the follow-up task once the centre verifies a result or the case is closed."""

    async def after(uow: IntakeUoW, case: dict, topic: str, data: dict, *, old_status: str, event_id: str) -> None:
        await notify_event(uow, sms, case, topic, data, old_status=old_status, event_id=event_id)
        if (topic == "order.verified" and data.get("accepted", True)) or topic == "case.closed":
            await open_task(uow, case, policy)

    return after
