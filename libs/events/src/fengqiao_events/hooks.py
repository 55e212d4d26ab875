"""Extension points of the event machinery, e.g. for tracing (fengqiao_common.tracing registers here
when tracing is on). Empty by default, so the hot paths pay nothing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

Headers = list[tuple[str, bytes]]

# Each hook takes the headers of an event being written to the outbox and returns them, e.g. with
# ce_traceparent added.
outgoing_header_hooks: list[Callable[[Headers], Headers]] = []

# A context manager factory (consumer, topic, record headers, event id) wrapped around one handler call.
consume_span: Callable[[str, str, Sequence[tuple[str, Any]] | None, str | None], Any] | None = None


def apply_outgoing(headers: Headers) -> Headers:
    for hook in outgoing_header_hooks:
        headers = hook(headers)
    return headers


def around_handler(consumer: str, topic: str, headers, event_id: str | None):
    if consume_span is None:
        return contextlib.nullcontext()
    return consume_span(consumer, topic, headers, event_id)
