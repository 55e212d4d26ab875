"""A real local HTTP server standing in for a department's endpoint: answers each order's POSTs with
a scripted sequence of status codes (the last one repeats; 202 when unscripted) and records them."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Hit:
    order_id: str | None
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Endpoint:
    url: str
    script: dict[str, list[int]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)

    def of(self, order_id: str) -> list[Hit]:
        return [h for h in self.hits if h.order_id == order_id]


def signature_ok(secret: str, hit: Hit, tolerance: float = 300) -> bool:
    """What a receiver does (intake's webhook scheme): fresh timestamp, HMAC-SHA256 of ``ts.body``."""
    ts = hit.headers.get("X-Fengqiao-Timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + hit.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, hit.headers.get("X-Fengqiao-Signature", ""))


@contextlib.contextmanager
def endpoint():
    ep = Endpoint(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                order_id = (json.loads(body).get("data") or {}).get("order_id")
            except ValueError:
                order_id = None
            with lock:
                seq = ep.script.get(order_id) or [202]
                done = len(ep.of(order_id)) if order_id else 0
                status = seq[min(done, len(seq) - 1)]
                ep.hits.append(Hit(order_id, status, dict(self.headers), body))
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ep.url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ep
    finally:
        server.shutdown()
        server.server_close()
