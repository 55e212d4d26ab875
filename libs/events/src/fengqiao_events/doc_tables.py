"""The events table of README.md and docs/design.md, generated from the registry.

Both documents hold it between ``<!-- events-table:begin -->`` and ``<!-- events-table:end -->``;
``make asyncapi`` rewrites it (``python -m fengqiao_events.doc_tables --write``) and a test fails
when a document's copy differs from what the registry says. ``consumers`` maps a topic to the
consumer groups that handle it (collected from the services by the caller that knows them).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .registry import all_specs

BEGIN, END = "<!-- events-table:begin -->", "<!-- events-table:end -->"
_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
ROOT = Path(__file__).resolve().parents[4]
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "design.md")


def render(consumers: Mapping[str, Sequence[str]] | None = None) -> str:
    head = "| topic | owner | key | 中文 | English | consumed by |\n|---|---|---|---|---|---|\n"
    rows = []
    for s in all_specs():
        by = ", ".join(sorted((consumers or {}).get(s.topic, ()))) or "-"
        rows.append(f"| `{s.topic}` | {s.owner} | {s.key} | {s.label_zh} | {s.label_en} | {by} |")
    return f"{BEGIN}\n{head}" + "\n".join(rows) + f"\n{END}"


def replace_block(text: str, table: str) -> str:
    if not _BLOCK.search(text):
        raise ValueError("no events-table block in the document")
    return _BLOCK.sub(lambda _m: table, text, count=1)


def block_of(text: str) -> str | None:
    m = _BLOCK.search(text)
    return m.group(0) if m else None


def write(consumers: Mapping[str, Sequence[str]] | None = None) -> None:
    table = render(consumers)
    for path in DOCUMENTS:
        path.write_text(replace_block(path.read_text(encoding="utf-8"), table), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render() + "\n")
