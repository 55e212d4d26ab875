"""Self-healing under ``make run``: the stack runs as ``fengqiao-stack run`` (its supervisor included, per-run
secrets, durable PostgreSQL), reports flow through the gateway, and a process is killed with SIGKILL.
Nobody restarts anything by hand: the supervisor brings the process back (the broker: restarted, topics
recreated, the outbox replayed from before the crash). Then every accepted report must have its case and
its orders exactly once, and analytics must count exactly the new cases and orders (Traffic.settle in
test_stack_faults.py). Recovery time: from the kill until all of that holds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fengqiao_devstack.stack import Stack
from fengqiao_devstack.testing import eventually
from test_make_run import _free_block, _wait_for_table
from test_stack_faults import SETTLE, Traffic

pytestmark = pytest.mark.slow


class RunStack:
    """``fengqiao-stack run`` in a subprocess, and a :class:`Stack` describing it for the checks."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fq-heal-"))
        base = _free_block(6)
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("FQ_", "KAFKA_"))},
                    "FQ_RUN_DIR": str(self.root), "FQ_GATEWAY_PORT": str(base), "FQ_PG_PORT": str(base + 100),
                    "FQ_KAFKA_PORT": str(base + 101), "GATEWAY_RATE_LIMIT_USER_PER_MINUTE": "100000"}
        self.proc = subprocess.Popen([sys.executable, "-m", "fengqiao_devstack.cli", "run"], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        _wait_for_table(self.proc)
        self.output: list[str] = []  # what the supervisor prints (read on, so that its pipe never fills)
        threading.Thread(target=lambda: self.output.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()
        self.stack = Stack(run_dir=self.root, gateway_port=base)

    def pids(self) -> dict[str, int]:
        return json.loads((self.root / "stack.json").read_text())["pids"]

    def supervisor_log(self) -> str:
        f = self.root / "logs" / "supervisor.log"
        return f.read_text() if f.exists() else ""

    def stop(self) -> None:
        pg_home = None
        try:
            pg_home = Path(json.loads((self.root / "stack.json").read_text())["pgdata"]).parent
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for p in psutil.process_iter(["pid", "cmdline"]):  # nothing may survive a failed test either
            text = " ".join(p.info.get("cmdline") or [])
            if str(self.root) in text or any(f"--port {s.port}" in text for s in self.stack.services):
                p.kill()
        shutil.rmtree(self.root, ignore_errors=True)
        if pg_home and pg_home.name.startswith("fengqiao-"):
            shutil.rmtree(pg_home, ignore_errors=True)


@pytest.fixture(scope="module")
def run_stack():
    s = RunStack()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
async def heal_traffic(run_stack):
    runs: list[Traffic] = []
    clients: list[httpx.AsyncClient] = []

    async def make(name: str) -> Traffic:
        c = httpx.AsyncClient(base_url=run_stack.stack.gateway_url, timeout=30)
        clients.append(c)
        t = Traffic(run_stack.stack, c, name)
        runs.append(t)
        await t.login()
        return t

    yield make
    for t in runs:
        t._stop.set()
        for task in t._tasks:
            task.cancel()
    for c in clients:
        await c.aclose()


async def test_make_run_heals_a_kill9_of_the_broker_under_reports(run_stack, heal_traffic, chaos_results):
    t = await heal_traffic("make run: kill -9 broker under reports (supervisor heals)")
    t.start()
    await t.until(30)
    old = run_stack.pids()["broker"]
    os.kill(old, signal.SIGKILL)
    t_fault = time.monotonic()
    await eventually(lambda: run_stack.pids().get("broker") not in (None, old), timeout=SETTLE)
    n = len(t.accepted)
    await t.until(n + 40, timeout=SETTLE)  # reports go on after the broker's death
    await t.stop()
    healed = [line for line in run_stack.supervisor_log().splitlines() if "broker recovered" in line]
    assert healed, run_stack.supervisor_log()
    row = await t.settle(t_fault, chaos_results, notes=healed[-1].split("supervisor: ")[-1])
    assert row["cases"] >= 70


async def test_make_run_heals_a_kill9_of_dispatch_under_reports(run_stack, heal_traffic, chaos_results):
    t = await heal_traffic("make run: kill -9 dispatch under reports (supervisor heals)")
    t.start()
    await t.until(30)
    old = run_stack.pids()["dispatch"]
    os.kill(old, signal.SIGKILL)
    t_fault = time.monotonic()
    await eventually(lambda: run_stack.pids().get("dispatch") not in (None, old), timeout=SETTLE)
    back = time.monotonic() - t_fault
    await t.until(len(t.accepted) + 40, timeout=SETTLE)
    await t.stop()
    assert "dispatch started again" in run_stack.supervisor_log()
    await t.settle(t_fault, chaos_results, notes=f"dispatch started again by the supervisor after {back:.1f}s")
