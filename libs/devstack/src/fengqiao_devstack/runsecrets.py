"""Secrets of one ``make run``: made up at each start, kept in ``<run dir>/secrets.json`` (mode 0600).

The services' development defaults (``DEV_SECRET`` and friends) are published in the repository:
with them anyone on the machine could mint an admin identity straight to a service port. So the
embedded default draws its own at every start - the internal identity token secret shared by the
services, the gateway's staff-token secret, and the court adapter's API key and callback secret
(the court simulator reads the same variables) - and, drawn once per data dir and kept as long as the
data dir is, a password for the embedded PostgreSQL (its cluster was created with it) and intake's
requester-pseudonym key (the pseudonyms in the databases are keyed with it). Mediation's seal key is a
file in the run dir (``mediation-seal.pem``, made by mediation itself when missing), kept as well, so
that records sealed in an earlier run still verify.

A variable already set in the environment wins (pointing the stack at real servers, or a test).
Webhook signing secrets need nothing here: intake draws one per subscription.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

# variable -> bytes of randomness (hex: twice as many characters)
PER_RUN = {
    "FQ_INTERNAL_TOKEN_SECRET": 32,
    "GATEWAY_TOKEN_SECRET": 32,
    "MEDIATION_COURT_CALLBACK_SECRET": 32,
    "MEDIATION_COURT_API_KEY": 24,
}
# variable -> bytes: drawn once per data dir and kept with it (what they key lives in the databases:
# intake's requester pseudonyms are HMACs under INTAKE_REQUESTER_KEY)
PER_DATA_DIR = {"INTAKE_REQUESTER_KEY": 32}
PG_PASSWORD = "pg_password"


def secrets_file(run_dir: Path) -> Path:
    return Path(run_dir) / "secrets.json"


def _write_private(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def load(run_dir: Path) -> dict[str, str]:
    path = secrets_file(run_dir)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def generate(run_dir: Path, *, keep_pg_password: bool) -> dict[str, str]:
    """New per-run secrets; the PostgreSQL password of the previous run when ``keep_pg_password`` (its
    data dir is still there). Written to ``secrets.json`` (0600) and returned."""
    previous = load(run_dir)
    out = {name: secrets.token_hex(n) for name, n in PER_RUN.items()}
    for name, n in PER_DATA_DIR.items():
        out[name] = (previous.get(name) if keep_pg_password else None) or secrets.token_hex(n)
    pg = previous.get(PG_PASSWORD) if keep_pg_password else None
    out[PG_PASSWORD] = pg or secrets.token_hex(16)
    _write_private(secrets_file(run_dir), out)
    return out


def service_env(values: dict[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables to give every service: the generated ones not already set in ``environ``."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in values.items() if (k in PER_RUN or k in PER_DATA_DIR) and not environ.get(k)}
