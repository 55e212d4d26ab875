"""``fengqiao-stack run|up|stop`` (``make run``, ``make up``, ``make stop``).

``run`` starts the stack with per-run secrets, prints the URLs and the demo credentials, and then
supervises it (:mod:`.supervisor`) until SIGINT or SIGTERM. The first such signal stops everything;
further ones are ignored until it is done (Ctrl-C in a terminal reaches the whole process group, and
``uv run`` forwards a second one). ``up`` starts it and exits, leaving it running unsupervised.
``stop`` stops a recorded run from another terminal.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from .stack import Stack, stop_recorded
from .supervisor import Supervisor


def print_table(stack: Stack) -> None:
    rows = [("gateway (public API, console)", stack.gateway_url),
            ("staff console", f"{stack.gateway_url}/console"),
            ("big screen", f"{stack.gateway_url}/screen"),
            ("OpenAPI (whole public API)", f"{stack.gateway_url}/docs"),
            ("readiness of every service", f"{stack.gateway_url}/readyz")]
    rows += [(f"{s.name} (internal)", stack.url(s.name)) for s in stack.services if s.name != "gateway"]
    rows += [("Kafka bootstrap", stack.bootstrap)]
    if stack.pg:
        where = " (password in secrets.json)" if stack.pg.password else ""
        rows.append(("PostgreSQL", f"postgresql://postgres@{stack.pg.host}:{stack.pg.port}/postgres{where}"))
    if stack.run_secrets:
        rows.append(("this run's secrets (0600)", str(stack.run_dir / "secrets.json")))
    w = max(len(a) for a, _ in rows)
    print("\nFengqiao is running\n")
    for a, b in rows:
        print(f"  {a:<{w}}  {b}")
    creds = stack.credentials()
    if creds:
        print(f"\nDemo credentials (development only; also in {stack.credentials_file}):\n")
        for u in creds.get("users", []):
            extra = u.get("department") or ",".join(u.get("grids", []) or []) or ""
            print(f"  user     {u.get('role', ''):<20} {u.get('username', ''):<16} {u.get('password', ''):<20} {extra}")
        for k in creds.get("api_keys", []):
            print(f"  api key  {k.get('scope', k.get('name', '')):<20} {k.get('key', '')}")
    print("\nPress Ctrl-C to stop everything.\n", flush=True)


def _stop_on_first_signal(signum, _frame):
    # from now on the stop must not be interrupted: the terminal's and uv's copies of Ctrl-C are ignored
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from . import stack as stack_module

    ap = argparse.ArgumentParser(prog="fengqiao-stack", description=stack_module.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "stop", "up"], help="run: start, supervise, stop at Ctrl-C; "
                    "up: start, print, exit leaving it running (stop with 'stop'); stop: stop a recorded run")
    args = ap.parse_args(argv)
    stack = Stack(secrets=True)
    if args.command == "stop":
        stop_recorded(stack.run_dir)
        return 0
    signal.signal(signal.SIGINT, _stop_on_first_signal)
    signal.signal(signal.SIGTERM, _stop_on_first_signal)
    try:
        print("starting embedded PostgreSQL, Kafka-protocol broker and services ...", flush=True)
        stack.start()
        print_table(stack)
        if args.command == "up":
            stack.supervisor_pid = None  # left running, unsupervised: `stop` stops it by its recorded pids
            stack._write_state()
            return 0
        supervisor = Supervisor(stack, echo=lambda line: print(line, flush=True))
        while True:
            supervisor.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
