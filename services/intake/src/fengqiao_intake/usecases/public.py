"""The residents' public case page: a case by its number and the query code issued at acceptance.

What it shows: the case number, the category, when it was registered, the status and the steps of the
timeline in plain words (``domain.notifications.PUBLIC_STEPS``), whether it can be rated; never a name,
phone, address, description, note or staff member. A merged duplicate shows its primary's progress.
A wrong code and an unknown number are the same NotFound; wrong codes are limited per case number and
per client (:class:`LookupLimiter`, checked by the router before the use case runs).
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import TYPE_CHECKING

from fengqiao_common.clock import Clock
from fengqiao_common.errors import NotFound

from ..domain import notifications as rules
from ..domain import pii
from ..domain import status as status_rules
from .followups import RESIDENT, Answer, FollowUpPolicy, record_answer
from .notifications import opt_out_in

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


class LookupLimiter:
    """Failed lookups per key within a sliding window (one process; a replica keeps its own)."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock):
        self.limit, self.window, self.clock = limit, window_seconds, clock
        self.failures: dict[str, deque] = defaultdict(deque)

    def _recent(self, key: str) -> deque:
        q, now = self.failures[key], self.clock.now().timestamp()
        while q and q[0] < now - self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until another try is allowed, or None when allowed now."""
        worst = None
        for key in keys:
            q = self._recent(key)
            if len(q) >= self.limit:
                wait = int(q[0] + self.window - self.clock.now().timestamp()) + 1
                worst = max(worst or 0, wait)
        return worst

    def failed(self, *keys: str) -> None:
        for key in keys:
            self.failures[key].append(self.clock.now().timestamp())


async def _case(uow: IntakeUoW, case_no: str, code: str, *, lock: bool = False) -> dict:
    case = await uow.cases.get(case_no.strip(), lock=lock)
    if case is None or case["case_no"] != case_no.strip() or not rules.code_matches(
            case["case_no"], code, case.get("query_code_hash")):
        raise NotFound("case", "案件（或查询码不正确）")
    return case


async def _view(uow: IntakeUoW, case: dict) -> dict:
    shown = case
    primary_no = None
    if case.get("merged_into"):
        primary = await uow.cases.get(case["merged_into"])
        if primary is not None:
            shown, primary_no = primary, primary["case_no"]
    steps = rules.public_steps(await uow.timeline.of_case(case["id"]))
    if primary_no:
        steps += [s | {"primary": True} for s in rules.public_steps(await uow.timeline.of_case(shown["id"]))]
    rated = case["last_rating_at"] is not None and case["last_rating_at"] >= case["status_at"]
    return {"case_no": case["case_no"], "category": case["category"], "reported_at": case["reported_at"],
            "status": shown["status"], "status_text": rules.PUBLIC_STATUS.get(shown["status"], "办理中"),
            "merged_into_case_no": primary_no, "steps": steps,
            "can_rate": case["status"] in status_rules.RATEABLE and not rated, "last_rating": case["last_rating"]}


async def public_case(uow: IntakeUoW, case_no: str, code: str) -> dict:
    async with uow:
        return await _view(uow, await _case(uow, case_no, code))


async def public_rate(uow: IntakeUoW, case_no: str, code: str, answer: Answer, *, policy: FollowUpPolicy) -> dict:
    """The requester's own follow-up answer from the public page (channel ``public_page``)."""
    answer.channel = "public_page"
    async with uow:
        case = await _case(uow, case_no, code, lock=True)
        await record_answer(uow, case, answer, by=RESIDENT, policy=policy)
        view = await _view(uow, case)
        await uow.commit()
    return view


async def public_opt_out(uow: IntakeUoW, case_no: str, code: str, *, key: bytes) -> None:
    """No more text messages to this case's requester (by pseudonym, so for all their cases)."""
    async with uow:
        case = await _case(uow, case_no, code)
        ref = pii.ref_of_parties(key, case.get("parties"))
        if ref:
            await opt_out_in(uow, ref)
        await uow.commit()
