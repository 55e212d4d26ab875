"""Issue #15 part 5 in the library: order events also go to their department's topic (with the private
fields only there), consumers accept a topic's events only from its owner, Kafka clients take SASL settings."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from fengqiao_devstack.testing import EventProbe, eventually, publish
from fengqiao_events import EventConsumer, Outbox, OutboxRelay, all_specs, new_envelope, spec_for_topic
from fengqiao_events.kafka import KafkaSecurity, consumer_config, producer_config
from fengqiao_events.outbox import outbox_row, outbox_rows
from fengqiao_events.payloads.common import Location
from fengqiao_events.payloads.mediation import MediationConfirmed
from fengqiao_events.payloads.order import CaseQueued, OrderDispatched, OrderSigned
from fengqiao_events.registry import department_topic, owner_of_topic, trusted_sources
from fengqiao_events.topics_cli import department_codes, plan
from sqlalchemy import text
from test_outbox_consumer import dsn, running

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _order(department: str = "RSS", case_id: str = "c1") -> OrderDispatched:
    return OrderDispatched(
        order_id=f"o-{uuid.uuid4().hex[:6]}", case_id=case_id, case_no="WH-20261201-0001", department=department,
        department_name="外海人社所", level="street", role="lead", category="labour", grade="red",
        summary="张三欠薪", description="张三 13800000000 工厂门口讨薪", grid="G01", community="C01",
        location=Location(lat=22.51234, lon=113.07321, address="外海大道1号"), at=AT,
        deadlines={"sign_for_by": AT},
    )


# --- unit -------------------------------------------------------------------------------------------

def test_an_order_event_is_two_rows_core_without_personal_data_and_the_departments_with_everything():
    env = new_envelope(_order(), source="/fengqiao/dispatch")
    core, dept = outbox_rows(env)
    assert outbox_row(env) == core
    assert core["topic"] == "order.dispatched" and dept["topic"] == "dept.rss.orders"
    assert core["event_id"] == env.id and dept["event_id"] == f"{env.id}@dept.rss.orders"
    assert core["headers"] == dept["headers"] and core["key"] == dept["key"] == "c1" and core["lane"] == dept["lane"]
    public, full = json.loads(core["value"]), json.loads(dept["value"])
    assert full == env.data
    for name in ("summary", "description", "location"):
        assert name not in public
    raw = core["value"].decode()
    assert "张三" not in raw and "1380000" not in raw and "外海大道" not in raw and "22.51" not in raw
    for name in ("case_no", "category", "grade", "grid", "community", "deadlines", "order_id", "case_id",
                 "department", "department_name", "level", "role", "seq", "at"):
        assert name in public, name
    headers = dict(core["headers"])
    assert headers["ce_department"] == "RSS" and headers["ce_type"] == "cn.fengqiao.order.dispatched"
    # the core record still validates as the payload (what intake and analytics read from it)
    assert OrderDispatched.model_validate(public).grade == "red"


def test_every_order_event_goes_to_the_department_topic_and_other_events_do_not():
    signed = new_envelope(OrderSigned(order_id="o1", case_id="c1", department="PCS", at=AT, officer="u1"),
                          source="/fengqiao/dispatch")
    rows = outbox_rows(signed)
    assert [r["topic"] for r in rows] == ["order.signed", "dept.pcs.orders"]
    assert rows[0]["value"] == rows[1]["value"]  # nothing private in a sign-for
    queued = new_envelope(CaseQueued(case_id="c1", reason="r", at=AT), source="/fengqiao/dispatch")
    assert [r["topic"] for r in outbox_rows(queued)] == ["case.queued"]
    per_dept = {s.topic for s in all_specs() if s.per_department}
    assert per_dept == {s.topic for s in all_specs() if s.order_field and "department" in s.extensions}
    assert {s.topic for s in all_specs() if s.private} == {"order.dispatched"}


def test_topics_are_planned_for_every_department_of_the_jurisdiction():
    codes = department_codes()
    assert "RSS" in codes and "PCS" in codes and len(codes) >= 10
    dept = {t.name: t for t in plan() if t.department}
    assert set(dept) == {department_topic(c) for c in codes}
    assert all(t.owner == "dispatch" and t.config["retention.ms"] == str(30 * 24 * 3600 * 1000)
               for t in dept.values())
    with pytest.raises(ValueError):
        department_topic("RSS.orders")  # a code cannot reach into another topic name


def test_a_topics_trusted_source_is_its_owner():
    assert trusted_sources("mediation.confirmed") == {"/fengqiao/mediation"}
    assert trusted_sources("order.dispatched") == {"/fengqiao/dispatch"}
    assert trusted_sources("grid.event.reported") == {"/fengqiao/intake"}
    assert owner_of_topic("dept.rss.orders") == "dispatch" and owner_of_topic("case.merged.dlq") == "intake"
    for s in all_specs():
        assert trusted_sources(s.topic) == {f"/fengqiao/{s.owner}"}
    with pytest.raises(KeyError):
        trusted_sources("made.up")


def test_kafka_clients_are_plaintext_by_default_and_take_sasl_scram_settings():
    assert KafkaSecurity().client_kwargs() == {}
    assert "security_protocol" not in producer_config("b:9092", "c")
    assert "sasl_mechanism" not in consumer_config("b:9092", "g", "c")
    sec = KafkaSecurity.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "fengqiao-dispatch",
                                  "KAFKA_SASL_PASSWORD": "pw"})
    assert sec.sasl_mechanism == "SCRAM-SHA-512"
    kw = consumer_config("b:9092", "g", "c", security=sec)
    assert (kw["security_protocol"], kw["sasl_mechanism"], kw["sasl_plain_username"], kw["sasl_plain_password"]) == \
        ("SASL_PLAINTEXT", "SCRAM-SHA-512", "fengqiao-dispatch", "pw")
    tls = KafkaSecurity(protocol="SASL_SSL", username="u", password="p")
    assert tls.client_kwargs()["ssl_context"] is not None
    with pytest.raises(ValueError, match="username and a password"):
        KafkaSecurity(protocol="SASL_SSL", username="u")
    with pytest.raises(ValueError):
        KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="GSSAPI", username="u", password="p")


# --- real broker ------------------------------------------------------------------------------------

async def test_relay_publishes_the_department_copy_on_the_departments_topic(event_db, producer, kafka_bootstrap):
    url, _engine, sessions = event_db
    order = _order("SFS", case_id=f"c-{uuid.uuid4().hex[:8]}")
    async with EventProbe(kafka_bootstrap, ["order.dispatched", "dept.sfs.orders", "dept.rss.orders"]) as probe:
        async with sessions() as s, s.begin():
            (env,) = await Outbox("/fengqiao/dispatch").add(s, order)
        relay = OutboxRelay(dsn(url), producer, service="trust-test", poll_interval=0.2)
        async with running(relay):
            await eventually(lambda: probe.envelopes("order.dispatched") and probe.envelopes("dept.sfs.orders"),
                             timeout=30)
    core = next(e for e in probe.envelopes("order.dispatched") if e.subject == order.case_id)
    dept = next(e for e in probe.envelopes("dept.sfs.orders") if e.subject == order.case_id)
    assert core.id == dept.id == env.id and dept.extensions["department"] == "SFS"
    assert dept.data["description"] == order.description and dept.data["location"]["address"] == "外海大道1号"
    assert "description" not in core.data and "location" not in core.data and "summary" not in core.data
    assert not [e for e in probe.envelopes("dept.rss.orders") if e.subject == order.case_id]


async def test_a_forged_event_is_dead_lettered_not_applied_nor_marked(event_db, producer, kafka_bootstrap):
    _url, engine, sessions = event_db
    topic = "mediation.confirmed"
    applied: list[str] = []

    async def handler(session, env, payload):
        applied.append(env.id)
        await session.execute(text("INSERT INTO effects (event_id, key) VALUES (:e, :k)"),
                              {"e": env.id, "k": payload.mediation_id})

    def confirmed(mid: str) -> MediationConfirmed:
        return MediationConfirmed(mediation_id=mid, case_id=f"case-{mid}", category="labour", at=AT, application_id="a1", court="QFY",
                                  ruling_no="(2026)粤0704民特1号")

    assert spec_for_topic(topic).owner == "mediation"
    mark = uuid.uuid4().hex[:8]
    forged_intake = new_envelope(confirmed(f"{mark}-1"), source="/fengqiao/intake")
    forged_unknown = new_envelope(confirmed(f"{mark}-2"), source="/somewhere/else")
    genuine = new_envelope(confirmed(f"{mark}-3"), source="/fengqiao/mediation")
    consumer = EventConsumer(name=f"g-{uuid.uuid4().hex[:6]}", bootstrap=kafka_bootstrap, session_factory=sessions,
                             handlers={topic: handler}, producer=producer, trusted_sources=trusted_sources)
    async with EventProbe(kafka_bootstrap, [topic + ".dlq"]) as dlq, running(consumer):
        await eventually(lambda: consumer.ready.is_set(), timeout=30)
        await publish(kafka_bootstrap, forged_intake, forged_unknown, genuine)
        await eventually(lambda: genuine.id in applied, timeout=30)

        async def committed():
            async with engine.connect() as c:
                return await c.scalar(text("SELECT count(*) FROM processed_events WHERE event_id = :e"),
                                      {"e": genuine.id}) == 1

        await eventually(committed, timeout=30)  # the handler ran: wait for the consumer's commit
        await eventually(lambda: len([e for _r, e in dlq.events if e and e.id in {forged_intake.id, forged_unknown.id}])
                         == 2, timeout=30)
    assert applied == [genuine.id]
    by_id = {e.id: dict(r.headers) for r, e in dlq.events if e is not None}
    for forged in (forged_intake, forged_unknown):
        h = by_id[forged.id]
        assert h["dlq_reason"] == b"untrusted-source"
        assert forged.source.encode() in h["dlq_error"] and b"/fengqiao/mediation" in h["dlq_error"]
        assert h["dlq_origin_topic"] == topic.encode() and h["dlq_attempts"] == b"0"
    async with engine.connect() as c:
        keys = {r[0] for r in await c.execute(text("SELECT key FROM effects"))}
        marked = {r[0] for r in await c.execute(text("SELECT event_id FROM processed_events"))}
    assert keys == {f"{mark}-3"}
    assert marked == {genuine.id}, "a forged id is not marked processed: it cannot shadow the real event"
