"""Spreadsheet-safe CSV (pure, no I/O): user text never becomes a formula when a CSV is opened.

Excel, WPS and LibreOffice evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK(...)``, ``=cmd|...``), and a leading tab or carriage return hides such a
prefix. :func:`safe_cell` prefixes those cells with an apostrophe, which spreadsheets show as
text and do not evaluate (OWASP "CSV injection"). Numbers and dates are written as they are.
Shared rule for every service's exports (analytics may import it, or it moves to libs/common).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as written to a CSV cell: text starting with a formula character gets a leading ``'``;
    ``None`` is an empty cell; ints, floats, dates and booleans are kept (a negative number stays a number)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | date | datetime):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def to_csv(header: Iterable[str], rows: Iterable[Iterable[Any]], *, bom: bool = True) -> bytes:
    """UTF-8 CSV (with a BOM by default, so spreadsheets read Chinese text right); every cell made safe."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(safe_row(header))
    for row in rows:
        w.writerow(safe_row(row))
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")
