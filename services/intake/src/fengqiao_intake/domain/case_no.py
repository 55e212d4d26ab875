"""Readable case numbers: ``<street code>-YYYYMMDD-NNNN`` with a sequence per street and day."""

from __future__ import annotations

from datetime import date


def format_case_no(street: str, day: date, seq: int) -> str:
    return f"{street}-{day:%Y%m%d}-{seq:04d}"
