"""Loading the seal key (Ed25519) from the settings: never from the database."""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from ..domain.seals import Keyring, load_private, load_public, private_pem

log = structlog.get_logger("fengqiao.mediation")


def _write_new(path: Path) -> Keyring:
    ring = Keyring.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem(ring.private))
    log.warning("seal key file was missing: a new Ed25519 key was written (development only)", path=str(path),
                key_id=ring.key_id)
    return ring


class SealKeyMissing(RuntimeError):
    """Production without a seal key: the service refuses to start."""


def load_keyring(settings) -> Keyring:
    """The private key from ``seal_private_key`` or ``seal_key_file``; outside production a missing file is
    created with a new key, and no setting at all gives an ephemeral key (records sealed with it cannot be
    verified after a restart). In production, no key (or a missing file) refuses to start (``SealKeyMissing``,
    raised while the service's deps are built)."""
    retired = tuple(load_public(k) for k in settings.seal_retired_public_keys)
    production = settings.environment == "production"
    if production and not settings.seal_private_key and not (settings.seal_key_file and settings.seal_key_file.is_file()):
        raise SealKeyMissing("MEDIATION_SEAL_KEY_FILE (an existing Ed25519 key file) or MEDIATION_SEAL_PRIVATE_KEY "
                             "must be set in production: records are sealed with a key the database does not hold")
    if settings.seal_private_key:
        return Keyring(load_private(settings.seal_private_key), retired)
    path = settings.seal_key_file
    if path is not None:
        if path.is_file():
            return Keyring(load_private(path.read_bytes()), retired)
        try:
            ring = _write_new(path)
        except FileExistsError:  # another process of this run wrote it first
            return Keyring(load_private(path.read_bytes()), retired)
        return Keyring(ring.private, retired)
    ring = Keyring.generate()
    log.warning("no MEDIATION_SEAL_KEY_FILE / MEDIATION_SEAL_PRIVATE_KEY: records are sealed with an ephemeral "
                "key for this process only (development)", key_id=ring.key_id)
    return Keyring(ring.private, retired, ephemeral=True)
