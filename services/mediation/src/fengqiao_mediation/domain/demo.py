"""The demo mediator pool: the 65 mediators of the seed, generated deterministically (same output every run).

Mix from the jurisdiction file (pool_mix): deputies and committee members (两代表一委员), public officials,
cross-river mediators (江中跨界调解员). Names are invented fillers.
"""

from __future__ import annotations

SURNAMES = "陈李黄张梁林何吴刘邓冯谭麦关区余罗钟周郑赵杨胡朱容甄"
GIVEN = ["伟明", "秀英", "志强", "丽华", "国荣", "美玲", "建华", "淑贞", "家豪", "嘉欣", "永康", "惠芳", "锦标",
         "翠萍", "振邦", "月娥", "耀祖", "桂兰", "少华", "玉珍", "焯文", "婉仪", "德辉"]
KIND_OF_MIX = {
    "deputies_and_members": "deputy_member",
    "public_officials": "public_official",
    "cross_river_mediators": "cross_river",
}
# weekly patterns: (weekdays, [(start, end), ...])
PATTERNS = [
    ((0, 1, 2, 3, 4), [("09:00", "12:00"), ("14:30", "17:30")]),
    ((0, 2, 4), [("09:00", "12:00")]),
    ((1, 3), [("14:30", "17:30")]),
    ((0, 1, 2, 3, 4, 5), [("09:00", "12:00")]),
    ((5, 6), [("09:00", "12:00"), ("14:00", "17:00")]),
]


def demo_mediators(pool_mix: dict[str, int], categories: list[str], dialects: list[str]) -> list[dict]:
    out: list[dict] = []
    n = 0
    for mix_key, count in pool_mix.items():
        kind = KIND_OF_MIX.get(mix_key, mix_key)
        for _ in range(count):
            n += 1
            name = SURNAMES[(n * 7) % len(SURNAMES)] + GIVEN[(n * 5) % len(GIVEN)]
            k = len(categories)
            cats = sorted({categories[n % k], categories[(n * 3 + 1) % k]} | (
                {categories[(n * 5 + 2) % k]} if n % 3 == 0 else set()))
            if kind == "cross_river" and "neighbour" in categories and "neighbour" not in cats:
                cats.append("neighbour")  # cross-river mediators handle boundary and neighbour disputes
            dia = [d for i, d in enumerate(dialects) if i == 0 or (i == 1 and n % 5 != 0) or (i >= 2 and n % 4 == i % 4)]
            days, spans = PATTERNS[n % len(PATTERNS)]
            out.append({
                "id": f"M{n:03d}",
                "name": name,
                "kind": kind,
                "gender": "female" if n % 2 == 0 else "male",
                "categories": sorted(cats),
                "dialects": dia,
                "capacity": 3 + n % 4,
                "outreach": n % 6 != 0,
                "weekly": [{"weekday": d, "start": s, "end": e} for d in days for s, e in spans],
                "relations": [],
            })
    return out


# The demo mediation the demo logins walk (make run): the gateway's demo user ``party`` carries party_id P001,
# ``mediator`` mediator_id M001. One session is recorded and awaits every signature, so a party can sign
# through its own login (P001) or a one-time code (P002: the development SMS sender shows the code).
DEMO_MEDIATION_ID = "DEMO-MED-0001"
DEMO_SESSION_ID = "DEMO-SES-0001"


def demo_mediation(mediator: dict, now) -> tuple[dict, list[dict], dict]:
    """(mediation, parties, session) rows for the demo mediation of ``mediator`` (M001), recorded at ``now``."""
    from datetime import timedelta

    category = mediator["categories"][0]
    med = {"id": DEMO_MEDIATION_ID, "case_id": None, "case_no": "DEMO-0001", "referral_id": None,
           "source": "walk_in", "external_system": None, "category": category,
           "summary": "演示案件：工资结算纠纷，双方已在调解室达成一致，待各方签名确认调解记录。", "status": "in_progress",
           "mediator_id": mediator["id"], "handed_to": None, "outcome": None, "created_at": now, "updated_at": now}
    parties = [
        {"id": "P001", "mediation_id": DEMO_MEDIATION_ID, "side": "applicant", "name": "冯演示", "phone": "13800138001",
         "organisation": None, "position": 0},
        {"id": "P002", "mediation_id": DEMO_MEDIATION_ID, "side": "respondent", "name": "谭演示",
         "phone": "13800138002", "organisation": "演示五金厂", "position": 1},
    ]
    session = {"id": DEMO_SESSION_ID, "mediation_id": DEMO_MEDIATION_ID, "seq": 1, "booking_id": None,
               "started_at": now - timedelta(hours=2), "ended_at": now - timedelta(hours=1), "place": "街道人民调解室",
               "attendees": ["冯演示", "谭演示", mediator["name"]],
               "points_agreed": ["被申请人于本月底前一次性支付拖欠工资人民币八千元"], "points_outstanding": [],
               "notes": "演示记录", "status": "open", "created_at": now}
    return med, parties, session
