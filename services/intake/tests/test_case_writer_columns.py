"""The raw-asyncpg write path names only columns the ORM tables have (no database needed)."""

from __future__ import annotations

import re

from fengqiao_intake.adapters import case_writer as w
from fengqiao_intake.adapters.orm import metadata


def _inserts(sql: str) -> list[tuple[str, list[str]]]:
    return [(t, [c.strip() for c in cols.split(",")])
            for t, cols in re.findall(r"INSERT INTO (\w+) \(([^)]*)\)", sql)]


def test_every_insert_of_the_write_path_uses_real_columns():
    statements = [w.INSERT_CASE, w.NEXT_CASE_NO]
    seen = set()
    for sql in statements:
        for table, cols in _inserts(sql):
            assert table in metadata.tables, table
            known = set(metadata.tables[table].c.keys())
            assert set(cols) <= known, (table, set(cols) - known)
            seen.add(table)
    assert seen == {"cases", "case_requesters", "case_timeline", "outbox", "case_counters", "sms_outbox"}


def test_the_new_case_row_fills_every_column_of_cases():
    assert set(w.CASE_COLUMNS) == set(metadata.tables["cases"].c.keys())


def test_reads_and_updates_name_real_columns():
    def cols(table: str) -> set[str]:
        return set(metadata.tables[table].c.keys())

    assert {"id", "lat", "lon", "category", "status", "reported_at"} <= cols("cases")
    for sql, table in ((w.DUPLICATE_CANDIDATES, "cases"), (w.CLAIM_ATTACHMENTS, "attachments"),
                       (w.LINK_ATTACHMENTS, "attachments")):
        names = set(re.findall(r"\b([a-z_]+)\s*(?:=|BETWEEN|NOT IN|>=|IS NULL|,)", sql))
        assert names and names <= cols(table), (table, names - cols(table))
