"""Mediation lifecycle rules. Pure."""

from __future__ import annotations

OPEN = "open"  # created or referred, nothing booked yet
BOOKED = "booked"
IN_PROGRESS = "in_progress"  # at least one session recorded
AGREED = "agreed"  # agreement generated
APPLIED = "applied"  # judicial confirmation applied for
MATERIAL_REQUESTED = "material_requested"
CONFIRMED = "confirmed"
REJECTED = "rejected"
FAILED = "failed"

# Cases that occupy a mediator (capacity counts them).
ACTIVE = (BOOKED, IN_PROGRESS, AGREED)
BOOKABLE = (OPEN, BOOKED, IN_PROGRESS)
RECORDABLE = (BOOKED, IN_PROGRESS)
CAN_FAIL = (OPEN, BOOKED, IN_PROGRESS, AGREED, REJECTED)
CAN_APPLY = (AGREED, REJECTED)

SIDES = ("applicant", "respondent")


def required_signers(mediator_id: str, party_ids: list[str]) -> set[str]:
    """Process confirmation: the mediator and every party sign."""
    return {f"mediator:{mediator_id}"} | {f"party:{p}" for p in party_ids}


def agreement_points(records: list[dict]) -> tuple[list[str], list[str]]:
    """Points agreed across sealed records in order (duplicates once), and the last record's outstanding."""
    agreed: list[str] = []
    for r in records:
        for p in r["points_agreed"]:
            if p not in agreed:
                agreed.append(p)
    outstanding = list(records[-1]["points_outstanding"]) if records else []
    return agreed, outstanding
