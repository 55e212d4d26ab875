"""The supervisor's restart policy and the run secrets, on fakes (no processes, no servers)."""

import json
import os
import stat
from pathlib import Path

from fengqiao_devstack import runsecrets
from fengqiao_devstack.supervisor import RestartPolicy, Supervisor


class FakeProc:
    _next_pid = 1000

    def __init__(self):
        FakeProc._next_pid += 1
        self.pid = FakeProc._next_pid
        self.returncode = None

    def poll(self):
        return self.returncode

    def crash(self, rc=-9):
        self.returncode = rc


class FakeStack:
    def __init__(self, tmp: Path, names=("intake", "dispatch", "gateway")):
        self.logs = tmp
        self.pg = None
        self.broker = None
        self.procs = {n: FakeProc() for n in names}
        self.spawned: list[str] = []
        self.given_up: list[str] = []
        self.states = 0

    def service(self, name):
        return name

    def _spawn(self, name):
        self.procs[name] = FakeProc()
        self.spawned.append(name)

    def _write_state(self):
        self.states += 1


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def make(tmp_path, **policy):
    stack, clock, lines = FakeStack(tmp_path), Clock(), []
    sup = Supervisor(stack, RestartPolicy(**policy), echo=lines.append, clock=clock)
    return stack, clock, lines, sup


def test_a_crashed_service_is_restarted_after_a_growing_backoff_and_the_rest_is_left_alone(tmp_path):
    stack, clock, lines, sup = make(tmp_path, max_crashes=5, window=300)
    others = {n: stack.procs[n] for n in ("intake", "gateway")}
    stack.procs["dispatch"].crash()
    sup.check()
    assert stack.spawned == []  # not at once: after the backoff
    clock.t = 0.9
    sup.check()
    assert stack.spawned == []
    clock.t = 1.0
    sup.check()
    assert stack.spawned == ["dispatch"] and stack.procs["dispatch"].poll() is None
    assert {n: stack.procs[n] for n in others} == others  # the others were not touched
    # a second crash waits twice as long
    stack.procs["dispatch"].crash()
    clock.t = 10.0
    sup.check()
    clock.t = 11.9
    sup.check()
    assert stack.spawned == ["dispatch"]
    clock.t = 12.0
    sup.check()
    assert stack.spawned == ["dispatch", "dispatch"] and sup.restarts == 2
    assert any("dispatch exited (-9); restarting in 2s" in line for line in lines)
    assert (tmp_path / "supervisor.log").read_text().count("started again") == 2


def test_a_service_crashing_too_often_is_given_up_and_reported(tmp_path):
    stack, clock, lines, sup = make(tmp_path, max_crashes=3, window=100, backoff_first=1, backoff_max=1)
    for _ in range(3):
        stack.procs["intake"].crash(rc=1)
        sup.check()
        clock.t += 1
        sup.check()
        clock.t += 1
    assert stack.spawned == ["intake"] * 3
    stack.procs["intake"].crash(rc=1)
    sup.check()
    clock.t += 5
    sup.check()
    assert stack.spawned == ["intake"] * 3  # the fourth crash within the window: given up
    assert sup.given_up == ["intake"] == stack.given_up
    assert any("giving up on it, the rest keeps serving" in line for line in lines)
    stack.procs["gateway"].crash()
    sup.check()
    clock.t += 1
    sup.check()
    assert stack.spawned[-1] == "gateway"  # the others are still looked after


def test_crashes_older_than_the_window_are_forgotten(tmp_path):
    stack, clock, _, sup = make(tmp_path, max_crashes=2, window=10, backoff_first=1, backoff_max=1)
    for _ in range(6):  # one crash every 20 s: never 3 within 10 s
        stack.procs["dispatch"].crash()
        sup.check()
        clock.t += 1
        sup.check()
        clock.t += 19
    assert stack.spawned == ["dispatch"] * 6 and sup.given_up == []


def test_backoff_is_capped():
    p = RestartPolicy(backoff_first=1, backoff_max=30)
    assert [p.backoff(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [1, 2, 4, 8, 16, 30, 30]


def test_run_secrets_are_new_each_run_private_and_keep_the_database_password(tmp_path):
    first = runsecrets.generate(tmp_path, keep_pg_password=True)
    path = runsecrets.secrets_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == first
    assert set(first) == {*runsecrets.PER_RUN, *runsecrets.PER_DATA_DIR, runsecrets.PG_PASSWORD}
    assert all(len(first[k]) >= 32 for k in runsecrets.PER_RUN)
    second = runsecrets.generate(tmp_path, keep_pg_password=True)
    assert all(first[k] != second[k] for k in runsecrets.PER_RUN)
    assert first[runsecrets.PG_PASSWORD] == second[runsecrets.PG_PASSWORD]
    # the requester-pseudonym key lives as long as the data dir: the pseudonyms stored are keyed with it
    assert first["INTAKE_REQUESTER_KEY"] == second["INTAKE_REQUESTER_KEY"] and len(first["INTAKE_REQUESTER_KEY"]) >= 32
    third = runsecrets.generate(tmp_path, keep_pg_password=False)
    assert third[runsecrets.PG_PASSWORD] != second[runsecrets.PG_PASSWORD]
    assert third["INTAKE_REQUESTER_KEY"] != second["INTAKE_REQUESTER_KEY"]
    # what the services get: the generated secrets, unless the environment names its own; never the password
    env = runsecrets.service_env(third, {"GATEWAY_TOKEN_SECRET": "mine-" + "x" * 40})
    assert "GATEWAY_TOKEN_SECRET" not in env and runsecrets.PG_PASSWORD not in env
    assert env["FQ_INTERNAL_TOKEN_SECRET"] == third["FQ_INTERNAL_TOKEN_SECRET"]
    assert env["INTAKE_REQUESTER_KEY"] == third["INTAKE_REQUESTER_KEY"]
    assert os.environ.get("FQ_INTERNAL_TOKEN_SECRET") != third["FQ_INTERNAL_TOKEN_SECRET"]


class FakeBroker:
    def __init__(self):
        self.proc = FakeProc()
        self.starts = 0

    def start(self):
        self.starts += 1
        self.proc = FakeProc()


def test_a_dead_broker_is_recovered_once_and_a_failed_recovery_is_tried_again(tmp_path, monkeypatch):
    stack, clock, lines, sup = make(tmp_path)
    stack.broker = FakeBroker()
    stack.broker_started_at = 1000.0
    calls = []

    def recover():
        calls.append(clock.t)
        if len(calls) == 1:
            raise OSError("port still taken")
        stack.broker.start()
        return {"intake": 3, "dispatch": 4}

    monkeypatch.setattr(sup, "recover_broker", recover)
    sup.check()
    assert calls == []  # alive: nothing to do
    stack.broker.proc.crash()
    sup.check()
    assert calls == [0.0] and any("broker recovery failed, trying again" in line for line in lines)
    clock.t = 1.0
    sup.check()
    assert calls == [0.0]  # waits 2 s before the next try
    clock.t = 2.5
    sup.check()
    assert calls == [0.0, 2.5] and stack.broker.proc.poll() is None
    assert sup.broker_recoveries == [{"exit": -9, "done": True, "seconds": sup.broker_recoveries[0]["seconds"],
                                      "replayed": {"intake": 3, "dispatch": 4}}]
    assert any("7 events replayed from the outbox (intake 3, dispatch 4)" in line for line in lines)
    clock.t = 10
    sup.check()
    assert len(calls) == 2  # back to normal
