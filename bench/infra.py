"""Servers for the benches: embedded PostgreSQL + Tansu on free ports, uvicorn subprocesses,
and a peak-memory watcher (psutil + the kernel's VmHWM high-water mark)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from fengqiao_devstack.broker import TansuBroker
from fengqiao_devstack.postgres import EmbeddedPostgres, free_port

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


@dataclass
class Servers:
    pg: EmbeddedPostgres
    broker: TansuBroker
    root: Path

    @property
    def pg_url(self) -> str:
        return self.pg.url()

    def dsn(self, database: str) -> str:
        return self.pg.url(database, driver="postgresql")

    def sa_url(self, database: str) -> str:
        return self.pg.url(database)


@contextlib.contextmanager
def servers(fast_pg: bool = False):
    """Embedded PostgreSQL (durable settings unless ``fast_pg``) and a Tansu broker, on free ports."""
    root = Path(tempfile.mkdtemp(prefix="fq-bench-"))
    os.chmod(root, 0o755)
    pg = EmbeddedPostgres(root / "pg", free_port(), fast=fast_pg)
    broker = TansuBroker(port=free_port(), logfile=root / "tansu.log")
    pg.start()
    try:
        broker.start()
        try:
            yield Servers(pg, broker, root)
        finally:
            broker.stop()
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def peak_rss_mb(pid: int) -> float | None:
    """The kernel's high-water mark of the resident set (VmHWM), in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@dataclass
class MemoryWatch:
    """Samples the RSS of named processes; keeps the peak (VmHWM where readable, else sampled)."""

    pids: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task | None = None

    def add(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def sample(self) -> None:
        for name, pid in list(self.pids.items()):
            val = peak_rss_mb(pid)
            if val is None:
                try:
                    val = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
                except psutil.Error:
                    continue
            self.peaks[name] = max(self.peaks.get(name, 0.0), val)

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, float]:
        self.sample()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        return dict(self.peaks)


class Uvicorn:
    """``uvicorn --factory <target>`` as a subprocess on a free port (one worker, uvloop, httptools)."""

    def __init__(self, target: str, env: dict[str, str] | None = None, name: str | None = None):
        self.target = target
        self.port = free_port()
        self.env = env or {}
        self.name = name or target
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Uvicorn:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived server process
            [sys.executable, "-m", "uvicorn", "--factory", self.target, "--host", "127.0.0.1", "--port",
             str(self.port), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as c:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    r = await c.get(self.url + "/healthz", timeout=1)
                    if r.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not become healthy")
                await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 5)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
