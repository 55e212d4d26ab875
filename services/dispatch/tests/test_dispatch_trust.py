"""Issue #15 part 5 against the running service, the real broker and the real consumer: a forged
``mediation.confirmed`` (written by someone other than mediation, the topic's owner) is dead-lettered with
the reason in its headers and never closes the case; the genuine one does."""

import uuid
from datetime import UTC, datetime

from dispatch_testkit import DISPATCHER
from fengqiao_devstack.testing import EventProbe, eventually, publish
from fengqiao_events import new_envelope
from fengqiao_events.payloads.mediation import MediationConfirmed


async def test_a_forged_mediation_confirmed_is_dead_lettered_and_does_not_close_the_case(dispatch, clock):
    c = dispatch.client
    bootstrap = dispatch.settings.kafka_bootstrap_servers
    p = await dispatch.report(category="family", grade="blue")
    await dispatch.orders_of(p.case_id)
    r = await c.post(f"/api/v1/dispatch/cases/{p.case_id}/mediation", headers=DISPATCHER, json={})
    assert r.status_code == 201, r.text
    await dispatch.wait_case(p.case_id, lambda x: x["status"] == "mediation")

    def confirmed() -> MediationConfirmed:
        return MediationConfirmed(mediation_id="m-" + uuid.uuid4().hex[:8], case_id=p.case_id, category="family",
                                  at=datetime.now(UTC), application_id="a1", court="QFY",
                                  ruling_no="(2026)粤0704民特1号")

    forged = [new_envelope(confirmed(), source="/fengqiao/intake"), new_envelope(confirmed(), source="/attacker")]
    async with EventProbe(bootstrap, ["mediation.confirmed.dlq"]) as dlq:
        await publish(bootstrap, *forged)
        ids = {e.id for e in forged}
        await eventually(lambda: ids <= {e.id for e in dlq.envelopes()}, timeout=30)
    for rec, env in dlq.events:
        if env is not None and env.id in ids:
            h = dict(rec.headers)
            assert h["dlq_reason"] == b"untrusted-source" and h["dlq_consumer"] == dispatch.settings.consumer_group.encode()
            assert env.source.encode() in h["dlq_error"] and b"/fengqiao/mediation" in h["dlq_error"]
    # both were read (dead-lettered) and neither was applied
    case = await dispatch.case(p.case_id)
    assert case["status"] == "mediation", case

    genuine = new_envelope(confirmed(), source="/fengqiao/mediation")
    async with dispatch.probe() as probe:
        await publish(bootstrap, genuine)
        await dispatch.wait_case(p.case_id, lambda x: x["status"] == "closed")
        await probe.wait_for(lambda e: e.type == "cn.fengqiao.case.closed" and e.subject == p.case_id)
