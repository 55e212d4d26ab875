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
) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Class decorator that registers a payload model for ``topic``."""

    def deco(model: type[BaseModel]) -> type[BaseModel]:
        if topic in _BY_TOPIC and _BY_TOPIC[topic].payload is not model:
            raise ValueError(f"topic {topic} registered twice")
        if key not in model.model_fields:
            raise ValueError(f"{model.__name__} has no key field {key}")
        spec = EventSpec(topic, model, key, owner, description, version, partitions, extensions)
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


def all_topics(include_dlq: bool = True) -> list[str]:
    topics = [s.topic for s in all_specs()]
    if include_dlq:
        topics += [t + DLQ_SUFFIX for t in topics]
    return sorted(topics)
