"""OpenTelemetry traces across HTTP and Kafka, OFF by default.

Turned on by the environment:

- ``FQ_TRACING=otlp``  export spans over OTLP/HTTP (endpoint from the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
  / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, default ``http://localhost:4318``);
- ``FQ_TRACING=console`` print spans as JSON to stdout (development);
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (and ``FQ_TRACING`` unset) also means ``otlp``;
- ``FQ_TRACING=off`` (or unset without an endpoint): nothing is configured, every helper here is a cheap no-op.

Sampling follows the standard ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` variables (default:
parent-based always-on).

HTTP: :func:`instrument_app` (FastAPI server spans, health and metrics routes excluded) and
:func:`instrument_httpx` (client spans, W3C ``traceparent`` on outgoing calls).

Kafka: the CloudEvents *distributed tracing* extension carries the W3C context as the extension attributes
``traceparent`` / ``tracestate``, i.e. in binary mode the record headers ``ce_traceparent`` /
``ce_tracestate``. :func:`inject_kafka_headers` adds them to the headers of an event being written (the
outbox calls it while building a row, so the event carries the context of the request or the consumed event
that caused it); :func:`consume_span` opens a CONSUMER span around a handler, as a child of the context in the
consumed record's headers. Both only need ``opentelemetry-api`` and do nothing when tracing is off.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT_HEADER = "ce_traceparent"
TRACESTATE_HEADER = "ce_tracestate"
EXCLUDED_URLS = "healthz,readyz,metrics"
_W3C_TO_KAFKA = {"traceparent": TRACEPARENT_HEADER, "tracestate": TRACESTATE_HEADER}
_KAFKA_TO_W3C = {v: k for k, v in _W3C_TO_KAFKA.items()}

_propagator = TraceContextTextMapPropagator()
_provider: Any = None  # opentelemetry.sdk.trace.TracerProvider once configured
_service: str | None = None


def tracing_mode(env: Mapping[str, str] | None = None) -> str | None:
    """``"otlp"``, ``"console"`` or None (off), from ``FQ_TRACING`` and ``OTEL_EXPORTER_OTLP_*ENDPOINT``."""
    env = os.environ if env is None else env
    raw = (env.get("FQ_TRACING") or "").strip().lower()
    if raw in ("off", "none", "false", "0", "disabled"):
        return None
    if raw in ("otlp", "console"):
        return raw
    if raw:
        raise ValueError(f"FQ_TRACING must be otlp, console or off, not {raw!r}")
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def enabled() -> bool:
    return _provider is not None


def configure_tracing(
    service: str,
    *,
    mode: str | None = None,
    exporter: Any = None,
    set_global: bool = True,
    env: Mapping[str, str] | None = None,
):
    """Set up the tracer provider once per process. Returns it, or None when tracing is off.

    ``exporter`` (a ``SpanExporter``, e.g. the SDK's ``InMemorySpanExporter`` in tests) forces tracing on and
    exports synchronously. Otherwise ``mode`` (default: from the environment) chooses the exporter.
    """
    global _provider, _service
    if _provider is not None:
        return _provider
    if exporter is None:
        mode = mode or tracing_mode(env)
        if mode is None:
            return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    env_map = os.environ if env is None else env
    resource = Resource.create(
        {
            "service.name": f"fengqiao-{service}",
            "service.namespace": "fengqiao",
            "deployment.environment": env_map.get("FQ_ENVIRONMENT", "development"),
        }
    )
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif mode == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if set_global:
        trace.set_tracer_provider(provider)
    _provider, _service = provider, service
    return provider


def shutdown_tracing() -> None:
    """Flush and drop the provider (end of process; tests)."""
    global _provider, _service
    if _provider is not None:
        with contextlib.suppress(Exception):
            _provider.shutdown()
    _provider, _service = None, None


def get_tracer(name: str = "fengqiao"):
    """A tracer of the configured provider (a no-op tracer when tracing is off)."""
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(name)


# --- HTTP ---------------------------------------------------------------------------------------

def instrument_app(app, service: str) -> bool:
    """Configure tracing from the environment and add FastAPI server spans. False when tracing is off."""
    provider = configure_tracing(service)
    if provider is None:
        return False
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )
    return True


def instrument_httpx(client=None) -> bool:
    """Client spans and ``traceparent`` on outgoing httpx calls: one client, or every client when None."""
    if _provider is None:
        return False
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    if client is None:
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
    else:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    return True


# --- Kafka (CloudEvents distributed tracing extension) ------------------------------------------

class _KafkaSetter(Setter):
    def set(self, carrier: list, key: str, value: str) -> None:
        name = _W3C_TO_KAFKA.get(key)
        if name is None:
            return
        carrier[:] = [(k, v) for k, v in carrier if k != name]
        carrier.append((name, value.encode()))


class _KafkaGetter(Getter):
    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return [value] if value is not None else None

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


def _w3c_carrier(headers: Sequence[tuple[str, Any]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers or ():
        name = _KAFKA_TO_W3C.get(k.lower())
        if name is not None:
            out[name] = v.decode("latin-1") if isinstance(v, bytes | bytearray) else str(v)
    return out


def inject_kafka_headers(
    headers: Sequence[tuple[str, bytes]], ctx: otel_context.Context | None = None
) -> list[tuple[str, bytes]]:
    """Return ``headers`` plus ``ce_traceparent`` / ``ce_tracestate`` of the current span (if any).

    Without an active, valid span context (tracing off and nothing propagated in) the headers are returned
    unchanged, so events look exactly as before.
    """
    out = list(headers)
    _propagator.inject(out, context=ctx, setter=_KafkaSetter())
    return out


def extract_kafka_context(headers: Sequence[tuple[str, Any]] | None) -> otel_context.Context:
    """The W3C trace context carried by a record's ``ce_traceparent`` / ``ce_tracestate`` headers."""
    return _propagator.extract(_w3c_carrier(headers), getter=_KafkaGetter())


def trace_headers(headers: Sequence[tuple[str, Any]] | None) -> dict[str, str]:
    """``{"traceparent": ..., "tracestate": ...}`` found in Kafka headers (e.g. to log or forward over HTTP)."""
    return _w3c_carrier(headers)


@contextlib.contextmanager
def consume_span(consumer: str, topic: str, headers: Sequence[tuple[str, Any]] | None,
                 event_id: str | None = None) -> Iterator[Any]:
    """A CONSUMER span ``<topic> process`` around one handler call, child of the record's trace context.

    While it is open, :func:`inject_kafka_headers` (the outbox) propagates it to follow-up events. When
    tracing is off the remote context is still attached, so follow-up events keep the incoming trace id.
    """
    parent = extract_kafka_context(headers)
    if _provider is None:
        if trace.get_current_span(parent).get_span_context().is_valid:
            token = otel_context.attach(parent)
            try:
                yield None
            finally:
                otel_context.detach(token)
        else:
            yield None
        return
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": consumer,
    }
    if event_id:
        attributes["messaging.message.id"] = event_id
    with get_tracer("fengqiao.events").start_as_current_span(
        f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def current_trace_ids() -> dict[str, str]:
    """``trace_id`` / ``span_id`` (hex) of the current span, for JSON logs; empty without one."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


def add_trace_ids(_logger, _name, event_dict):
    """structlog processor: add ``trace_id`` / ``span_id`` of the current span to each log line."""
    for k, v in current_trace_ids().items():
        event_dict.setdefault(k, v)
    return event_dict
