"""CloudEvents 1.0 envelope in Kafka *binary* content mode.

Attributes travel as ``ce_*`` record headers, the payload (``data``) is the JSON record value and
``content-type`` is a header, exactly as the CloudEvents Kafka protocol binding describes, so any
Kafka client in any language can read our events without this library:

    ce_specversion  1.0
    ce_id           UUID of the event (the idempotency key of every consumer)
    ce_source       /fengqiao/<service>
    ce_type         cn.fengqiao.<topic>            e.g. cn.fengqiao.order.dispatched
    ce_time         RFC 3339 UTC timestamp
    ce_subject      the aggregate id (case or order id); also the Kafka message key
    content-type    application/json
    ce_dataschema   urn:fengqiao:schema:<topic>:v<schemaversion>
    ce_schemaversion, ce_correlationid, ce_causationid   extension attributes
    ce_<name>       further extensions, e.g. ce_department on order events
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SPECVERSION = "1.0"
TYPE_PREFIX = "cn.fengqiao."
CONTENT_TYPE = "application/json"


class DecodeError(ValueError):
    """A Kafka record that is not a valid Fengqiao CloudEvent."""


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One event: CloudEvents context attributes plus the JSON ``data``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    specversion: str = SPECVERSION
    time: datetime = Field(default_factory=_now)
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    dataschema: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    schemaversion: int = 1
    extensions: dict[str, str] = Field(default_factory=dict)
    data: dict[str, Any]

    @property
    def topic(self) -> str:
        return self.type.removeprefix(TYPE_PREFIX)

    def payload(self):
        """The data parsed into its registered pydantic model."""
        from .registry import spec_for_topic

        return spec_for_topic(self.topic).payload.model_validate(self.data)

    # --- Kafka binary mode -------------------------------------------------------------------
    def kafka_headers(self) -> list[tuple[str, bytes]]:
        h: list[tuple[str, bytes]] = [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.astimezone(UTC).isoformat().replace("+00:00", "Z").encode()),
            ("content-type", self.datacontenttype.encode()),
            ("ce_schemaversion", str(self.schemaversion).encode()),
        ]
        if self.subject is not None:
            h.append(("ce_subject", self.subject.encode()))
        if self.dataschema:
            h.append(("ce_dataschema", self.dataschema.encode()))
        if self.correlationid:
            h.append(("ce_correlationid", self.correlationid.encode()))
        if self.causationid:
            h.append(("ce_causationid", self.causationid.encode()))
        for k, v in self.extensions.items():
            h.append((f"ce_{k}", v.encode()))
        return h

    def kafka_value(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), default=str).encode()

    @classmethod
    def from_kafka(cls, headers, value: bytes | None) -> Envelope:
        """Decode a record in binary mode; raises :class:`DecodeError` on anything malformed."""
        attrs: dict[str, str] = {}
        try:
            for k, v in headers or ():
                attrs[k.lower()] = v.decode() if isinstance(v, bytes | bytearray) else str(v)
        except UnicodeDecodeError as exc:
            raise DecodeError(f"header is not UTF-8: {exc}") from exc
        for required in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
            if not attrs.get(required):
                raise DecodeError(f"missing CloudEvents header {required}")
        if attrs["ce_specversion"] != SPECVERSION:
            raise DecodeError(f"unsupported specversion {attrs['ce_specversion']}")
        ctype = attrs.get("content-type", CONTENT_TYPE)
        if not ctype.startswith("application/json") and not ctype.startswith("application/cloudevents"):
            raise DecodeError(f"unsupported content-type {ctype}")
        if value is None:
            raise DecodeError("record has no value")
        try:
            data = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DecodeError(f"value is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DecodeError("value is not a JSON object")
        known = {
            "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type",
            "ce_dataschema", "ce_correlationid", "ce_causationid", "ce_schemaversion",
        }
        ext = {k[3:]: v for k, v in attrs.items() if k.startswith("ce_") and k not in known}
        try:
            return cls(
                id=attrs["ce_id"],
                source=attrs["ce_source"],
                type=attrs["ce_type"],
                time=datetime.fromisoformat(attrs["ce_time"].replace("Z", "+00:00")) if attrs.get("ce_time") else _now(),
                subject=attrs.get("ce_subject"),
                datacontenttype=ctype,
                dataschema=attrs.get("ce_dataschema"),
                correlationid=attrs.get("ce_correlationid"),
                causationid=attrs.get("ce_causationid"),
                schemaversion=int(attrs.get("ce_schemaversion", "1")),
                extensions=ext,
                data=data,
            )
        except ValueError as exc:
            raise DecodeError(f"bad CloudEvents attribute: {exc}") from exc


def new_envelope(
    payload: BaseModel,
    *,
    source: str,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Build the envelope for a registered payload (topic, key, extensions from the registry).

    With ``causation`` the new event inherits the correlation id and names its cause.
    """
    from .registry import spec_for_payload

    spec = spec_for_payload(payload)
    data = payload.model_dump(mode="json")
    corr = correlation_id or (causation.correlationid if causation else None)
    eid = event_id or str(uuid.uuid4())
    return Envelope(
        id=eid,
        source=source,
        type=TYPE_PREFIX + spec.topic,
        time=time or _now(),
        subject=str(spec.key_of(payload)),
        dataschema=f"urn:fengqiao:schema:{spec.topic}:v{spec.version}",
        correlationid=corr or eid,
        causationid=causation.id if causation else None,
        schemaversion=spec.version,
        extensions=spec.extensions_of(payload),
        data=data,
    )
