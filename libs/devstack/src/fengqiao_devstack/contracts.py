"""What every service's consumer groups handle, collected from the services themselves.

Used by the event-contract test (every registered type of an owner a group follows is handled or
explicitly ignored) and to write the "consumed by" column of the events table in README.md and
docs/design.md (``python -m fengqiao_devstack.contracts --write``, part of ``make asyncapi``).
Building a group's spec touches no database or broker: handlers reach their dependencies only
when called.
"""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

from fengqiao_common.app import ConsumerSpec
from fengqiao_events import doc_tables

from .testing import SERVICES


def consumer_groups(service: str) -> list[ConsumerSpec]:
    mod = importlib.import_module(f"fengqiao_{service}.consumers")
    settings = importlib.import_module(f"fengqiao_{service}.config").Settings()
    runtime = SimpleNamespace(settings=settings, deps=SimpleNamespace(settings=settings))
    if hasattr(mod, "specs"):
        return list(mod.specs(runtime))
    if hasattr(mod, "spec"):  # analytics: one group per read-model generation
        return [mod.spec(runtime.deps, 0)]
    return []


def all_groups() -> dict[str, list[ConsumerSpec]]:
    out = {}
    for service in SERVICES:
        try:
            importlib.import_module(f"fengqiao_{service}.consumers")
        except ModuleNotFoundError:
            continue  # a service without consumers (the gateway)
        out[service] = consumer_groups(service)
    return out


def consumed_by() -> dict[str, list[str]]:
    """topic -> ["<service>"] for every service with a group that handles it."""
    table: dict[str, list[str]] = {}
    for service, groups in all_groups().items():
        for g in groups:
            for topic in g.handlers:
                if service not in table.setdefault(topic, []):
                    table[topic].append(service)
    return table


if __name__ == "__main__":  # pragma: no cover
    if "--write" in sys.argv:
        doc_tables.write(consumed_by())
    else:
        sys.stdout.write(doc_tables.render(consumed_by()) + "\n")
