"""py-spy profiles of a service process while a load runs (flame graph SVG + top frames)."""

from __future__ import annotations

import asyncio
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from .infra import OUT, ROOT, log


def _py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


async def profile_during(name: str, pid: int, load, seconds: float = 10.0) -> dict:
    """Record ``pid`` with py-spy for ``seconds`` while awaiting ``load``; flame graph to bench/."""
    exe = _py_spy()
    if exe is None:
        await load
        return {"svg": None, "top": ["py-spy not installed"]}
    OUT.mkdir(parents=True, exist_ok=True)
    svg = ROOT / "bench" / f"profile-{name}.svg"
    raw = OUT / f"profile-{name}.txt"
    cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50", "--nonblocking"]
    p1 = await asyncio.create_subprocess_exec(*cmd, "-o", str(svg), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
    p2 = await asyncio.create_subprocess_exec(*cmd, "-f", "raw", "-o", str(raw), stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
    await load
    await asyncio.gather(p1.wait(), p2.wait())
    top = _top_frames(raw)
    log(f"profile of {name}: {svg.name}; top self frames: {top[:5]}")
    return {"svg": str(svg.relative_to(ROOT)) if svg.exists() else None, "top": top}


def collapsed_samples(raw: Path):
    """(frames, samples) per line of py-spy's collapsed-stack output (``--format raw``)."""
    if not raw.exists():
        return
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield [f.strip() for f in stack.split(";")], int(count)


def _top_frames(raw: Path, n: int = 10) -> list[str]:
    """Leaf frames by sample share from py-spy's collapsed-stack output."""
    leaf: collections.Counter = collections.Counter()
    total = 0
    for frames, c in collapsed_samples(raw):
        total += c
        leaf[frames[-1].split(" (")[0] if frames else "?"] += c
    return [f"{f} {100 * c / total:.0f}%" for f, c in leaf.most_common(n)] if total else []


async def pg_waits(dsn: str, database: str, seconds: float = 5.0, interval: float = 0.1) -> list[str]:
    """What the database's active backends wait on (pg_stat_activity samples), most common first."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    counts: collections.Counter = collections.Counter()
    samples = 0
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            rows = await conn.fetch(
                "SELECT wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 50) AS q "
                "FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()", database)
            samples += 1
            for r in rows:
                counts[f"{r['wait_event_type'] or 'CPU'}/{r['wait_event'] or '-'} in {r['q']}"] += 1
            await asyncio.sleep(interval)
    finally:
        await conn.close()
    return [f"{v / samples:.1f} backends avg: {k}" for k, v in counts.most_common(6)]
