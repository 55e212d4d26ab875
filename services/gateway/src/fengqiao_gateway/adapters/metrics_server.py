"""Prometheus metrics on an internal address (GATEWAY_METRICS_HOST:GATEWAY_METRICS_PORT), never on the public port."""

from __future__ import annotations

import structlog
from prometheus_client import start_http_server

log = structlog.get_logger("fengqiao.gateway.metrics")


class MetricsServer:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._server = None

    def start(self) -> bool:
        """False (logged) when the port is taken: a second gateway process on one host keeps serving requests."""
        if self.port <= 0:
            return False
        try:
            self._server, _thread = start_http_server(self.port, addr=self.host)
        except OSError as exc:
            log.warning("metrics port unavailable; metrics not served", host=self.host, port=self.port,
                        error=repr(exc))
            return False
        log.info("metrics served", url=f"http://{self.host}:{self.port}/metrics")
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
