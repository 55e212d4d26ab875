"""Publish again what the outbox had published since a moment: recovery after a broker lost events.

A broker that lost acknowledged events (Tansu with memory storage after a crash; a Kafka cluster
restored from an older snapshot, or an unclean leader election) leaves every consumer short of
what the services wrote. The outbox still has every event it published within
``outbox_retention_days`` (the relay deletes published rows only after that), so recovery is: mark the
rows published since T as pending again. The services' relays then publish them once more - in id
order within each lane, so per key in the order they were written, with the same CloudEvents ids and
headers - and the idempotent consumers skip those they had already handled (``processed_events``).

    fengqiao-ops replay --since 2026-12-01T09:30:00+08:00            # every service in the environment
    fengqiao-ops replay --since 15m --service intake --service dispatch
    fengqiao-ops replay --since 2h --database-url postgresql://...   # one database, named directly
    fengqiao-ops replay --since 30m --dry-run                         # count only

A service's database comes from ``<SERVICE>_DATABASE_URL`` (``INTAKE_DATABASE_URL`` ...), as the
service itself reads it. ``--since`` is an ISO 8601 time (with an offset; UTC when it has none) or a
duration before now (``90s``, ``15m``, ``2h``, ``1d``). Topics must exist (``topics_cli create``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from .schema import NOTIFY_CHANNEL

SERVICES = ("intake", "dispatch", "mediation", "analytics", "gateway")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def plain_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://``) in the form asyncpg accepts."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def parse_since(text: str) -> datetime | timedelta:
    """An ISO 8601 time (UTC when it has no offset), or a duration (``15m``, ``2h``): that long before
    the database's ``now()``."""
    m = _DURATION.match(text)
    if m:
        return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--since: not an ISO 8601 time nor a duration like 15m: {text!r}") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Replayed:
    since: datetime
    rows: int
    first_id: int | None
    last_id: int | None


async def replay_since(dsn: str, since: datetime | timedelta, *, topics: list[str] | None = None,
                       dry_run: bool = False) -> Replayed:
    """Mark every outbox row published at or after ``since`` (a time, or a duration before the database's
    ``now()``; optionally only rows of ``topics``) as pending again, and wake the relays. Returns how many
    rows, and their id range."""
    if isinstance(since, datetime) and since.tzinfo is None:
        raise ValueError("since must be an aware datetime")
    conn = await asyncpg.connect(plain_dsn(dsn))
    try:
        if isinstance(since, timedelta):
            since = await conn.fetchval("SELECT now() - $1::interval", since)
        where = "published_at >= $1" + (" AND topic = ANY($2::text[])" if topics else "")
        args: list = [since, *([list(topics)] if topics else [])]
        if dry_run:
            row = await conn.fetchrow(f"SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM outbox WHERE {where}",
                                      *args)
            return Replayed(since, row["n"], row["lo"], row["hi"])
        async with conn.transaction():
            ids = await conn.fetch(f"UPDATE outbox SET published_at = NULL WHERE {where} RETURNING id", *args)
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    finally:
        await conn.close()
    found = [r["id"] for r in ids]
    return Replayed(since, len(found), min(found, default=None), max(found, default=None))


def _targets(args: argparse.Namespace) -> dict[str, str]:
    if args.database_url:
        return {"(given)": args.database_url}
    names = args.service or [s for s in SERVICES if os.environ.get(f"{s.upper()}_DATABASE_URL")]
    out = {}
    for name in names:
        url = os.environ.get(f"{name.upper()}_DATABASE_URL")
        if not url:
            raise SystemExit(f"{name.upper()}_DATABASE_URL is not set (or give --database-url)")
        out[name] = url
    if not out:
        raise SystemExit("no database: set <SERVICE>_DATABASE_URL (e.g. INTAKE_DATABASE_URL) or give --database-url")
    return out


async def _replay(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    total = 0
    for name, url in _targets(args).items():
        r = await replay_since(url, since, topics=args.topic or None, dry_run=args.dry_run)
        verb = "would replay" if args.dry_run else "replayed"
        span = f" (outbox ids {r.first_id}..{r.last_id})" if r.rows else ""
        print(f"{name}: {verb} {r.rows} events published since {r.since.isoformat()}{span}")
        total += r.rows
    print(f"total: {total}" + ("" if args.dry_run else "; the services' relays publish them again now"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fengqiao-ops", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="publish again the outbox events published since a time")
    rp.add_argument("--since", required=True, help="ISO 8601 time, or a duration before now: 90s, 15m, 2h, 1d")
    rp.add_argument("--service", action="append", choices=SERVICES, help="only this service (repeatable)")
    rp.add_argument("--database-url", help="one database, instead of <SERVICE>_DATABASE_URL")
    rp.add_argument("--topic", action="append", help="only events of this topic (repeatable)")
    rp.add_argument("--dry-run", action="store_true", help="count, change nothing")
    args = ap.parse_args(argv)
    try:
        return asyncio.run(_replay(args))
    except ValueError as exc:
        ap.error(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
