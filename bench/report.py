"""RESULTS.md (table), bench/out/results.json and bench/results.svg (a hand-written bar chart)."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from html import escape

import psutil

from .infra import OUT, ROOT


@dataclass
class Row:
    figure: str
    measured: float | None
    unit: str
    target: str = ""  # e.g. ">= 5000", "<= 20"
    baseline: float | None = None  # measured baseline figure in the same unit
    baseline_name: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline and self.measured is not None:
            return round(self.measured / self.baseline, 3)
        return None

    @property
    def met(self) -> bool | None:
        if not self.target or self.measured is None:
            return None
        op, _, val = self.target.partition(" ")
        goal = float(val.rstrip("x"))
        value = self.ratio if val.endswith("x") else self.measured
        if value is None:
            return None
        return value >= goal if op == ">=" else value <= goal


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{int(v):,}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{psutil.cpu_count()} CPUs ({cpu}), {round(psutil.virtual_memory().total / 2**30)} GB RAM, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")


def write(rows: list[Row], raw: dict, *, title: str, notes: list[str], name: str = "RESULTS") -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    payload = {"generated": stamp, "machine": machine(), "rows": [asdict(r) | {"ratio": r.ratio, "met": r.met}
                                                                   for r in rows], "raw": raw}
    (OUT / f"{name.lower()}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    lines = [f"# {title}", "", f"Generated {stamp} by `{raw.get('command', 'uv run python -m bench')}` on {machine()}.",
             "All figures from one run; baselines measured in the same run on the same servers.", "",
             "| figure | target | measured | unit | baseline | ratio to baseline | met? |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        base = f"{_fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "—"
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        fig = r.figure + (f" — {r.note}" if r.note else "")
        lines.append(f"| {fig} | {r.target or '—'} | {_fmt(r.measured)} | {r.unit} | {base} | {ratio} | {met} |")
    lines += ["", "![results](results.svg)", ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    (ROOT / "bench" / f"{name}.md").write_text("\n".join(lines))
    svg(rows, ROOT / "bench" / ("results.svg" if name == "RESULTS" else f"{name.lower()}.svg"))


def svg(rows: list[Row], path) -> None:
    """Horizontal bars: each figure as a share of its target (or baseline), 100% line = target."""
    items = []
    for r in rows:
        if r.measured is None or not r.target:
            continue
        op, _, val = r.target.partition(" ")
        goal = float(val.rstrip("x"))
        value = r.ratio if val.endswith("x") else r.measured
        if value is None or goal == 0:
            continue
        # share of the target: >= targets -> value/goal; <= targets -> goal/value (higher is better)
        share = value / goal if op == ">=" else (goal / value if value else 10.0)
        items.append((r.figure, share, r.met, f"{_fmt(r.measured)} {r.unit} (target {r.target})"))
    width, bar_h, left, top = 980, 26, 360, 40
    height = top + len(items) * (bar_h + 8) + 40
    scale = (width - left - 40) / 3.0  # 300% of target fills the width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="22" font-size="15" font-weight="bold">Measured / target (higher is better; '
           'line = target met)</text>']
    for i, (name, share, met, label) in enumerate(items):
        y = top + i * (bar_h + 8)
        w = max(2.0, min(share, 3.0) * scale)
        color = "#2e7d32" if met else "#c62828"
        out.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(name[:52])}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" opacity="0.8"/>')
        out.append(f'<text x="{left + 6}" y="{y + 17}" fill="white">{escape(label)}</text>')
    x = left + scale
    out.append(f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{height - 30}" stroke="black" stroke-dasharray="4,3"/>')
    out.append(f'<text x="{x + 4}" y="{height - 14}">100% of target</text>')
    out.append("</svg>")
    path.write_text("\n".join(out))
