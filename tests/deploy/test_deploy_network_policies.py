"""NetworkPolicies: evaluate the rendered policies of each overlay on a model of the cluster (our pods, the
ingress controller, Kafka, the databases, DNS, Prometheus, outside addresses) and compare the allowed
connection graph with the intended one, exactly: deny all; only the gateway reachable from outside; each
service reaches only its database, Kafka and the services it calls."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest
from deploy_k8s_render import SERVICES, of_kind, render

APP_NS = {"dev": "fengqiao-dev", "prod": "fengqiao"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    namespace: str | None = None  # None: outside the cluster (ip)
    labels: tuple[tuple[str, str], ...] = ()
    ip: str | None = None
    ports: tuple[int, ...] = field(default=())

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def pod(name, ns, ports=(), **labels):
    return Endpoint(name, ns, tuple(sorted(labels.items())), None, tuple(ports))


def outside(name, ip, ports):
    return Endpoint(name, None, (), ip, tuple(ports))


def app(name, ns, component="api"):
    port = {**SERVICES, "court-simulator": 8005}.get(name)
    return pod(name if component == "api" else f"migrate-{name}", ns, (port,) if component == "api" else (),
               **{"app.kubernetes.io/name": name, "app.kubernetes.io/component": component,
                  "app.kubernetes.io/part-of": "fengqiao"})


def cluster(overlay: str) -> list[Endpoint]:
    ns = APP_NS[overlay]
    eps = [app(s, ns) for s in SERVICES] + [app(s, ns, "migration") for s in SERVICES]
    if overlay == "dev":
        eps.append(app("court-simulator", ns))
    eps += [
        pod("ingress-nginx", "ingress-nginx", **{"app.kubernetes.io/name": "ingress-nginx"}),
        pod("kafka", "kafka", (9092,), **{"strimzi.io/cluster": "fengqiao", "strimzi.io/kind": "Kafka"}),
        pod("other-kafka", "kafka", (9092,), **{"strimzi.io/cluster": "other", "strimzi.io/kind": "Kafka"}),
        pod("kube-dns", "kube-system", (53,), **{"k8s-app": "kube-dns"}),
        pod("prometheus", "monitoring", **{"app.kubernetes.io/name": "prometheus"}),
        pod("otel-collector", "observability", (4318,), **{"app.kubernetes.io/name": "opentelemetry-collector"}),
        pod("stranger", "default", **{"app.kubernetes.io/name": "intake"}),  # same labels, other namespace
        outside("webhook-receiver", "8.8.8.8", (443, 80)),
        outside("private-host", "10.20.30.40", (443,)),
        outside("metadata-service", "169.254.169.254", (80, 443)),
        outside("court-platform", "203.0.113.10", (443,)),
        outside("sms-gateway", "198.51.100.20", (443,)),
    ]
    eps += [pod(f"db-{s}", "databases", (5432,), **{"cnpg.io/cluster": f"fq-{s}"}) for s in SERVICES]
    return eps


def _match_selector(sel: dict | None, labels: dict[str, str]) -> bool:
    if sel is None:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _ns_labels(ns: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": ns}


def _peer_matches(peer: dict, policy_ns: str, ep: Endpoint) -> bool:
    if "ipBlock" in peer:
        if ep.ip is None:  # in-cluster pods are not addressed by our ipBlocks (they exclude private ranges)
            return False
        ip = ipaddress.ip_address(ep.ip)
        block = peer["ipBlock"]
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", []))
    if ep.namespace is None:
        return False
    if "namespaceSelector" in peer:
        if not _match_selector(peer["namespaceSelector"], _ns_labels(ep.namespace)):
            return False
    elif ep.namespace != policy_ns:
        return False
    return _match_selector(peer.get("podSelector"), ep.label_map)


def _peers_match(peers: list | None, policy_ns: str, ep: Endpoint) -> bool:
    """A rule without peers matches every peer (Kubernetes semantics)."""
    if not peers:
        return True
    return any(_peer_matches(peer, policy_ns, ep) for peer in peers)


def _port_matches(ports: list | None, port: int) -> bool:
    if not ports:
        return True
    return any(p.get("port") == port for p in ports)


class Policies:
    def __init__(self, docs):
        self.items = of_kind(docs, "NetworkPolicy")

    def _selecting(self, ep: Endpoint, kind: str):
        if ep.namespace is None:
            return None
        sel = [p for p in self.items if p["metadata"]["namespace"] == ep.namespace
               and kind in p["spec"]["policyTypes"] and _match_selector(p["spec"]["podSelector"], ep.label_map)]
        return sel or None  # None: not isolated in that direction

    def egress_ok(self, src: Endpoint, dst: Endpoint, port: int) -> bool:
        pols = self._selecting(src, "Egress")
        if pols is None:
            return True
        return any(_port_matches(rule.get("ports"), port) and _peers_match(rule.get("to"), src.namespace, dst)
                   for p in pols for rule in p["spec"].get("egress", []))

    def ingress_ok(self, src: Endpoint, dst: Endpoint, port: int) -> bool:
        pols = self._selecting(dst, "Ingress")
        if pols is None:
            return True
        return any(_port_matches(rule.get("ports"), port) and _peers_match(rule.get("from"), dst.namespace, src)
                   for p in pols for rule in p["spec"].get("ingress", []))

    def allowed(self, src: Endpoint, dst: Endpoint, port: int) -> bool:
        return self.egress_ok(src, dst, port) and self.ingress_ok(src, dst, port)


INTERNAL_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8")


def _internal(ip: str) -> bool:
    return any(ipaddress.ip_address(ip) in ipaddress.ip_network(n) for n in INTERNAL_RANGES)


def intended(overlay: str) -> set[tuple[str, str, int]]:
    ns = APP_NS[overlay]
    ours = [e.name for e in cluster(overlay) if e.namespace == ns]
    edges = {(e, "kube-dns", 53) for e in ours}
    edges.add(("ingress-nginx", "gateway", 8000))
    for s, port in SERVICES.items():
        edges |= {(s, f"db-{s}", 5432), (f"migrate-{s}", f"db-{s}", 5432), (s, "kafka", 9092),
                  ("prometheus", s, port)}
        if s != "gateway":
            edges.add(("gateway", s, port))
    # intake: webhooks to external systems and object storage: any PUBLIC address, HTTPS only (the
    # application narrows it further with INTAKE_WEBHOOK_ALLOWED_HOSTS); never private or metadata addresses
    edges |= {("intake", e.name, 443) for e in cluster(overlay)
              if e.ip and not _internal(e.ip) and 443 in e.ports}
    if overlay == "dev":
        edges |= {("mediation", "court-simulator", 8005), ("court-simulator", "mediation", 8003),
                  ("court-simulator", "kube-dns", 53)}
    else:
        edges |= {("mediation", "court-platform", 443), ("mediation", "sms-gateway", 443)}
        edges |= {(s, "otel-collector", 4318) for s in SERVICES}
    return edges


def actual(overlay: str) -> set[tuple[str, str, int]]:
    """Every allowed connection that involves at least one of our pods (others are not ours to police)."""
    pol = Policies(render(f"overlays/{overlay}"))
    eps = cluster(overlay)
    ns = APP_NS[overlay]
    out = set()
    for src in eps:
        for dst in eps:
            if src is dst or ns not in (src.namespace, dst.namespace):
                continue
            for port in dst.ports:
                if pol.allowed(src, dst, port):
                    out.add((src.name, dst.name, port))
    return out


@pytest.mark.parametrize("overlay", APP_NS)
def test_allowed_graph_is_exactly_the_intended_one(overlay):
    got, want = actual(overlay), intended(overlay)
    assert not (got - want), f"allowed but not intended: {sorted(got - want)}"
    assert not (want - got), f"intended but blocked: {sorted(want - got)}"


@pytest.mark.parametrize("overlay", APP_NS)
def test_default_deny_covers_every_pod_both_ways(overlay):
    docs = render(f"overlays/{overlay}")
    deny = [p for p in of_kind(docs, "NetworkPolicy") if p["spec"]["podSelector"] == {}
            and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}]
    assert len(deny) == 1
    assert deny[0]["spec"]["ingress"] == [] and deny[0]["spec"]["egress"] == []


def test_the_evaluator_sees_a_hole_when_one_is_made():
    docs = [dict(d) for d in render("overlays/prod")]
    leaky = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "leak", "namespace": "fengqiao"},
             "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dispatch"}},
                      "policyTypes": ["Egress", "Ingress"], "egress": [{}], "ingress": [{"from": [{"namespaceSelector": {}}]}]}}
    pol = Policies([*docs, leaky])
    eps = {e.name: e for e in cluster("prod")}
    assert pol.allowed(eps["dispatch"], eps["intake"], 8001) is False, "intake's ingress still only admits the gateway"
    assert pol.allowed(eps["dispatch"], eps["webhook-receiver"], 443) is True
    assert pol.allowed(eps["stranger"], eps["dispatch"], 8002) is True
    assert Policies(docs).allowed(eps["stranger"], eps["dispatch"], 8002) is False
