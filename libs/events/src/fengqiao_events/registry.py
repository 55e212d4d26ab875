"""One registry: event type <-> topic <-> payload model <-> message key.

Every topic is named ``<entity>.<past-tense-verb>``; its CloudEvents type is ``cn.fengqiao.<topic>``;
each has a dead-letter topic ``<topic>.dlq``. Payload modules register their events by calling
:func:`register` at import; :func:`all_specs` imports them all.

Order events (a ``department`` extension) are also delivered to their department's own topic
``dept.<code>.orders`` (:func:`department_topic`), the only one a department's Kafka principal may read;
fields a spec names ``private`` (free text, address, coordinates) travel only there, never on the core
topic every service reads. A topic's events come from its owner: consumers accept only ``ce_source``
:func:`source_of` the owner (:func:`trusted_sources`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

DLQ_SUFFIX = ".dlq"
SOURCE_PREFIX = "/fengqiao/"
DEPT_TOPIC_PREFIX = "dept."
DEPT_TOPIC_SUFFIX = ".orders"
# Sources accepted on every topic besides the owner's. None today: replays (fengqiao-ops replay, topics_cli
# replay-dlq) publish the original records again, with their owner's ce_source.
SYSTEM_SOURCES: frozenset[str] = frozenset()


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
    private: tuple[str, ...] = field(default=())  # payload fields sent only on the department's topic

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
    def per_department(self) -> bool:
        """Delivered to the department's own topic too (order events: a ``department`` extension)."""
        return "department" in self.extensions

    @property
    def source(self) -> str:
        return source_of(self.owner)

    def public_data(self, data: dict) -> dict:
        """The data as the core topic carries it: without the private fields."""
        return {k: v for k, v in data.items() if k not in self.private} if self.private else data

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
    private: tuple[str, ...] = (),
) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Class decorator that registers a payload model for ``topic``."""

    def deco(model: type[BaseModel]) -> type[BaseModel]:
        if topic in _BY_TOPIC and _BY_TOPIC[topic].payload is not model:
            raise ValueError(f"topic {topic} registered twice")
        if key not in model.model_fields:
            raise ValueError(f"{model.__name__} has no key field {key}")
        if not (label_zh and label_en):
            raise ValueError(f"{topic}: an event type needs a Chinese and an English label")
        for name in private:
            if name not in model.model_fields or model.model_fields[name].is_required():
                raise ValueError(f"{topic}: private field {name} must be an optional payload field")
        if private and "department" not in extensions:
            raise ValueError(f"{topic}: private fields need a department topic to travel on")
        spec = EventSpec(topic, model, key, owner, description, version, partitions, extensions, label_zh, label_en,
                         private)
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


def source_of(owner: str) -> str:
    """The CloudEvents ``source`` of a service's events."""
    return SOURCE_PREFIX + owner


def department_topic(code: str) -> str:
    """The topic of one department's order events (all types): ``dept.<code, lower case>.orders``."""
    if not code or not all(c.isalnum() or c in "-_" for c in code):
        raise ValueError(f"not a department code: {code!r}")
    return f"{DEPT_TOPIC_PREFIX}{code.lower()}{DEPT_TOPIC_SUFFIX}"


def is_department_topic(topic: str) -> bool:
    return topic.startswith(DEPT_TOPIC_PREFIX) and topic.endswith(DEPT_TOPIC_SUFFIX)


def department_topic_owner() -> str:
    """Who writes the department topics: the owner of the order events."""
    owners = {s.owner for s in all_specs() if s.per_department}
    if len(owners) != 1:
        raise RuntimeError(f"order events must have one owner, found {sorted(owners)}")
    return owners.pop()


def owner_of_topic(topic: str) -> str:
    """The service that writes ``topic`` (an event topic, its dead-letter topic or a department topic)."""
    base = topic.removesuffix(DLQ_SUFFIX)
    if is_department_topic(base):
        return department_topic_owner()
    return spec_for_topic(base).owner


def trusted_sources(topic: str) -> frozenset[str]:
    """The ``ce_source`` values a consumer of ``topic`` accepts: its owner's (plus :data:`SYSTEM_SOURCES`)."""
    return frozenset({source_of(owner_of_topic(topic))}) | SYSTEM_SOURCES
