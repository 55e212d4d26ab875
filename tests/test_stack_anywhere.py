"""`make test`'s servers and `make run`'s start-up from a fresh private folder, and Ctrl-C from a terminal.

A copy of the repository (its tracked and new files, as a fresh clone would have them, plus a virtual
environment made by ``uv sync``) in a ``mktemp -d`` folder (mode 0700) whose path has a space in it;
as root here (the test suite runs as root), so the embedded PostgreSQL's user cannot enter it. A test
module that needs the session's embedded PostgreSQL and broker passes there; then the stack
starts there, in a process group of its own behind ``uv run`` as in a terminal, with per-run secrets;
every /readyz is green; then the process group gets SIGINT twice, as a terminal's Ctrl-C (and uv's
forwarded copy) does: no process of the run may remain and every port must be free.
"""

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from fengqiao_devstack.postgres import port_open
from test_make_run import _free_block, _wait_for_table

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def _copy_repo(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def _processes_of(run_dir: Path, clone: Path, ports: list[int]) -> list[str]:
    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        text = " ".join(p.info.get("cmdline") or [])
        if str(clone) in text or str(run_dir) in text or any(f"--port {port}" in text for port in ports) or \
                any(f"127.0.0.1:{port}" in text for port in ports) or any(f"-p {port}" in text for port in ports):
            out.append(f"{p.info['pid']} {text[:160]}")
    return out


def test_make_run_from_a_private_folder_as_root_and_ctrl_c_twice_leaves_nothing():
    assert os.geteuid() == 0, "this scenario is about root (the suite runs as root)"
    top = Path(tempfile.mkdtemp())
    assert stat.S_IMODE(top.stat().st_mode) == 0o700
    clone = top / "my clone"
    pg_dir: Path | None = None
    try:
        _copy_repo(clone)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "FQ_", "KAFKA_"))}
        subprocess.run(["uv", "sync", "--all-packages", "--locked", "--quiet"], cwd=clone, env=env, check=True,
                       timeout=600)
        # `make test` there: the test session's own embedded PostgreSQL and broker start from the clone
        tests = subprocess.run(["uv", "run", "--locked", "pytest", "tests/test_stack_replay.py", "-q",
                                "-p", "no:cacheprovider"], cwd=clone, env=env, capture_output=True, text=True,
                               timeout=600)
        assert tests.returncode == 0 and " passed" in tests.stdout, tests.stdout[-3000:] + tests.stderr[-2000:]
        base = _free_block(6)
        pg_port, kafka_port = base + 100, base + 101
        ports = [base + i for i in range(6)] + [pg_port, kafka_port]
        env.update(FQ_GATEWAY_PORT=str(base), FQ_PG_PORT=str(pg_port), FQ_KAFKA_PORT=str(kafka_port))
        proc = subprocess.Popen(["uv", "run", "--locked", "fengqiao-stack", "run"], cwd=clone, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            table = _wait_for_table(proc)
            run_dir = clone / ".run"
            for i in range(6):
                path = "/healthz" if i == 5 else "/readyz"  # the court simulator has no readiness
                r = httpx.get(f"http://127.0.0.1:{base + i}{path}", timeout=10)
                assert r.status_code == 200, (base + i, r.text)
            # per-run secrets: private, used by the services, never printed; PostgreSQL wants the password
            secrets = json.loads((run_dir / "secrets.json").read_text())
            assert stat.S_IMODE((run_dir / "secrets.json").stat().st_mode) == 0o600
            assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
            assert not any(v in table for v in secrets.values())
            gateway = next(p for p in psutil.process_iter(["cmdline"]) if f"--port {base}" in " ".join(
                p.info["cmdline"] or []))
            assert gateway.environ()["FQ_INTERNAL_TOKEN_SECRET"] == secrets["FQ_INTERNAL_TOKEN_SECRET"]
            assert "dev-only" not in gateway.environ().get("GATEWAY_TOKEN_SECRET", "dev-only")
            assert f"postgres:{secrets['pg_password']}@" in gateway.environ()["GATEWAY_DATABASE_URL"]
            pg_dir = Path(json.loads((run_dir / "stack.json").read_text())["pgdata"])
            assert not str(pg_dir).startswith(str(top))  # the server's user could not enter the clone
            assert stat.S_IMODE(pg_dir.parent.stat().st_mode) == 0o700
            assert stat.S_IMODE(top.stat().st_mode) == 0o700  # and nothing opened the user's folder
        finally:
            # Ctrl-C in a terminal: SIGINT to the whole process group, and a second one soon after
            with contextlib.suppress(ProcessLookupError):  # gone already when it failed to start
                group = os.getpgid(proc.pid)
                os.killpg(group, signal.SIGINT)
                time.sleep(0.3)
                os.killpg(group, signal.SIGINT)
            out, _ = proc.communicate(timeout=120)
        assert "stopped" in out, out[-2000:]
        time.sleep(0.5)
        left = _processes_of(clone / ".run", clone, ports)
        assert not left, left
        assert not [p for p in ports if port_open("127.0.0.1", p)]
        assert not pg_dir.joinpath("postmaster.pid").exists()
    finally:
        for p in _processes_of(clone / ".run", clone, []):  # never leave a server behind, even on failure
            psutil.Process(int(p.split()[0])).kill()
        shutil.rmtree(top, ignore_errors=True)
        if pg_dir is not None:
            shutil.rmtree(pg_dir.parent, ignore_errors=True)
