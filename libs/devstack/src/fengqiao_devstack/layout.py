"""The processes of the stack: every service (and the court simulator) with its port and settings prefix."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass
class ServiceDef:
    name: str
    factory: str
    port: int
    prefix: str
    database: bool = True
    package: str = ""
    ready_path: str = "/readyz"

    def __post_init__(self):
        self.package = self.package or self.factory.split(".")[0]


def default_services(base_port: int = 8000) -> list[ServiceDef]:
    return [
        ServiceDef("intake", "fengqiao_intake.main:create_app", base_port + 1, "INTAKE_"),
        ServiceDef("dispatch", "fengqiao_dispatch.main:create_app", base_port + 2, "DISPATCH_"),
        ServiceDef("mediation", "fengqiao_mediation.main:create_app", base_port + 3, "MEDIATION_"),
        ServiceDef("analytics", "fengqiao_analytics.main:create_app", base_port + 4, "ANALYTICS_"),
        ServiceDef("court", "fengqiao_mediation.court_simulator:create_app", base_port + 5, "COURT_",
                   database=False, ready_path="/healthz"),
        ServiceDef("gateway", "fengqiao_gateway.main:create_app", base_port, "GATEWAY_"),
    ]


def module_exists(factory: str) -> bool:
    mod = factory.split(":")[0]
    try:
        return importlib.util.find_spec(mod) is not None
    except ModuleNotFoundError:
        return False
