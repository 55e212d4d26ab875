"""Self-healing under ``make run``: the stack runs as ``uv run fengqiao-stack run`` from a fresh copy of the
repository in a 0700 folder as root (its supervisor included, per-run secrets, durable PostgreSQL), reports
flow through the gateway, and a process is killed with SIGKILL. At the end, Ctrl-C must leave nothing.
Nobody restarts anything by hand: the supervisor brings the process back (the broker: restarted, topics
recreated, the outbox replayed from before the crash). Then every accepted report must have its case and
its orders exactly once, and analytics must count exactly the new cases and orders (Traffic.settle in
test_stack_faults.py). Recovery time: from the kill until all of that holds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fengqiao_devstack.postgres import port_open
from fengqiao_devstack.stack import Stack
from fengqiao_devstack.testing import eventually
from test_make_run import _free_block, _wait_for_table
from test_stack_anywhere import _copy_repo, _processes_of
from test_stack_faults import SETTLE, Traffic

pytestmark = pytest.mark.slow


class RunStack:
    """``make run``'s ``uv run fengqiao-stack run`` from a fresh copy of the repository in a 0700 ``mktemp -d``
    folder (as root here), in a process group of its own as in a terminal; and a :class:`Stack` describing it
    for the checks. :meth:`stop` is Ctrl-C: SIGINT twice to the group."""

    def __init__(self) -> None:
        self.top = Path(tempfile.mkdtemp(prefix="fq-heal-"))
        clone = self.top / "fresh clone"
        _copy_repo(clone)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "FQ_", "KAFKA_"))}
        subprocess.run(["uv", "sync", "--all-packages", "--locked", "--quiet"], cwd=clone, env=env, check=True,
                       timeout=600)
        self.root = clone / ".run"
        base = _free_block(6)
        env.update(FQ_GATEWAY_PORT=str(base), FQ_PG_PORT=str(base + 100), FQ_KAFKA_PORT=str(base + 101),
                   GATEWAY_RATE_LIMIT_USER_PER_MINUTE="100000")
        self.ports = [base + i for i in range(6)] + [base + 100, base + 101]
        self.proc = subprocess.Popen(["uv", "run", "--locked", "fengqiao-stack", "run"], cwd=clone, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        try:
            _wait_for_table(self.proc)
        except BaseException:
            self.stop()
            raise
        self.output: list[str] = []  # what the supervisor prints (read on, so that its pipe never fills)
        threading.Thread(target=lambda: self.output.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()
        self.stack = Stack(run_dir=self.root, gateway_port=base)
        self.pg_home = Path(json.loads((self.root / "stack.json").read_text())["pgdata"]).parent

    def pids(self) -> dict[str, int]:
        return json.loads((self.root / "stack.json").read_text())["pids"]

    def supervisor_log(self) -> str:
        f = self.root / "logs" / "supervisor.log"
        return f.read_text() if f.exists() else ""

    def stop(self) -> list[str]:
        """Ctrl-C; returns what is left of the run (nothing, when it stopped cleanly)."""
        try:
            if self.proc.poll() is None:
                group = os.getpgid(self.proc.pid)
                os.killpg(group, signal.SIGINT)
                time.sleep(0.3)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGINT)
                try:
                    self.proc.wait(120)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            time.sleep(0.5)
            left = _processes_of(self.root, self.top, self.ports)
            left += [f"port {p} open" for p in self.ports if port_open("127.0.0.1", p)]
            return left
        finally:
            for p in _processes_of(self.root, self.top, self.ports):  # nothing may survive a failed test
                with contextlib.suppress(psutil.Error):
                    psutil.Process(int(p.split()[0])).kill()
            shutil.rmtree(self.top, ignore_errors=True)
            pg_home = getattr(self, "pg_home", None)
            if pg_home is not None and pg_home.name.startswith("fengqiao-"):
                shutil.rmtree(pg_home, ignore_errors=True)


@pytest.fixture(scope="module")
def run_stack():
    s = RunStack()
    stopped = False
    try:
        yield s
        stopped = True
        left = s.stop()
        assert not left, f"Ctrl-C left {left}"
    finally:
        if not stopped:
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
