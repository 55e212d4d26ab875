"""The published seal keys and the signed daily chain-head statements: public (no identity), so a court
can fetch them; they hold no personal data (ids and hashes only)."""

from typing import Annotated

from fastapi import APIRouter, Path

from ..usecases import records
from .common import PREFIX, MediationDeps
from .schemas import SealKeysOut, SignedStatementOut

router = APIRouter(prefix=PREFIX, tags=["seals"])

Day = Annotated[str, Path(pattern=r"^\d{4}-\d{2}-\d{2}$", description="local day (MEDIATION_TIMEZONE)")]


@router.get("/seal-keys", operation_id="mediation_seal_keys")
async def seal_keys(deps: MediationDeps) -> SealKeysOut:
    """The Ed25519 public keys that seal records, agreements and daily statements (current and retired)."""
    return records.seal_keys(deps.uow())


@router.get("/seal-statements/{day}", operation_id="mediation_seal_statement")
async def seal_statement(day: Day, deps: MediationDeps) -> SignedStatementOut:
    """The signed statement of one day's chain heads: every mediation with a record sealed that day and its
    last record of the day (``final`` once the day is over)."""
    return await records.day_statement(deps.uow(), day)
