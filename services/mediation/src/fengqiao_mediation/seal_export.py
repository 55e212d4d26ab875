"""``fengqiao-mediation-seal`` (``python -m fengqiao_mediation.seal_export``): file exports of the published
seal keys and of the signed daily chain-head statements, from the service's own settings (MEDIATION_*).

    fengqiao-mediation-seal keys [--out seal-keys.json]
    fengqiao-mediation-seal statement 2026-12-01 [--out statement-2026-12-01.json]

``keys`` needs only the key settings (MEDIATION_SEAL_KEY_FILE / MEDIATION_SEAL_PRIVATE_KEY) and refuses to
export an ephemeral key; ``statement`` also reads the service's database (MEDIATION_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from fengqiao_common.clock import SYSTEM_CLOCK
from fengqiao_common.db import make_engine, make_session_factory

from .adapters.sealkey import load_keyring
from .adapters.uow import MediationUoW
from .config import Settings
from .domain.config import MediationConfig
from .usecases.records import day_statement


def _write(data: dict, out: Path | None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


async def _statement(settings: Settings, keys, day: str) -> dict:
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        cfg = MediationConfig(tz=ZoneInfo(settings.timezone), keys=keys)
        uow = MediationUoW(make_session_factory(engine), None, SYSTEM_CLOCK, cfg=cfg)
        return await day_statement(uow, day)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fengqiao-mediation-seal", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keys", help="the published public keys (JSON, as GET /api/v1/mediation/seal-keys)")
    k.add_argument("--out", type=Path)
    st = sub.add_parser("statement", help="the signed chain-head statement of one local day")
    st.add_argument("day", help="YYYY-MM-DD (MEDIATION_TIMEZONE)")
    st.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    settings = Settings()
    keys = load_keyring(settings)
    if keys.ephemeral:
        print("fengqiao-mediation-seal: no seal key configured (MEDIATION_SEAL_KEY_FILE / "
              "MEDIATION_SEAL_PRIVATE_KEY): an ephemeral key proves nothing", file=sys.stderr)
        return 2
    if args.cmd == "keys":
        _write({"algorithm": "Ed25519", "keys": keys.published()}, args.out)
    else:
        _write(asyncio.run(_statement(settings, keys, args.day)), args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
