"""A generated event history (intake, dispatch and mediation events of many cases) and a straightforward
recomputation of the figures analytics must report, written independently of the service's reducers:
group the events by case and order, look at all of them at once, count."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fengqiao_common.jurisdiction import Jurisdiction
from fengqiao_events import Envelope, new_envelope
from fengqiao_events.payloads import case as C
from fengqiao_events.payloads import mediation as M
from fengqiao_events.payloads import order as O
from fengqiao_events.payloads.common import Actor

ACTOR = Actor(id="u1", kind="user", role="dispatcher")
TZ = ZoneInfo("Asia/Shanghai")


def _env(payload, source: str) -> Envelope:
    return new_envelope(payload, source=source)


def generate(j: Jurisdiction, *, min_events: int = 10_000, seed: int = 7, now: datetime | None = None) -> list[Envelope]:
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    depts = [d for d in j.departments if d.role == "department"]
    refs = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(250)]
    out: list[Envelope] = []
    i = 0
    while len(out) < min_events:
        i += 1
        cid = str(uuid.UUID(int=rng.getrandbits(128)))
        no = f"T{i:05d}"
        dom = rng.choice(j.domains)
        grid = rng.choice(j.grids)
        t0 = now - timedelta(seconds=rng.uniform(0, 40 * 86400))
        wage = dom.code == "labour" and rng.random() < 0.4
        out.append(_env(C.GridEventReported(
            case_id=cid, case_no=no, channel=rng.choice(["grid_app", "petition", "external", "open311"]),
            category=dom.code, grade=rng.choice(["red", "orange", "yellow", "blue"]), grid=grid.code,
            community=grid.community, street="WH", district="JH", summary="工资拖欠" if wage else "邻里噪音",
            description="测试", people_involved=rng.choice([0, 1, 2, 3, 5, 12]),
            keywords=["欠薪"] if wage else [], reported_at=t0,
            requester_ref=rng.choice(refs) if rng.random() < 0.5 else None,
        ), "/fengqiao/intake"))
        if rng.random() < 0.05:
            out.append(_env(C.CaseRegraded(case_id=cid, case_no=no, old_grade="blue",
                                           new_grade=rng.choice(["red", "orange", "yellow", "blue"]), reason="r",
                                           by=ACTOR, at=t0 + timedelta(minutes=10)), "/fengqiao/intake"))
        if rng.random() < 0.01:
            out.append(_env(C.CaseMerged(case_id=cid, case_no=no, into_case_id=str(uuid.uuid4()), into_case_no="X",
                                         by=ACTOR, at=t0 + timedelta(minutes=20)), "/fengqiao/intake"))
        if rng.random() < 0.1:
            out.append(_env(O.CaseQueued(case_id=cid, case_no=no, reason="no rule", at=t0 + timedelta(minutes=1)),
                            "/fengqiao/dispatch"))
        resolved_ats: list[datetime] = []
        all_resolved = True
        n_orders = 0
        if rng.random() < 0.85:
            targets = [j.department(dom.lead)]
            if dom.assist and rng.random() < 0.3:
                targets.append(j.department(dom.assist[0]))
            queue = [(d, "lead" if k == 0 else "assist", True) for k, d in enumerate(targets)]
            while queue:
                dep, role, may_return = queue.pop(0)
                n_orders += 1
                oid = str(uuid.UUID(int=rng.getrandbits(128)))
                t = t0 + timedelta(minutes=5 + n_orders)
                ref = dict(order_id=oid, case_id=cid, case_no=no, department=dep.code)
                out.append(_env(O.OrderDispatched(
                    **ref, seq=1, at=t, department_name=dep.name, level=dep.level, role=role, category=dom.code,
                    grade="yellow", summary="s", description="d", grid=grid.code, community=grid.community,
                    deadlines=O.Deadlines(sign_for_by=t + timedelta(hours=2) if n_orders % 2 else None),
                    on_site_required=rng.random() < 0.8), "/fengqiao/dispatch"))
                if may_return and rng.random() < 0.05:
                    out.append(_env(O.OrderReturned(**ref, seq=2, at=t + timedelta(minutes=30), reason="不属本部门"),
                                    "/fengqiao/dispatch"))
                    queue.append((rng.choice([d for d in depts if d.code != dep.code]), role, False))
                    continue
                if rng.random() < 0.1:
                    out.append(_env(O.OrderReminded(**ref, seq=2, at=t + timedelta(minutes=40), stage="sign_for",
                                                    due_at=t + timedelta(hours=1)), "/fengqiao/dispatch"))
                missed = rng.random() < 0.15
                if missed:
                    out.append(_env(O.DeadlineMissed(**ref, seq=3, at=t + timedelta(hours=1), stage="sign_for",
                                                     due_at=t + timedelta(hours=1)), "/fengqiao/dispatch"))
                    if rng.random() < 0.3:
                        out.append(_env(O.OrderEscalated(**ref, seq=4, at=t + timedelta(hours=2), stage="sign_for",
                                                         due_at=t + timedelta(hours=1), level="street_leader"),
                                        "/fengqiao/dispatch"))
                resolved = False
                if rng.random() < 0.9:
                    ts = t + timedelta(minutes=rng.uniform(1, 300))
                    out.append(_env(O.OrderSigned(**ref, seq=5, at=ts, officer="张三", within_limit=rng.random() < 0.8),
                                    "/fengqiao/dispatch"))
                    if rng.random() < 0.7:
                        out.append(_env(O.DepartmentCheckedIn(**ref, seq=6, at=ts + timedelta(minutes=20),
                                                              officer="张三", within_limit=rng.random() < 0.75),
                                        "/fengqiao/dispatch"))
                    if rng.random() < 0.7:
                        tr = ts + timedelta(minutes=rng.uniform(30, 20000))
                        out.append(_env(O.OrderResolved(**ref, seq=7, at=tr, result="ok",
                                                        within_limit=rng.random() < 0.7), "/fengqiao/dispatch"))
                        resolved = True
                        resolved_ats.append(tr)
                        if rng.random() < 0.5:
                            out.append(_env(O.OrderVerified(**ref, seq=8, at=tr + timedelta(hours=1),
                                                            accepted=rng.random() < 0.9), "/fengqiao/dispatch"))
                all_resolved = all_resolved and resolved
        if n_orders and all_resolved:
            tr = max(resolved_ats) + timedelta(minutes=10)
            out.append(_env(O.CaseResolved(case_id=cid, case_no=no, at=tr), "/fengqiao/dispatch"))
            if rng.random() < 0.5:
                out.append(_env(O.CaseClosed(case_id=cid, case_no=no, at=tr + timedelta(hours=2)), "/fengqiao/dispatch"))
            if rng.random() < 0.6:
                rating = rng.choice(["satisfied", "basically_satisfied", "unsatisfied"])
                out.append(_env(C.CaseRated(case_id=cid, case_no=no, rating=rating, by=ACTOR, at=tr + timedelta(hours=1)),
                                "/fengqiao/intake"))
                if rating == "unsatisfied" and rng.random() < 0.6:
                    out.append(_env(C.CaseReopened(case_id=cid, case_no=no, reason="不满意", by=ACTOR,
                                                   at=tr + timedelta(hours=3)), "/fengqiao/intake"))
        if rng.random() < 0.1:
            mid = str(uuid.UUID(int=rng.getrandbits(128)))
            cat = rng.choice(j.mediation_categories).code
            tm = t0 + timedelta(days=1)
            mref = dict(mediation_id=mid, case_id=cid, category=cat)
            out.append(_env(O.MediationReferred(referral_id=mid, case_id=cid, case_no=no, category=cat, summary="s",
                                                at=tm), "/fengqiao/dispatch"))
            out.append(_env(M.MediationBooked(**mref, at=tm, booking_id=mid, mediator_id="m1", starts_at=tm,
                                              ends_at=tm + timedelta(hours=1),
                                              mode="home" if rng.random() < 0.3 else "centre"), "/fengqiao/mediation"))
            out.append(_env(M.SessionSealed(**mref, at=tm, session_id=mid, seq=1, record_hash="h"), "/fengqiao/mediation"))
            if rng.random() < 0.6:
                out.append(_env(M.AgreementGenerated(**mref, at=tm, agreement_id=mid, sha256="x"), "/fengqiao/mediation"))
                out.append(_env(M.JudicialApplied(**mref, at=tm, application_id=mid, court="QFY"), "/fengqiao/mediation"))
                if rng.random() < 0.8:
                    out.append(_env(M.MediationConfirmed(**mref, at=tm, application_id=mid, court="QFY", ruling_no="R1"),
                                    "/fengqiao/mediation"))
                else:
                    out.append(_env(M.JudicialRejected(**mref, at=tm, application_id=mid, reason="r"),
                                    "/fengqiao/mediation"))
            else:
                out.append(_env(M.MediationFailed(**mref, at=tm, handed_to="litigation"), "/fengqiao/mediation"))
        if i % 25 == 0:  # a grid worker's weak-signal report
            g = rng.choice(j.grids)
            out.append(_env(C.WeakSignalReported(
                signal_id=str(uuid.UUID(int=rng.getrandbits(128))), grid=g.code, community=g.community,
                category=rng.choice(j.domains).code, summary="苗头", description="d",
                people_involved=rng.choice([0, 3, 15]),
                reported_at=now - timedelta(seconds=rng.uniform(0, 40 * 86400))), "/fengqiao/intake"))
    return out


# --- the straightforward recomputation -------------------------------------------------------------------
def recompute(envs: list[Envelope], j: Jurisdiction, today: date, *, repeat_count=3, repeat_days=7,
              people_count=10, conversion_days=30) -> dict:
    unique = {e.id: e for e in envs}.values()
    by_topic: dict[str, list] = defaultdict(list)
    for e in unique:
        by_topic[e.topic].append(e.payload())
    reports = {p.case_id: p for p in by_topic["grid.event.reported"]}
    orders: dict[str, dict] = defaultdict(lambda: {"events": defaultdict(list)})
    for topic in ("order.dispatched", "order.signed", "department.checked-in", "order.resolved", "order.returned",
                  "order.verified", "deadline.missed", "order.escalated", "order.reminded"):
        for p in by_topic[topic]:
            orders[p.order_id]["events"][topic].append(p)
            orders[p.order_id]["case_id"] = p.case_id
            orders[p.order_id]["department"] = p.department

    def order_facts(o):
        ev = o["events"]
        f = {"department": o["department"], "case_id": o["case_id"], "dispatched": bool(ev["order.dispatched"]),
             "returned": bool(ev["order.returned"]), "missed": bool(ev["deadline.missed"]),
             "escalated": bool(ev["order.escalated"])}
        f["on_site_required"] = ev["order.dispatched"][0].on_site_required if ev["order.dispatched"] else True
        f["dispatched_at"] = ev["order.dispatched"][0].at if ev["order.dispatched"] else None
        s = sorted(ev["order.signed"], key=lambda p: p.at)
        f["signed"], f["sign_within"] = bool(s), bool(s) and s[0].within_limit
        deadline = ev["order.dispatched"][0].deadlines.sign_for_by if ev["order.dispatched"] else None
        f["signed_in_time"] = bool(s) and (s[0].at <= deadline if deadline else s[0].within_limit)
        ci = sorted(ev["department.checked-in"], key=lambda p: p.at)
        f["checkin_within"] = bool(ci) and ci[0].within_limit
        r = sorted(ev["order.resolved"], key=lambda p: p.seq)
        f["resolved_at"] = r[-1].at if r else None
        f["resolve_within"] = bool(r) and r[-1].within_limit
        v = sorted(ev["order.verified"], key=lambda p: p.seq)
        rejected_after = bool(v) and not v[-1].accepted and (not r or v[-1].seq > r[-1].seq)
        f["open"] = not f["returned"] and (f["resolved_at"] is None or rejected_after)
        return f

    ofacts = [order_facts(o) for o in orders.values()]
    by_case_orders: dict[str, list] = defaultdict(list)
    for f in ofacts:
        by_case_orders[f["case_id"]].append(f)

    idx: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for topic in ("case.regraded", "case.merged", "case.rated", "case.reopened", "case.queued", "case.resolved",
                  "case.closed"):
        for p in by_topic[topic]:
            idx[p.case_id][topic].append(p)

    cases = {}
    for cid, rep in reports.items():
        ev = idx[cid]
        grade = rep.grade
        regr = sorted(ev["case.regraded"], key=lambda p: p.at)
        if regr and regr[-1].at >= rep.reported_at:
            grade = regr[-1].new_grade
        reopened = max((p.at for p in ev["case.reopened"]), default=None)
        closed = max((p.at for p in ev["case.closed"]), default=None)
        resolved = max((p.at for p in ev["case.resolved"]), default=None)
        active = [f for f in by_case_orders[cid] if f["dispatched"] and not f["returned"]]
        if ev["case.merged"]:
            status = "merged"
        elif closed and (reopened is None or closed > reopened):
            status = "closed"
        elif resolved and (reopened is None or resolved > reopened):
            status = "resolved"
        elif active:
            status = "in_progress"
        elif ev["case.queued"]:
            status = "queued"
        else:
            status = "reported"
        last_rating = max(ev["case.rated"], key=lambda p: p.at) if ev["case.rated"] else None
        rating = last_rating.rating if last_rating else None
        cases[cid] = {
            "category": rep.category, "grade": grade, "grid": rep.grid, "community": rep.community,
            "channel": rep.channel, "day": rep.reported_at.astimezone(TZ).date(), "status": status,
            "open": status in ("reported", "queued", "in_progress"), "people": rep.people_involved,
            "overdue": any(f["missed"] and f["open"] for f in by_case_orders[cid]),
            "departments": sorted({f["department"] for f in active}), "rating": rating,
            "returns": len([f for f in by_case_orders[cid] if f["returned"]]), "reopens": len(ev["case.reopened"]),
            "escalations": sum(f["escalated"] for f in by_case_orders[cid]),
            "rated_at": last_rating.at if last_rating else None,
            "reported_at": rep.reported_at, "resolved_day": resolved.astimezone(TZ).date().isoformat()
            if status in ("resolved", "closed") and resolved else None,
        }

    truth: dict = {"total": len(cases), "today": sum(1 for c in cases.values() if c["day"] == today),
                   "open": sum(c["open"] for c in cases.values()),
                   "overdue": sum(1 for c in cases.values() if c["open"] and c["overdue"])}
    for dim in ("category", "grade", "channel", "grid", "community", "status"):
        truth[f"by_{dim}"] = dict(Counter(c[dim] for c in cases.values()))
    truth["open_by_grid"] = dict(Counter(c["grid"] for c in cases.values() if c["open"]))
    labels = [(today - timedelta(days=k)).isoformat() for k in range(29, -1, -1)]
    rep_days = Counter(c["day"].isoformat() for c in cases.values())
    res_days = Counter(c["resolved_day"] for c in cases.values() if c["resolved_day"])
    truth["trend"] = [(d, rep_days.get(d, 0), res_days.get(d, 0)) for d in labels]

    depts: dict[str, dict] = {}
    for code in {f["department"] for f in ofacts}:
        fs = [f for f in ofacts if f["department"] == code]
        disp = [f for f in fs if f["dispatched"]]
        ttr = sorted((f["resolved_at"] - f["dispatched_at"]).total_seconds() for f in fs
                     if f["resolved_at"] and f["dispatched_at"])
        rated = [c for c in cases.values() if code in c["departments"] and c["rating"]]
        depts[code] = {
            "dispatched": len(disp), "signed_within": sum(f["sign_within"] for f in fs),
            "resolved": sum(1 for f in fs if f["resolved_at"]), "returned": sum(f["returned"] for f in fs),
            "on_site_required": sum(1 for f in disp if f["on_site_required"] and not f["returned"]),
            "on_site_within": sum(1 for f in disp if f["on_site_required"] and not f["returned"] and f["checkin_within"]),
            "rated": len(rated), "satisfied": sum(1 for c in rated if c["rating"] != "unsatisfied"),
            "overdue": sum(f["missed"] for f in fs), "escalated": sum(f["escalated"] for f in fs),
            "cases": sum(1 for c in cases.values() if code in c["departments"]),
            "mean_ttr": (sum(ttr) / len(ttr)) if ttr else None,
            "p90_ttr": ttr[math.ceil(0.9 * len(ttr)) - 1] if ttr else None,
        }
    truth["departments"] = depts
    truth["rates"] = recompute_rates(ofacts, cases)

    truth["mediation"] = {
        "bookings": len(by_topic["mediation.booked"]), "sessions": len(by_topic["session.sealed"]),
        "agreements": len(by_topic["agreement.generated"]), "judicial_applied": len(by_topic["judicial.applied"]),
        "judicial_confirmed": len(by_topic["mediation.confirmed"]),
        "judicial_rejected": len(by_topic["judicial.rejected"]), "failed": len(by_topic["mediation.failed"]),
        "referred": len(by_topic["mediation.referred"]),
        "home_visits": sum(1 for p in by_topic["mediation.booked"] if p.mode == "home"),
    }

    # weak signals of the simple rules
    windows = Counter((c["grid"], c["category"], c["day"].toordinal() // repeat_days) for c in cases.values())
    conv = timedelta(days=conversion_days)
    became = 0
    for s in by_topic["weak-signal.reported"]:
        if any(c["grid"] == s.grid and c["category"] == s.category
               and s.reported_at < c["reported_at"] <= s.reported_at + conv for c in cases.values()):
            became += 1
    cases_with_orders_only = {f["case_id"] for f in ofacts} - set(cases)
    truth["signals"] = {
        "repeat_domain_grid": sum(1 for n in windows.values() if n >= repeat_count),
        "many_people": sum(1 for c in cases.values() if c["people"] >= people_count),
        "escalation": sum(1 for c in cases.values() if c["escalations"] >= 1),
        "return_reopen": sum(1 for c in cases.values() if c["returns"] + c["reopens"] >= 2),
        "grid_report": len(by_topic["weak-signal.reported"]),
        "became_cases": became,
    }
    assert not cases_with_orders_only
    return truth


def _periods(t: datetime) -> list[str]:
    d = t.astimezone(TZ).date()
    y, w, _ = d.isocalendar()
    return [f"{y}-W{w:02d}", d.strftime("%Y-%m"), str(d.year)]


def recompute_rates(ofacts: list[dict], cases: dict[str, dict]) -> dict[tuple[str, str], dict]:
    """(period, department) -> the counts of the three rates (issue #17): orders by dispatch period, ratings
    by the period of the latest rating, for each department with a standing order on the case."""
    out: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for f in ofacts:
        if f["dispatched"] and f["dispatched_at"]:
            for p in _periods(f["dispatched_at"]):
                c = out[(p, f["department"])]
                c["dispatched"] += 1
                c["signed_in_time"] += f["signed_in_time"]
                c["returned"] += f["returned"]
    for case in cases.values():
        if case["rating"]:
            for d in case["departments"]:
                for p in _periods(case["rated_at"]):
                    c = out[(p, d)]
                    c["rated"] += 1
                    c["satisfied"] += case["rating"] in ("satisfied", "basically_satisfied")
                    c["solved"] += case["rating"] != "unsatisfied"  # no explicit answer in these events
    return {k: dict(v) for k, v in out.items()}
