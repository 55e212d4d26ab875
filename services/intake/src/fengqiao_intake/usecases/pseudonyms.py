"""Requester pseudonyms from before the HMAC (unsalted SHA-256 of "system|phone") recomputed with the key.

The migration marks every old ref ``pending``; this task (a background loop at start-up, safe on
several replicas: rows are locked with SKIP LOCKED) recomputes each from its origin case's
requester (normalised phone, else ID number; and ``id_ref`` from the ID number) and marks it ``hmac-sha256``; a row whose origin case
is gone keeps its old value as ``legacy-sha256`` (intake's own grouping only, never sent on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain import pii

if TYPE_CHECKING:
    from ..adapters.uow import IntakeUoW


async def rekey_requesters(uow: IntakeUoW, *, key: bytes, batch: int = 500) -> int:
    """One batch; returns how many rows it settled (0: nothing left)."""
    async with uow:
        rows = await uow.cases.pending_requesters(batch)
        for r in rows:
            if r["parties"] is None:  # the origin case is gone: nothing to recompute from
                await uow.cases.mark_legacy_ref(r["id"])
            else:
                await uow.cases.set_requester_ref(r["id"], pii.ref_of_parties(key, r["parties"]), pii.HMAC_SCHEME,
                                                  id_ref=pii.id_ref_of_parties(key, r["parties"]))
        await uow.commit()
    return len(rows)
