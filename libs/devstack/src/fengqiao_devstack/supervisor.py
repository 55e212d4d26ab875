"""Keeps a running stack serving (``make run``): restarts what crashes, recovers a broker that died.

- A service that exits is started again after a backoff (1 s, 2 s, 4 s ... at most 30 s). One that
  crashed ``max_crashes`` times within ``window`` seconds is given up (reported, left stopped, recorded
  in ``stack.json``), and the rest keep serving.
- The embedded broker (Tansu, memory storage) comes back empty after a crash: no topics, no consumer
  groups, none of the events it had acknowledged. The supervisor starts it again on its port,
  recreates the topics and replays every service's outbox from before the crash
  (:func:`fengqiao_events.replay.replay_since`: rows published since the broker started, at most
  ``replay_window`` seconds before the crash, become pending again and the relays publish them once
  more, same ids, same order per key). The consumers find their group gone, join it again and read the
  new topics from the beginning; what they had already handled they skip (``processed_events``).
- The embedded PostgreSQL, if its postmaster is gone, is started again (crash recovery on its data dir).

Everything it does goes to stdout and ``<run dir>/logs/supervisor.log``, with the time it took.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fengqiao_events import ensure_topics
from fengqiao_events.replay import replay_since


@dataclass
class RestartPolicy:
    max_crashes: int = int(os.environ.get("FQ_RESTART_MAX_CRASHES", "5"))
    window: float = float(os.environ.get("FQ_RESTART_WINDOW", "300"))
    backoff_first: float = 1.0
    backoff_max: float = 30.0
    replay_window: float = float(os.environ.get("FQ_BROKER_REPLAY_WINDOW", "3600"))

    def backoff(self, crashes: int) -> float:
        return min(self.backoff_first * 2 ** max(0, crashes - 1), self.backoff_max)


@dataclass
class _Track:
    crashes: deque = field(default_factory=deque)
    restart_at: float | None = None
    gave_up: bool = False


class Supervisor:
    def __init__(self, stack, policy: RestartPolicy | None = None, *, echo: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic):
        self.stack = stack
        self.policy = policy or RestartPolicy()
        self.echo = echo
        self.clock = clock
        self.tracks: dict[str, _Track] = {}
        self.restarts = 0
        self.broker_recoveries: list[dict] = []
        self._broker_alive_wall = time.time()
        self._broker_started_wall = getattr(stack, "broker_started_at", time.time())
        self._next_broker_try = 0.0
        self._logfile = stack.logs / "supervisor.log"

    def log(self, message: str) -> None:
        line = f"{datetime.fromtimestamp(time.time(), UTC).isoformat(timespec='seconds')} supervisor: {message}"
        self.echo(line)
        with contextlib.suppress(OSError), open(self._logfile, "a") as fh:
            fh.write(line + "\n")

    @property
    def given_up(self) -> list[str]:
        return sorted(name for name, t in self.tracks.items() if t.gave_up)

    # -- one pass ---------------------------------------------------------------------------------
    def check(self) -> None:
        self._check_postgres()
        self._check_broker()
        for name, proc in list(self.stack.procs.items()):
            self._check_service(name, proc)

    def _check_service(self, name: str, proc) -> None:
        track = self.tracks.setdefault(name, _Track())
        if track.gave_up:
            return
        now = self.clock()
        if track.restart_at is None:
            if proc.poll() is None:
                return
            track.crashes.append(now)
            while track.crashes and track.crashes[0] < now - self.policy.window:
                track.crashes.popleft()
            n = len(track.crashes)
            if n > self.policy.max_crashes:
                track.gave_up = True
                self.log(f"{name} exited ({proc.returncode}) {n} times within {self.policy.window:.0f}s: "
                         f"giving up on it, the rest keeps serving; see {self.stack.logs / (name + '.log')}")
                self.stack.given_up = self.given_up
                self.stack._write_state()
                return
            delay = self.policy.backoff(n)
            track.restart_at = now + delay
            self.log(f"{name} exited ({proc.returncode}); restarting in {delay:.0f}s "
                     f"(crash {n} of at most {self.policy.max_crashes} within {self.policy.window:.0f}s)")
        elif now >= track.restart_at:
            track.restart_at = None
            self.stack._spawn(self.stack.service(name))
            self.stack._write_state()
            self.restarts += 1
            self.log(f"{name} started again (pid {self.stack.procs[name].pid})")

    def _check_postgres(self) -> None:
        pg = self.stack.pg
        if pg is None or pg.running_pid() is not None:
            return
        t0 = time.monotonic()
        self.log("PostgreSQL is gone; starting it again (crash recovery)")
        try:
            pg.start()
        except Exception as exc:  # try again at the next pass
            self.log(f"PostgreSQL did not start: {exc}")
            return
        self.log(f"PostgreSQL is back after {time.monotonic() - t0:.1f}s")

    def _check_broker(self) -> None:
        broker = self.stack.broker
        if broker is None or broker.proc is None:
            return
        if broker.proc.poll() is None:
            self._broker_alive_wall = time.time()
            return
        if self.clock() < self._next_broker_try:
            return
        t0 = time.monotonic()
        if not self.broker_recoveries or self.broker_recoveries[-1].get("done"):
            self.broker_recoveries.append({"exit": broker.proc.returncode})
            self.log(f"the broker exited ({broker.proc.returncode}); restarting it, recreating the topics "
                     "and replaying the outbox")
        try:
            replayed = self.recover_broker()
        except Exception as exc:
            self._next_broker_try = self.clock() + 2.0
            self.log(f"broker recovery failed, trying again: {exc!r}")
            with contextlib.suppress(Exception):
                broker.proc.kill()  # a half-started broker: the next pass starts it anew
            return
        took = time.monotonic() - t0
        self.broker_recoveries[-1].update(done=True, seconds=took, replayed=replayed)
        self.log(f"broker recovered in {took:.1f}s: topics recreated, {sum(replayed.values())} events replayed "
                 f"from the outbox ({', '.join(f'{k} {v}' for k, v in replayed.items())})")

    def recover_broker(self) -> dict[str, int]:
        """Start the broker again, recreate the topics, replay each service's outbox; events replayed per
        service."""
        stack = self.stack
        # what the broker had: rows published since it started (at most replay_window before it died)
        since_wall = max(self._broker_started_wall, self._broker_alive_wall - self.policy.replay_window) - 5
        stack.broker.start()
        self._broker_started_wall = time.time()
        self._broker_alive_wall = self._broker_started_wall
        stack._write_state()
        since = datetime.fromtimestamp(since_wall, UTC)

        async def run() -> dict[str, int]:
            await ensure_topics(stack.bootstrap, partitions=stack.topic_partitions)
            out = {}
            for svc in stack.services:
                if svc.database:
                    out[svc.name] = (await replay_since(stack.database_url(svc), since)).rows
            return out

        return asyncio.run(run())
