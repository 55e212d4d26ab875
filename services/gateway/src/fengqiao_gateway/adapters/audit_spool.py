"""A local durable spool for audit rows the database did not take: JSON lines appended and fsync'd to a file of
this process (``audit-<pid>-<random>.jsonl`` in the spool directory), moved into the database later by any
process of the gateway (a file is taken under an exclusive ``flock``, so two processes never move the same one).

Blocking file calls: the writer runs them in a thread (``asyncio.to_thread``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import structlog

log = structlog.get_logger("fengqiao.gateway.audit")


def _encode(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def _decode(line: str) -> dict:
    row = json.loads(line)
    if isinstance(row.get("at"), str):
        row["at"] = datetime.fromisoformat(row["at"])
    return row


class AuditSpool:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self._lock = threading.Lock()
        self._file = None  # this process's current file, held under flock while open

    def _open(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"audit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        f = open(self.dir / f"{name}.tmp", "a", encoding="utf-8")
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(self.dir / f"{name}.tmp", self.dir / f"{name}.jsonl")  # visible to movers only once locked
        return f

    def append(self, rows: list[dict]) -> None:
        """Durable on return (written and fsync'd); raises OSError when the disk does not take them."""
        data = "".join(_encode(r) + "\n" for r in rows)
        with self._lock:
            if self._file is None:
                self._file = self._open()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())

    def rotate(self) -> None:
        """Close this process's file (so it can be moved); the next append starts a new one."""
        with self._lock:
            if self._file is not None:
                self._file.close()  # releases the flock
                self._file = None

    def pending(self) -> bool:
        with contextlib.suppress(FileNotFoundError):
            return any(p.suffix == ".jsonl" for p in self.dir.iterdir())
        return False

    def files(self) -> list[Path]:
        with contextlib.suppress(FileNotFoundError):
            return sorted(p for p in self.dir.iterdir() if p.suffix == ".jsonl")
        return []

    @contextlib.contextmanager
    def take(self, path: Path) -> Iterator[list[dict] | None]:
        """The rows of a closed spool file, locked against other movers (None if another process holds it);
        the file is deleted when the block ends without an exception."""
        try:
            f = open(path, encoding="utf-8")
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            rows = []
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(_decode(line))
                except ValueError:  # a line cut short by a crash mid-write (never fsync'd, never acknowledged)
                    log.error("unreadable audit spool line skipped", file=str(path), line=n)
            yield rows
            path.unlink(missing_ok=True)
        finally:
            f.close()
