"""Duplicate review on fakes (list scored by text, confirm = merge + SMS to the duplicate's requester,
reject) and the precision of the text score on a labelled sample of report pairs."""

from __future__ import annotations

import itertools
import random

import pytest
from fengqiao_common.errors import Conflict, NotFound
from fengqiao_events.payloads.case import CaseMerged
from fengqiao_intake.domain import duplicates as rules
from fengqiao_intake.schemas import PartyIn
from fengqiao_intake.usecases import duplicates as uc
from fengqiao_intake.usecases.notifications import policy_of
from intake_usecase_kit import DISPATCHER, grid_body, new_case, settings, world

LAMP_A = "外海大道12号路口的路灯坏了，晚上一片漆黑，行人经过很危险。"
LAMP_B = "外海大道12号路口路灯不亮好几天了，晚上很黑，希望尽快维修。"
THRESHOLD = settings().duplicate_min_similarity


async def _pair(uow, c, text_a=LAMP_A, text_b=LAMP_B):
    a = await new_case(uow, c, body=grid_body(category="urban", title=None, description=text_a))
    b = await new_case(uow, c, body=grid_body(
        category="urban", title=None, description=text_b,
        parties=[PartyIn(name="刘备", phone="13600000001", role="requester")]))
    assert b["duplicate_of"] == a["id"]
    return a, b


async def test_the_review_list_scores_the_texts_and_confirm_merges_and_tells_the_requester():
    uow, c, _ = world()
    a, b = await _pair(uow, c)
    items, total = await uc.list_candidates(uow, DISPATCHER, threshold=THRESHOLD, limit=10, offset=0)
    assert total == 1 and items[0]["id"] == b["id"] and items[0]["candidate_no"] == a["case_no"]
    assert items[0]["likely"] and 0 < items[0]["similarity"] < 1
    assert "description" not in items[0]
    done = await uc.confirm(uow, DISPATCHER, uc.Decision(b["id"]), sms=policy_of(settings()), threshold=THRESHOLD)
    assert done["decision"] == "confirmed"
    assert uow.db.cases[b["id"]]["merged_into"] == a["id"] and uow.db.cases[b["id"]]["status"] == "merged"
    [merged] = uow.events_of(CaseMerged)
    assert merged.case_id == b["id"] and merged.into_case_id == a["id"]
    [sms] = [s for s in uow.db.sms.values() if s["template"] == "duplicate"]
    assert sms["phone"] == "13600000001" and sms["params"] == {"case_no": b["case_no"], "primary_no": a["case_no"]}
    assert uow.db.duplicate_reviews[b["id"]]["decision"] == "confirmed"
    assert (await uc.list_candidates(uow, DISPATCHER, threshold=THRESHOLD, limit=10, offset=0))[1] == 0
    with pytest.raises(NotFound):
        await uc.confirm(uow, DISPATCHER, uc.Decision(b["id"]), sms=None, threshold=THRESHOLD)


async def test_reject_clears_the_proposal_without_merging():
    uow, c, _ = world()
    _, b = await _pair(uow, c, text_b="小区门口垃圾堆放多日无人清理，气味很大。")
    items, _ = await uc.list_candidates(uow, DISPATCHER, threshold=THRESHOLD, limit=10, offset=0)
    assert not items[0]["likely"]
    done = await uc.reject(uow, DISPATCHER, uc.Decision(b["id"], "不同问题"), threshold=THRESHOLD)
    assert done["decision"] == "rejected"
    row = uow.db.cases[b["id"]]
    assert row["duplicate_of"] is None and row["merged_into"] is None and not uow.events_of(CaseMerged)
    assert uow.db.timeline[-1]["kind"] == "duplicate.rejected"
    with pytest.raises(NotFound):
        await uc.reject(uow, DISPATCHER, uc.Decision(b["id"]), threshold=THRESHOLD)


async def test_a_closed_primary_cannot_take_a_duplicate():
    uow, c, _ = world()
    a, b = await _pair(uow, c)
    uow.db.cases[a["id"]]["status"] = "resolved"  # open still: merge allowed
    uow.db.cases[a["id"]]["status"] = "closed"
    with pytest.raises(Conflict):
        await uc.confirm(uow, DISPATCHER, uc.Decision(b["id"]), sms=None, threshold=THRESHOLD)
    assert uow.db.cases[b["id"]]["merged_into"] is None and b["id"] not in uow.db.duplicate_reviews


# A labelled sample: reports of the same matter by different people (same place, own words) and reports
# of different matters of the same category at the same place (what place + time alone proposes).
ISSUES = {
    "lamp": ["{p}的路灯坏了，晚上一片漆黑", "{p}路灯不亮好几天了，晚上很黑", "反映{p}路灯不亮，夜里走路危险"],
    "rubbish": ["{p}垃圾堆放多日无人清理", "{p}的垃圾好几天没人清运，很臭", "{p}垃圾成堆无人清理，请处理"],
    "manhole": ["{p}井盖丢失，有人差点掉下去", "{p}的井盖不见了，非常危险", "{p}井盖缺失，请尽快补上"],
    "parking": ["{p}车辆乱停占用消防通道", "{p}消防通道被私家车占用", "{p}有车长期占用消防通道"],
    "noise": ["{p}工地夜间施工噪音扰民", "{p}工地晚上施工太吵睡不着", "{p}夜间施工噪音很大，影响休息"],
    "water": ["{p}水管爆裂，路面大量积水", "{p}自来水管破裂，水流满地", "{p}水管爆了，路上全是水"],
    "tree": ["{p}大树倒伏压住电线", "{p}的树被风吹倒，压到电线", "{p}倒下的树压着电线，很危险"],
    "stall": ["{p}流动摊贩占道经营", "{p}小商贩占用人行道摆摊", "{p}摊贩占道，行人无法通行"],
}
PLACES = ["外海大道12号", "麻一村口", "直冲市场东门", "金溪社区5栋"]


def labelled_pairs(seed: int = 17) -> list[tuple[str, str, bool]]:
    rnd = random.Random(seed)
    pairs = []
    for place in PLACES:
        for texts in ISSUES.values():
            for a, b in itertools.combinations(texts, 2):  # same matter, other words
                pairs.append((a.format(p=place), b.format(p=place), True))
        for k1, k2 in itertools.combinations(ISSUES, 2):  # other matters, same place
            pairs.append((rnd.choice(ISSUES[k1]).format(p=place), rnd.choice(ISSUES[k2]).format(p=place), False))
    return pairs


def test_precision_of_the_text_score_on_the_labelled_sample():
    pairs = labelled_pairs()
    flagged = [(a, b, same) for a, b, same in pairs if rules.likely(a, b, THRESHOLD)]
    tp = sum(1 for *_, same in flagged if same)
    positives = sum(1 for *_, same in pairs if same)
    precision, recall = tp / len(flagged), tp / positives
    print(f"duplicates: {len(pairs)} labelled pairs ({positives} same matter), threshold {THRESHOLD}: "
          f"precision {precision:.2f}, recall {recall:.2f}")
    # place + time alone proposes every pair: precision = the share of same-matter pairs
    assert positives / len(pairs) < 0.5
    assert precision >= 0.9 and recall >= 0.6
