"""The whole system on one machine: ``make run`` and the end-to-end test fixture.

Starts (unless pointed at real servers by environment variables) an embedded PostgreSQL with one
database per service and a Tansu broker on loopback, runs every service's migrations, creates the
topics, starts every service and the gateway as uvicorn subprocesses with demo data, waits until
each one's /readyz is green and prints the URLs and demo credentials (:mod:`.cli`). While it runs,
:mod:`.supervisor` restarts what crashes. Ctrl-C (or ``make stop``) stops everything it started, also
when the terminal sends the signal twice; a second run after a crash cleans up what the first left.
With ``secrets=True`` (``make run``) each run draws its own secrets (:mod:`.runsecrets`) and the
embedded PostgreSQL requires a password.

Environment:
  FQ_RUN_DIR               state, logs and the PostgreSQL data dir      (default <repo>/.run)
  FQ_PG_PORT               embedded PostgreSQL port                       (default 55432)
  FQ_PG_URL                use this PostgreSQL server instead (postgresql://user:pw@host:port/postgres)
  <SERVICE>_DATABASE_URL   use this database for one service (e.g. INTAKE_DATABASE_URL)
  KAFKA_BOOTSTRAP_SERVERS  use this Kafka cluster instead of the embedded broker
  FQ_KAFKA_PORT            embedded broker port                           (default 9092)
  FQ_GATEWAY_PORT          gateway port                                   (default 8000)
  FQ_DEMO_DATA             load demo data and credentials                 (default true)
  FQ_RESTART_MAX_CRASHES, FQ_RESTART_WINDOW, FQ_BROKER_REPLAY_WINDOW      see supervisor.py
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy.engine import make_url

from . import runsecrets
from .broker import TansuBroker
from .layout import ServiceDef, default_services, module_exists
from .postgres import EmbeddedPostgres, free_port

REPO_ROOT = Path(__file__).resolve().parents[4]


@dataclass
class Stack:
    run_dir: Path = field(default_factory=lambda: Path(os.environ.get("FQ_RUN_DIR", REPO_ROOT / ".run")))
    pg_port: int = int(os.environ.get("FQ_PG_PORT", "55432"))
    kafka_port: int = int(os.environ.get("FQ_KAFKA_PORT", "9092"))
    gateway_port: int = int(os.environ.get("FQ_GATEWAY_PORT", "8000"))
    demo: bool = os.environ.get("FQ_DEMO_DATA", "true").lower() in ("1", "true", "yes")
    fast_pg: bool = False
    random_ports: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    # one replica per service here: 3 partitions per topic are plenty, and every partition costs the broker
    # CPU on each consumer poll even when idle (measured: 0.74 of a core idle with 6, 0.55 with 3);
    # Kubernetes deployments create 12 (deploy/k8s).
    topic_partitions: int = int(os.environ.get("FQ_TOPIC_PARTITIONS", "3"))
    secrets: bool = False  # per-run secrets and a PostgreSQL password (make run); tests keep the dev ones

    def __post_init__(self):
        self.run_dir = Path(self.run_dir).resolve()
        if self.random_ports:
            self.pg_port, self.kafka_port = free_port(), free_port()
            ports = [free_port() for _ in range(6)]
            self.services = default_services(0)
            for svc, p in zip(self.services, ports, strict=True):
                svc.port = p
            self.gateway_port = self.services[-1].port
        else:
            self.services = default_services(self.gateway_port)
        self.services = [s for s in self.services if module_exists(s.factory)]
        self.pg: EmbeddedPostgres | None = None
        self.broker: TansuBroker | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.pg_server_url = os.environ.get("FQ_PG_URL", "")
        self.logs = self.run_dir / "logs"
        self.run_secrets: dict[str, str] = {}
        self.supervisor_pid: int | None = os.getpid()  # None: nobody watches it (``up``)
        self.given_up: list[str] = []
        self.broker_started_at = time.time()

    # -- paths and urls -----------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def credentials_file(self) -> Path:
        return self.run_dir / "demo-credentials.json"

    def url(self, name: str) -> str:
        svc = self.service(name)
        return f"http://127.0.0.1:{svc.port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def service(self, name: str) -> ServiceDef:
        return next(s for s in self.services if s.name == name)

    def database_url(self, svc: ServiceDef) -> str:
        explicit = os.environ.get(f"{svc.prefix}DATABASE_URL")
        if explicit:
            return explicit
        server = self.pg_server_url or (self.pg.url() if self.pg else "")
        return make_url(server).set(drivername="postgresql+asyncpg", database=f"fq_{svc.name}").render_as_string(
            hide_password=False)

    def _needs_embedded_pg(self) -> bool:
        return not self.pg_server_url and any(
            s.database and not os.environ.get(f"{s.prefix}DATABASE_URL") for s in self.services)

    # -- recovery -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Stop whatever a previous (crashed) run left: recorded pids, stray services, stale postmaster."""
        stop_recorded(self.run_dir, quiet=True)
        ports = {s.port for s in self.services}
        for p in psutil.process_iter(["pid", "cmdline"]):
            cmd = p.info.get("cmdline") or []
            text = " ".join(cmd)
            if "uvicorn" in text and "fengqiao_" in text and any(f"--port {port}" in text for port in ports):
                _kill_if_ours(p.info["pid"])

    def _write_state(self) -> None:
        pids = {name: p.pid for name, p in self.procs.items()}
        if self.broker and self.broker.pid:
            pids["broker"] = self.broker.pid
        state = {"supervisor": self.supervisor_pid, "pids": pids, "pgdata": str(self.pg.datadir) if self.pg else None,
                 "gateway": self.gateway_url, "services": {s.name: self.url(s.name) for s in self.services},
                 "given_up": self.given_up}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        self.logs.mkdir(exist_ok=True)
        self.recover()
        try:
            if self.secrets:
                self.run_secrets = runsecrets.generate(self.run_dir, keep_pg_password=True)
            if self._needs_embedded_pg():
                self.pg = EmbeddedPostgres(self.run_dir / "pgdata", self.pg_port, fast=self.fast_pg,
                                           password=self.run_secrets.get(runsecrets.PG_PASSWORD))
                self.pg.start()
            if not self.bootstrap:
                self.broker = TansuBroker(self.kafka_port, logfile=self.logs / "broker.log")
                self.broker_started_at = time.time()  # what it had came after this (supervisor's replay)
                self.broker.start()
                self.bootstrap = self.broker.bootstrap
            self._write_state()
            asyncio.run(self._prepare())
            for svc in self.services:
                self._spawn(svc)
            self._write_state()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    async def _prepare(self) -> None:
        from fengqiao_common.db import migrate
        from fengqiao_events import ensure_topics

        jobs = []
        for svc in self.services:
            if svc.database:
                mod = importlib.import_module(svc.package)
                jobs.append(migrate(mod.SERVICE_DIR, self.database_url(svc)))
        await asyncio.gather(*jobs)
        await ensure_topics(self.bootstrap, partitions=self.topic_partitions)

    def env_for(self, svc: ServiceDef) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "FQ_ENVIRONMENT": env.get("FQ_ENVIRONMENT", "development"),
            f"{svc.prefix}PORT": str(svc.port),
            f"{svc.prefix}DEMO_DATA": "true" if self.demo else "false",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(runsecrets.service_env(self.run_secrets))
        if svc.database:
            env[f"{svc.prefix}DATABASE_URL"] = self.database_url(svc)
        names = {s.name for s in self.services}
        if svc.name == "gateway":
            for other in ("intake", "dispatch", "mediation", "analytics"):
                if other in names:
                    env[f"GATEWAY_{other.upper()}_URL"] = self.url(other)
            env["GATEWAY_DEMO_CREDENTIALS_FILE"] = str(self.credentials_file)
        if svc.name == "intake":
            # development: external systems' webhooks may point at a receiver on this machine
            env.setdefault("INTAKE_WEBHOOK_ALLOWED_HOSTS", "localhost,127.0.0.1")
            env.setdefault("INTAKE_WEBHOOK_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8")
        if svc.name == "mediation":
            env.setdefault("MEDIATION_SEAL_KEY_FILE", str(self.run_dir / "mediation-seal.pem"))
        if svc.name == "mediation" and "court" in names:
            env["MEDIATION_COURT_BASE_URL"] = self.url("court")
        if svc.name == "court" and "mediation" in names:
            env["COURT_MEDIATION_BASE_URL"] = self.url("mediation")
        env.update(self.extra_env)
        return env

    def _spawn(self, svc: ServiceDef) -> None:
        log = open(self.logs / f"{svc.name}.log", "ab")
        # the gateway computes the client address itself (GATEWAY_TRUSTED_PROXIES): uvicorn must not
        # replace the peer with X-Forwarded-For
        proxy = ["--no-proxy-headers"] if svc.name == "gateway" else []
        self.procs[svc.name] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", svc.factory, "--host", "127.0.0.1",
             "--port", str(svc.port), "--no-access-log", "--timeout-graceful-shutdown", "5", *proxy],
            stdout=log, stderr=subprocess.STDOUT, env=self.env_for(svc), cwd=str(REPO_ROOT),
            start_new_session=True,
        )

    def restart_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a service (SIGKILL by default: fault injection) and start it again."""
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(15)
        self._spawn(self.service(name))
        self._write_state()

    def wait_ready(self, timeout: float = 120, names: list[str] | None = None) -> None:
        deadline = time.time() + timeout
        pending = [s for s in self.services if names is None or s.name in names]
        with httpx.Client(timeout=3) as client:
            while pending:
                for svc in list(pending):
                    proc = self.procs.get(svc.name)  # none: a stack run by another process (attached)
                    if proc is not None and proc.poll() is not None:
                        if self._rebind(svc):
                            pending = [s for s in self.services if names is None or s.name in names]
                            break
                        raise RuntimeError(f"{svc.name} exited with {proc.returncode}:\n{self.log_tail(svc.name)}")
                    try:
                        if client.get(f"{self.url(svc.name)}{svc.ready_path}").status_code == 200:
                            pending.remove(svc)
                    except httpx.HTTPError:
                        pass
                if pending and time.time() > deadline:
                    tails = "\n".join(f"--- {s.name}\n{self.log_tail(s.name)}" for s in pending)
                    raise RuntimeError(f"not ready after {timeout}s: {[s.name for s in pending]}\n{tails}")
                if pending:
                    time.sleep(0.3)

    def _rebind(self, svc: ServiceDef) -> bool:
        """With random ports, a port found free can be taken before the service binds it: give it a new
        port, restart every service (they name each other's URLs). At most 3 times; False: not a lost port."""
        self._rebinds = getattr(self, "_rebinds", 0)
        if not self.random_ports or self._rebinds >= 3 or "address already in use" not in self.log_tail(svc.name, 600):
            return False
        self._rebinds += 1
        svc.port = free_port()
        if svc.name == "gateway":
            self.gateway_port = svc.port
        for name, proc in list(self.procs.items()):
            if proc.poll() is None and name in {s.name for s in self.services}:
                proc.kill()
                proc.wait(15)
        for other in self.services:
            self._spawn(other)
        self._write_state()
        return True

    def log_tail(self, name: str, n: int = 3000) -> str:
        f = self.logs / f"{name}.log"
        return f.read_text(errors="replace")[-n:] if f.exists() else ""

    def stop(self, remove_data: bool = False) -> None:
        """Stop everything this stack started; further SIGINT/SIGTERM are ignored meanwhile (a terminal's
        Ctrl-C reaches the whole process group, and ``uv run`` forwards another one). ``remove_data``:
        also delete the embedded PostgreSQL's files (temporary stacks)."""
        with signals_ignored():
            self._stop()
            if remove_data and self.pg:
                self.pg.remove()

    def _stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        if self.broker:
            self.broker.stop()
        if self.pg:
            self.pg.stop()
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()

    def credentials(self) -> dict:
        if self.credentials_file.exists():
            return json.loads(self.credentials_file.read_text())
        return {}


@contextlib.contextmanager
def signals_ignored():
    """SIGINT and SIGTERM ignored inside (main thread only; elsewhere signals are not delivered anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)




def _ours(pid: int) -> psutil.Process | None:
    """The process ``pid`` if it is one of a stack's (not this one): a pid may have been reused."""
    try:
        p = psutil.Process(pid)
        text = " ".join(p.cmdline())
        if pid != os.getpid() and ("fengqiao" in text or "tansu" in text or "uvicorn" in text):
            return p
    except psutil.Error:
        pass
    return None


def _kill_if_ours(*pids: int, wait: float = 10) -> None:
    """SIGTERM to those of ``pids`` that are ours, all at once; SIGKILL to those still there after ``wait``."""
    procs = [p for p in map(_ours, pids) if p is not None]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=wait)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


def stop_recorded(run_dir: Path, quiet: bool = False) -> bool:
    """``make stop``: stop what a running ``make run`` recorded, from another terminal. Its supervisor is
    asked first (SIGTERM: it stops everything itself, and restarts nothing meanwhile); what is left of a
    run whose supervisor is gone (crashed, or ``up``) is stopped by its recorded pids. False when nothing
    was recorded."""
    state_file = run_dir / "stack.json"
    try:
        state = json.loads(state_file.read_text())
    except (FileNotFoundError, ValueError):
        if not quiet:
            print("nothing recorded as running")
        return False
    if state.get("supervisor"):
        _kill_if_ours(state["supervisor"], wait=90)
    _kill_if_ours(*state.get("pids", {}).values(), wait=15)
    if state.get("pgdata"):
        EmbeddedPostgres.existing(Path(state["pgdata"])).stop()
    state_file.unlink(missing_ok=True)
    if not quiet:
        print("stopped")
    return True


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
