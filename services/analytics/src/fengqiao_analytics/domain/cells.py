"""Spreadsheet safety of exported cells (issue #15, part 7): a text cell that begins with a character a
spreadsheet reads as the start of a formula (``= + - @``, tab, carriage return) is neutralised with a
leading apostrophe, so ``=HYPERLINK(...)`` arrives as text, never as a live formula."""

from __future__ import annotations

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(s: str) -> str:
    return "'" + s if s.startswith(DANGEROUS) else s
