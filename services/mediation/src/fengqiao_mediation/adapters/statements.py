"""The daily statements written as files (``MEDIATION_SEAL_STATEMENT_DIR``): one signed JSON file per day,
``statement-YYYY-MM-DD.json``, for the archive and for whoever publishes them outside the service."""

from __future__ import annotations

import json
import os
from pathlib import Path


class StatementDir:
    def __init__(self, path: Path):
        self.path = path

    def _file(self, day: str) -> Path:
        return self.path / f"statement-{day}.json"

    def exists(self, day: str) -> bool:
        return self._file(day).is_file()

    def write(self, day: str, signed: dict) -> Path:
        """Written to a temporary name and renamed: a reader never sees half a file."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self._file(day)
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(signed, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, target)
        return target
