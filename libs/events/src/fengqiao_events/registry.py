"""One registry: event type <-> topic <-> payload model <-> message key.

Every topic is named ``<entity>.<past-tense-verb>``; its CloudEvents type is ``cn.fengqiao.<topic>``;
each has a dead-letter topic ``<topic>.dlq``. Payload modules register their events by calling
:func:`register` at import; :func:`all_specs` imports them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class EventSpec:
    topic: str
    payload: type[BaseModel]
    key: str
    owner: str
    description: str
    version: int = 1
    partitions: int | None = None  # None: the deployment's default
    extensions: tuple[str, ...] = field(default=())  # payload fields copied to ce_<name> headers
    label_zh: str = ""  # what a person sees for this event (timeline, ticker, console)
    label_en: str = ""

    def _field(self, name: str) -> str | None:
        return name if name in self.payload.model_fields else None

    @property
    def case_field(self) -> str | None:
        """The payload field holding the case id, if the event concerns a case."""
        return self._field("case_id")

    @property
    def order_field(self) -> str | None:
        return self._field("order_id")

    @property
    def mediation_field(self) -> str | None:
        return self._field("mediation_id")

    @property
    def label(self) -> str:
        return f"{self.label_zh} / {self.label_en}"

    @property
    def type(self) -> str:
        from .envelope import TYPE_PREFIX

        return TYPE_PREFIX + self.topic

    @property
    def dlq_topic(self) -> str:
        return self.topic + DLQ_SUFFIX

    def key_of(self, payload: BaseModel) -> str:
        value = getattr(payload, self.key)
        if value is None:
            raise ValueError(f"{self.topic}: key field {self.key} is empty")
        return str(value)

    def extensions_of(self, payload: BaseModel) -> dict[str, str]:
        out = {}
        for name in self.extensions:
            value = getattr(payload, name, None)
            if value is not None:
                out[name] = str(value)
        return out


_BY_TOPIC: dict[str, EventSpec] = {}
_BY_MODEL: dict[type[BaseModel], EventSpec] = {}


def register(
    topic: str,
    *,
    key: str,
    owner: str,
    description: str,
    version: int = 1,
    partitions: int | None = None,
    extensions: tuple[str, ...] = (),
    label_zh: str = "",
    label_en: str = "",
) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Class decorator that registers a payload model for ``topic``."""

    def deco(model: type[BaseModel]) -> type[BaseModel]:
        if topic in _BY_TOPIC and _BY_TOPIC[topic].payload is not model:
            raise ValueError(f"topic {topic} registered twice")
        if key not in model.model_fields:
            raise ValueError(f"{model.__name__} has no key field {key}")
        if not (label_zh and label_en):
            raise ValueError(f"{topic}: an event type needs a Chinese and an English label")
        spec = EventSpec(topic, model, key, owner, description, version, partitions, extensions, label_zh, label_en)
        _BY_TOPIC[topic] = spec
        _BY_MODEL[model] = spec
        return model

    return deco


def _load() -> None:
    from .payloads import analytics, case, mediation, order  # noqa: F401


def all_specs() -> list[EventSpec]:
    _load()
    return sorted(_BY_TOPIC.values(), key=lambda s: s.topic)


def spec_for_topic(topic: str) -> EventSpec:
    _load()
    try:
        return _BY_TOPIC[topic]
    except KeyError:
        raise KeyError(f"unknown topic {topic}") from None


def spec_for_payload(payload: BaseModel | type[BaseModel]) -> EventSpec:
    _load()
    model = payload if isinstance(payload, type) else type(payload)
    try:
        return _BY_MODEL[model]
    except KeyError:
        raise KeyError(f"{model.__name__} is not a registered event payload") from None


def specs_of_owner(owner: str) -> list[EventSpec]:
    return [s for s in all_specs() if s.owner == owner]


def labels() -> dict[str, dict[str, str]]:
    """Every topic's labels, ``{topic: {"zh": ..., "en": ...}}`` (served to pages that show events)."""
    return {s.topic: {"zh": s.label_zh, "en": s.label_en} for s in all_specs()}


def all_topics(include_dlq: bool = True) -> list[str]:
    topics = [s.topic for s in all_specs()]
    if include_dlq:
        topics += [t + DLQ_SUFFIX for t in topics]
    return sorted(topics)
