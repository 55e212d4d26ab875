"""Unit tests of fengqiao_common.tracing (in-memory span exporter; no collector, no broker)."""

import httpx
import pytest
from fastapi import FastAPI
from fengqiao_common import tracing
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter():
    tracing.shutdown_tracing()
    exp = InMemorySpanExporter()
    tracing.configure_tracing("unit", exporter=exp, set_global=False)
    yield exp
    tracing.shutdown_tracing()


@pytest.fixture
def tracing_off():
    tracing.shutdown_tracing()
    yield
    tracing.shutdown_tracing()


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, None),
        ({"FQ_TRACING": "off", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/v1/traces"}, "otlp"),
        ({"FQ_TRACING": "console"}, "console"),
        ({"FQ_TRACING": "OTLP"}, "otlp"),
    ],
)
def test_tracing_mode_from_environment(env, mode):
    assert tracing.tracing_mode(env) == mode


def test_unknown_tracing_mode_is_refused():
    with pytest.raises(ValueError, match="FQ_TRACING"):
        tracing.tracing_mode({"FQ_TRACING": "jaeger"})


def test_off_by_default_configures_nothing(tracing_off, monkeypatch):
    for name in ("FQ_TRACING", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure_tracing("unit") is None
    assert not tracing.enabled()
    assert tracing.instrument_app(FastAPI(), "unit") is False
    assert tracing.instrument_httpx() is False
    headers = [("ce_id", b"1")]
    assert tracing.inject_kafka_headers(headers) == headers


def test_off_still_passes_incoming_context_through(tracing_off):
    with tracing.consume_span("grp", "order.dispatched", [("ce_traceparent", PARENT.encode())]) as span:
        assert span is None
        out = dict(tracing.inject_kafka_headers([]))
    assert out["ce_traceparent"].decode() == PARENT
    assert tracing.inject_kafka_headers([]) == []


def test_console_mode_builds_a_provider(tracing_off):
    provider = tracing.configure_tracing("unit", env={"FQ_TRACING": "console"}, set_global=False)
    assert provider is not None and tracing.enabled()
    assert provider.resource.attributes["service.name"] == "fengqiao-unit"


def test_inject_and_extract_round_trip(exporter):
    tracer = tracing.get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        headers = tracing.inject_kafka_headers([("ce_id", b"e1"), ("ce_traceparent", b"stale")])
        ctx = span.get_span_context()
    names = [k for k, _ in headers]
    assert names.count("ce_traceparent") == 1
    tp = dict(headers)["ce_traceparent"].decode()
    assert tp == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    extracted = trace.get_current_span(tracing.extract_kafka_context(headers)).get_span_context()
    assert extracted.trace_id == ctx.trace_id and extracted.span_id == ctx.span_id and extracted.is_remote


def test_consume_span_is_child_of_the_record_and_propagates_to_follow_up_events(exporter):
    headers = [("ce_traceparent", PARENT.encode()), ("ce_tracestate", b"fq=1")]
    with tracing.consume_span("dispatch-intake", "grid.event.reported", headers, event_id="e-1") as span:
        follow_up = dict(tracing.inject_kafka_headers([]))
        own = span.get_span_context()
    (finished,) = exporter.get_finished_spans()
    assert finished.kind == SpanKind.CONSUMER
    assert finished.name == "grid.event.reported process"
    assert f"{finished.context.trace_id:032x}" == TRACE_ID
    assert f"{finished.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert finished.attributes["messaging.destination.name"] == "grid.event.reported"
    assert finished.attributes["messaging.message.id"] == "e-1"
    assert follow_up["ce_traceparent"].decode() == f"00-{TRACE_ID}-{own.span_id:016x}-{int(own.trace_flags):02x}"
    assert follow_up["ce_tracestate"] == b"fq=1"


def test_consume_span_without_context_starts_a_new_trace(exporter):
    with tracing.consume_span("g", "case.rated", [("ce_id", b"x")]):
        pass
    (finished,) = exporter.get_finished_spans()
    assert finished.parent is None


def test_trace_headers_and_log_ids(exporter):
    assert tracing.trace_headers([("CE_TRACEPARENT", PARENT.encode())]) == {"traceparent": PARENT}
    assert tracing.current_trace_ids() == {}
    with tracing.get_tracer().start_as_current_span("x") as span:
        ids = tracing.add_trace_ids(None, "info", {"event": "hello"})
    assert ids["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert len(ids["span_id"]) == 16


def _app():
    app = FastAPI()

    @app.get("/api/v1/ping")
    async def ping():
        return {"ids": tracing.current_trace_ids()}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    tracing.instrument_app(app, "unit")
    return app


async def test_http_server_span_continues_incoming_traceparent(exporter):
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        r = await client.get("/api/v1/ping", headers={"traceparent": PARENT})
        (await client.get("/healthz")).raise_for_status()
    assert r.json()["ids"]["trace_id"] == TRACE_ID
    (server,) = exporter.get_finished_spans()  # /healthz is excluded, send/receive spans too
    assert server.kind == SpanKind.SERVER
    assert server.attributes["http.route"] == "/api/v1/ping"
    assert f"{server.parent.span_id:016x}" == "00f067aa0ba902b7"


async def test_httpx_client_propagates_to_the_called_service(exporter):
    app = _app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert tracing.instrument_httpx(client)
        r = await client.get("/api/v1/ping")
    sent = r.request.headers["traceparent"]
    spans = exporter.get_finished_spans()
    (client_span,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    (server_span,) = [s for s in spans if s.attributes.get("http.route") == "/api/v1/ping"]
    assert sent.split("-")[1] == f"{client_span.context.trace_id:032x}" == r.json()["ids"]["trace_id"]
    assert server_span.parent.span_id == client_span.context.span_id
