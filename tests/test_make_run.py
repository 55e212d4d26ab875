"""`make run` smoke test: the stack comes up, every /readyz is green, a second run after a crash of the
supervisor recovers without manual clean-up, and `make stop` from another terminal leaves no process
behind (Ctrl-C from a terminal: tests/test_stack_anywhere.py)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fengqiao_devstack.postgres import port_open, server_home

pytestmark = pytest.mark.slow


def _free_block(n: int = 6) -> int:
    for base in range(21000, 40000, 37):
        if not any(port_open("127.0.0.1", base + i, 0.05) for i in range(n)):
            return base
    raise RuntimeError("no free port block")


def _start(env, mode="run"):
    return subprocess.Popen([sys.executable, "-m", "fengqiao_devstack.cli", mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_table(proc, timeout=240) -> str:
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        out.append(line)
        if "Press Ctrl-C" in line:
            return "".join(out)
    raise AssertionError("stack did not come up:\n" + "".join(out))


def _stack_processes(run_dir: Path, ports):
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        text = " ".join(p.info.get("cmdline") or [])
        if str(run_dir) in text or any(f"--port {port}" in text for port in ports) or \
                f"tcp://127.0.0.1:{ports[-1]}" in text:
            found.append(p.info["pid"])
    return found


def test_make_run_up_ready_and_clean_shutdown_and_crash_recovery():
    run_dir = Path(tempfile.mkdtemp(prefix="fq-run-"))
    base = _free_block(6)
    pg_port, kafka_port = base + 100, base + 101
    env = {**os.environ, "FQ_RUN_DIR": str(run_dir), "FQ_GATEWAY_PORT": str(base), "FQ_PG_PORT": str(pg_port),
           "FQ_KAFKA_PORT": str(kafka_port)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    ports = [base + i for i in range(6)] + [kafka_port]

    proc = _start(env)
    table = _wait_for_table(proc)
    assert f"http://127.0.0.1:{base}" in table
    r = httpx.get(f"http://127.0.0.1:{base}/readyz", timeout=10)
    assert r.status_code == 200, r.text
    for i in range(1, 5):
        assert httpx.get(f"http://127.0.0.1:{base + i}/readyz", timeout=10).status_code == 200

    # crash the supervisor: services, broker and postmaster are left behind
    proc.kill()
    proc.wait(10)
    assert port_open("127.0.0.1", base) and port_open("127.0.0.1", pg_port)

    # a second run recovers by itself
    proc = _start(env)
    _wait_for_table(proc)
    assert httpx.get(f"http://127.0.0.1:{base}/readyz", timeout=10).status_code == 200

    # `make stop` from another terminal: the supervisor stops everything (and restarts nothing meanwhile)
    stop = subprocess.run([sys.executable, "-m", "fengqiao_devstack.cli", "stop"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "stopped" in stop.stdout, stop.stdout + stop.stderr
    proc.wait(60)
    assert proc.returncode == 0
    assert "restarting" not in proc.stdout.read()
    time.sleep(0.5)
    for port in [*ports, pg_port]:
        assert not port_open("127.0.0.1", port), f"port {port} still open"
    assert not _stack_processes(run_dir, ports)
    shutil.rmtree(run_dir, ignore_errors=True)
    if os.geteuid() == 0:  # as root the server's files live apart (fengqiao_devstack.postgres)
        shutil.rmtree(server_home(run_dir / "pgdata"), ignore_errors=True)
