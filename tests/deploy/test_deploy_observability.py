"""Every metric named in the alert rules and the Grafana dashboard is exported: each service app runs
in-process (real PostgreSQL, real broker), its relay and consumers do real work (a poison record is
dead-lettered by each consumer group), and its own /metrics is scraped."""

from __future__ import annotations

import importlib
import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from fengqiao_devstack.postgres import free_port
from fengqiao_devstack.testing import SERVICES, eventually

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "deploy" / "observability"
# Present in every service's own scrape, labelled with that service.
PER_SERVICE = ("fq_http_request_duration_seconds_bucket", "fq_http_requests_total", "fq_outbox_backlog",
               "fq_outbox_oldest_age_seconds", "fq_outbox_lanes_owned")
PER_CONSUMER = ("fq_consumer_lag", "fq_dlq_messages_total", "fq_events_consumed_total", "fq_event_handle_seconds_bucket")
_NAME = re.compile(r"\b(fq_[a-z0-9_]+)\b")


def referenced_metrics() -> set[str]:
    exprs = [r["expr"] for g in yaml.safe_load((OBS / "alerts.yaml").read_text())["groups"] for r in g["rules"]]
    dash = json.loads((OBS / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    return {m for e in exprs for m in _NAME.findall(e)}


def exported_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def is_exported(name: str, names: set[str]) -> bool:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return name in names or base in names


def has_series(text: str, name: str, label: str, value: str) -> bool:
    return re.search(rf'^{re.escape(name)}{{[^}}]*{label}="{re.escape(value)}"', text, re.M) is not None


def test_rules_and_dashboard_name_the_expected_series():
    refs = referenced_metrics()
    assert {"fq_outbox_oldest_age_seconds", "fq_consumer_lag", "fq_dlq_messages_total",
            "fq_dispatch_orders_overdue", "fq_http_request_duration_seconds_bucket"} <= refs
    assert {"fq_dispatch_orders_overdue", "fq_dispatch_timers_due"} <= refs


@pytest.mark.parametrize("service", SERVICES)
async def test_service_exports_the_named_series(service, service_settings, kafka_bootstrap):
    mod = importlib.import_module(f"fengqiao_{service}.main")
    cfg = importlib.import_module(f"fengqiao_{service}.config")
    settings = await service_settings(cfg.Settings, service, suffix="metrics")
    metrics_url = "/metrics"
    if service == "gateway":  # the public port serves no metrics: they are on their own internal port
        port = free_port()
        settings = settings.model_copy(update={"metrics_port": port, "metrics_host": "127.0.0.1"})
        metrics_url = f"http://127.0.0.1:{port}/metrics"
    app = mod.create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        runtime = app.state.runtime
        groups = [spec.name for spec in runtime.specs()]
        poison: dict[str, tuple[TopicPartition, int]] = {}
        if groups:
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for spec in runtime.specs():
                    topic = sorted(spec.handlers)[0]
                    md = await producer.send_and_wait(topic, value=b"not a cloudevent", key=uuid.uuid4().hex.encode())
                    poison[spec.name] = (TopicPartition(topic, md.partition), md.offset)
            finally:
                await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()

        async def committed() -> bool:
            # the poison record's offset is committed, so no later test in the same group sees it again
            for group, (tp, offset) in poison.items():
                got = (await admin.list_consumer_group_offsets(group, partitions=[tp])).get(tp)
                if got is None or got.offset <= offset:
                    return False
            return True

        async def scraped():
            if metrics_url.startswith("http"):
                async with httpx.AsyncClient() as internal:
                    text = (await internal.get(metrics_url)).text
            else:
                text = (await client.get(metrics_url)).text
            ok = all(has_series(text, n, "service", service) for n in PER_SERVICE) and all(
                has_series(text, n, "consumer", g) for g in groups for n in PER_CONSUMER)
            if service == "dispatch":  # refreshed by the timer loop, one series per department
                ok = ok and has_series(text, "fq_dispatch_orders_overdue", "department", "RSS") and \
                    re.search(r"^fq_dispatch_timers_due ", text, re.M) is not None
            return text if ok and await committed() else None

        try:
            text = await eventually(scraped, timeout=60, interval=0.3)
        finally:
            await admin.close()
    names = exported_names(text)
    # a service's own business series (fq_<service>_*) are checked on that service only
    mine = {m for m in referenced_metrics()
            if not any(m.startswith(f"fq_{other}_") for other in SERVICES if other != service)}
    missing = {m for m in mine if not is_exported(m, names)}
    assert not missing, f"{service} does not export {sorted(missing)}"

