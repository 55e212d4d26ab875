"""Kubernetes manifests: every overlay renders with `kubectl kustomize`, every core object validates against
the Kubernetes schemas (kubernetes-validate, strict), CRDs (Strimzi KafkaTopic, Prometheus Operator) are
checked structurally, and the rules of the deployment hold (hardening, probes, scaling, secrets, topics)."""

from __future__ import annotations

import base64
import importlib
import json
import os
import re

import kubernetes_validate
import pytest
import yaml
from deploy_k8s_render import K8S, OVERLAYS, ROOT, SERVICES, by_name, of_kind, render
from fengqiao_events import all_specs
from fengqiao_events.registry import department_topic
from fengqiao_events.topics_cli import DEPARTMENT_RETENTION_MS, DLQ_RETENTION_MS, department_codes

K8S_VERSIONS = ("1.30.0", "1.37.0")
CRD_GROUPS = {"kafka.strimzi.io", "monitoring.coreos.com"}
EXTERNAL_SECRETS = {"fengqiao-internal-token", *(f"{s}-secrets" for s in SERVICES)}  # provided by operators (prod)
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def _group(obj) -> str:
    api = obj["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_renders(overlay):
    path = "base" if overlay == "base" else f"overlays/{overlay}"
    docs = render(path)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job",
            "ConfigMap", "Ingress", "KafkaTopic"} <= kinds
    if overlay != "base":
        assert "NetworkPolicy" in kinds
        ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
        assert ns == {"fengqiao-dev" if overlay == "dev" else "fengqiao"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_validate_against_kubernetes_schemas(overlay, version):
    checked = 0
    for obj in render(f"overlays/{overlay}"):
        if _group(obj) in CRD_GROUPS:
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 40


def test_validation_rejects_a_broken_object():
    dep = json.loads(json.dumps(by_name(render("overlays/prod"), "Deployment")["intake"]))
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {"no": "such"}
    dep["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSIONS[-1], strict=True)


def test_only_known_custom_resources():
    for overlay in OVERLAYS:
        groups = {_group(o) for o in render(f"overlays/{overlay}")}
        assert groups - {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io"} <= CRD_GROUPS


# --- Kafka topics (Strimzi) ----------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_topics_cover_every_registered_topic_and_dlq(overlay):
    topics = of_kind(render(f"overlays/{overlay}"), "KafkaTopic")
    names = {t["spec"]["topicName"] for t in topics}
    departments = {department_topic(c) for c in department_codes()}
    assert names == {s.topic for s in all_specs()} | {s.dlq_topic for s in all_specs()} | departments
    for t in topics:
        assert t["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert DNS_SUBDOMAIN.match(t["metadata"]["name"]), t["metadata"]["name"]
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "fengqiao"
        spec = t["spec"]
        assert set(spec) == {"topicName", "partitions", "replicas", "config"}
        assert isinstance(spec["partitions"], int) and spec["partitions"] >= 1
        cfg = spec["config"]
        assert cfg["min.insync.replicas"] <= spec["replicas"]
        if spec["topicName"].endswith(".dlq"):
            assert spec["partitions"] == 1 and cfg["retention.ms"] == DLQ_RETENTION_MS
        elif spec["topicName"] in departments:
            assert cfg["retention.ms"] == DEPARTMENT_RETENTION_MS, "personal data kept no longer than needed"
            assert t["metadata"]["labels"]["fengqiao.cn/topic-kind"] == "department"
        else:
            assert cfg["retention.ms"] == -1, "analytics rebuilds by replaying the topics"


def test_production_topics_replication_3_min_isr_2():
    for t in of_kind(render("overlays/prod"), "KafkaTopic"):
        assert t["spec"]["replicas"] == 3
        assert t["spec"]["config"]["min.insync.replicas"] == 2


def test_consumers_scale_up_to_the_partition_count():
    docs = render("overlays/prod")
    min_partitions = min(t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic")
                         if not t["spec"]["topicName"].endswith(".dlq"))
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["maxReplicas"] <= min_partitions, hpa["metadata"]["name"]
        assert hpa["spec"]["minReplicas"] >= 2, "production keeps two replicas for availability"


# --- Prometheus Operator resources ----------------------------------------------------------------

def test_monitoring_resources_match_deploy_observability():
    docs = render("overlays/prod")
    rule = by_name(docs, "PrometheusRule")["fengqiao"]
    alerts = yaml.safe_load((ROOT / "deploy/observability/alerts.yaml").read_text())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == alerts, "components/monitoring/monitoring.yaml is out of date with alerts.yaml"
    for group in rule["spec"]["groups"]:
        assert group["name"] and group["rules"]
        for r in group["rules"]:
            assert set(r) <= {"alert", "expr", "for", "labels", "annotations"} and r["alert"] and r["expr"]
            assert r["labels"]["severity"] in {"warning", "critical"}
    sm = by_name(docs, "ServiceMonitor")["fengqiao"]
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}]
    selected = [s for s in of_kind(docs, "Service")
                if all(s["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())]
    assert {s["metadata"]["name"] for s in selected} == set(SERVICES)
    dash = by_name(docs, "ConfigMap")["fengqiao-grafana-dashboard"]
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dash["data"]["grafana-dashboard.json"] == (ROOT / "deploy/observability/grafana-dashboard.json").read_text()


# --- workloads ------------------------------------------------------------------------------------

def _pod_specs(docs):
    for d in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        yield d, d["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened(overlay):
    for obj, pod in _pod_specs(render(f"overlays/{overlay}")):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod["automountServiceAccountToken"] is False, where
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in sc["capabilities"], where
            assert set(c["resources"]) == {"requests", "limits"}, where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) & set(c["resources"]["limits"]), where
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), f"{where}: writable /tmp"
            image = c["image"]
            assert image.startswith("registry.example.invalid/fengqiao/") and ":" in image, image
            assert not image.endswith(":latest"), image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_have_probes_service_account_hpa_pdb_and_service(overlay):
    docs = render(f"overlays/{overlay}")
    deps, svcs = by_name(docs, "Deployment"), by_name(docs, "Service")
    hpas, pdbs, sas = by_name(docs, "HorizontalPodAutoscaler"), by_name(docs, "PodDisruptionBudget"), \
        by_name(docs, "ServiceAccount")
    for name, port in SERVICES.items():
        dep = deps[name]
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        ready = "/readyz/self" if name == "gateway" else "/readyz"  # the gateway's /readyz includes upstreams
        assert c["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert pod["serviceAccountName"] == name and name in sas
        assert hpas[name]["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for sel in (pdbs[name]["spec"]["selector"]["matchLabels"], svcs[name]["spec"]["selector"],
                    dep["spec"]["selector"]["matchLabels"]):
            assert all(labels.get(k) == v for k, v in sel.items())
        assert svcs[name]["spec"]["type"] == "ClusterIP"
        assert svcs[name]["spec"]["ports"][0]["port"] == port
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in svcs.values()), "no NodePort/LoadBalancer"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_jobs(overlay):
    jobs = by_name(render(f"overlays/{overlay}"), "Job")
    for name in SERVICES:
        job = jobs[f"migrate-{name}"]
        (c,) = job["spec"]["template"]["spec"]["containers"]
        assert c["command"][:4] == ["python", "-m", "fengqiao_common.migrate_cli", name]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert job["spec"]["backoffLimit"] >= 1
        assert c["image"].split(":")[0].endswith(f"/fengqiao/{name}")


def test_only_the_gateway_has_an_ingress():
    for overlay in OVERLAYS:
        ingresses = of_kind(render(f"overlays/{overlay}"), "Ingress")
        assert len(ingresses) == 1
        backends = {p["backend"]["service"]["name"] for r in ingresses[0]["spec"]["rules"] for p in r["http"]["paths"]}
        assert backends == {"gateway"}
        assert ingresses[0]["spec"]["tls"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_and_secret_references_resolve(overlay):
    docs = render(f"overlays/{overlay}")
    cms, secrets = set(by_name(docs, "ConfigMap")), set(by_name(docs, "Secret"))
    for _obj, pod in _pod_specs(docs):
        for c in pod["containers"]:
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in cms, ref
                else:
                    name = ref["secretRef"]["name"]
                    if overlay == "prod":
                        assert name in EXTERNAL_SECRETS, name  # created by the operator, see docs/runbook.md
                    else:
                        assert name in secrets, name
    if overlay == "prod":
        assert not secrets, "no secret values in the production overlay"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_environment_names_are_settings_the_service_reads(overlay, name, monkeypatch):
    """Each ConfigMap/Secret key with the service's prefix is a real setting, and the whole environment
    (with production secrets filled in) builds the service's Settings."""
    docs = render(f"overlays/{overlay}")
    cms, secrets = by_name(docs, "ConfigMap"), by_name(docs, "Secret")
    cls = importlib.import_module(f"fengqiao_{name}.config").Settings
    env: dict[str, str] = {}
    (c,) = by_name(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    for ref in c["envFrom"]:
        if "configMapRef" in ref:
            env.update(cms[ref["configMapRef"]["name"]]["data"])
        elif ref["secretRef"]["name"] in secrets:
            env.update({k: base64.b64decode(v).decode() for k, v in secrets[ref["secretRef"]["name"]]["data"].items()})
        else:  # production: values an operator provides
            base = ref["secretRef"]["name"]
            keys = ["FQ_INTERNAL_TOKEN_SECRET"] if base == "fengqiao-internal-token" else []
            keys += {"gateway": ["GATEWAY_TOKEN_SECRET"], "intake": ["INTAKE_REQUESTER_KEY"],
                     "mediation": ["MEDIATION_COURT_API_KEY", "MEDIATION_COURT_CALLBACK_SECRET",
                                   "MEDIATION_SEAL_PRIVATE_KEY"]}.get(name, []) \
                if base == f"{name}-secrets" else []
            env.update({k: "p" * 48 for k in keys})
            if base == f"{name}-secrets":
                env[f"{name.upper()}_DATABASE_URL"] = f"postgresql+asyncpg://u:p@fq-{name}-rw.databases.svc/fq_{name}"
    prefix = f"{name.upper()}_"
    for key in env:
        if key.startswith(prefix):
            assert key.removeprefix(prefix).lower() in cls.model_fields, f"{key} is not a setting of {name}"
    for k in list(os.environ):
        if k.startswith(("FQ_", "KAFKA_", prefix, "OTEL_")):
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = cls()
    assert settings.port == SERVICES[name]
    assert settings.environment == ("production" if overlay == "prod" else "development")
    assert settings.kafka_bootstrap_servers == "fengqiao-kafka-bootstrap.kafka.svc:9092"
    assert str(settings.jurisdiction_file) == "/app/data/waihai.yaml"


def test_kafka_topics_file_is_referenced_by_the_base():
    kust = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    assert "kafka-topics" in kust["resources"]


def test_dev_court_simulator_shares_the_court_credentials_with_mediation(monkeypatch):
    from fengqiao_mediation.court_simulator import SimulatorSettings

    docs = render("overlays/dev")
    deps, cms, secrets = by_name(docs, "Deployment"), by_name(docs, "ConfigMap"), by_name(docs, "Secret")
    (c,) = deps["court-simulator"]["spec"]["template"]["spec"]["containers"]
    assert "fengqiao_mediation.court_simulator:create_app" in c["command"] and "8005" in c["command"]
    for k in list(os.environ):
        if k.startswith(("COURT_", "MEDIATION_")):
            monkeypatch.delenv(k, raising=False)
    for ref in c["envFrom"]:
        if "configMapRef" in ref:
            data = cms[ref["configMapRef"]["name"]]["data"]
        else:
            data = {k: base64.b64decode(v).decode() for k, v in secrets[ref["secretRef"]["name"]]["data"].items()}
        for k, v in data.items():
            monkeypatch.setenv(k, v)
    sim = SimulatorSettings()
    med = next(s for n, s in secrets.items() if n.startswith("mediation-secrets"))["data"]
    assert sim.api_key == base64.b64decode(med["MEDIATION_COURT_API_KEY"]).decode()
    assert cms["mediation-config"]["data"]["MEDIATION_COURT_BASE_URL"] == "http://court-simulator:8005"
