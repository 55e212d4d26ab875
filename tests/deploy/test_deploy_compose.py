"""docker-compose.yml, checked without a Docker engine (none on these machines, and the docker CLI here has
no compose plugin): JSON-schema validation against the Compose Specification, then the structure the
deployment relies on (start order, one-off jobs, healthchecks, fail-fast secrets, settings names)."""

from __future__ import annotations

import copy
import importlib
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"intake": 8001, "dispatch": 8002, "mediation": 8003, "analytics": 8004, "gateway": 8000}
KAFKA_SECRETS = ("FQ_KAFKA_ADMIN_PASSWORD", *(f"FQ_KAFKA_PASSWORD_{s.upper()}" for s in SERVICES))
REQUIRED_SECRETS = ("FQ_INTERNAL_TOKEN_SECRET", "POSTGRES_PASSWORD", "GATEWAY_TOKEN_SECRET",
                    "MEDIATION_COURT_API_KEY", "MEDIATION_COURT_CALLBACK_SECRET", "INTAKE_REQUESTER_KEY",
                    "MEDIATION_SEAL_PRIVATE_KEY", *KAFKA_SECRETS)
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation (${V}, ${V:-default}, ${V:?message}) over a loaded document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        current = env.get(name)
        if op in (":?", "?") and not current:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not current:
            return arg
        return current or ""

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def doc(raw) -> dict:
    env = {s: "s" * 40 for s in REQUIRED_SECRETS}
    return interpolate(raw, env)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((Path(__file__).parent / "schemas" / "compose_spec.json").read_text())
    schema["properties"]["name"] = {"type": "string"}  # top-level project name, added to the spec later
    return jsonschema.Draft201909Validator(schema)


def test_matches_the_compose_specification(doc, validator):
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors


def test_the_schema_check_catches_a_broken_file(doc, validator):
    broken = copy.deepcopy(doc)
    broken["services"]["gateway"]["depends_on"]["intake"]["condition"] = "service_started_eventually"
    broken["services"]["intake"]["healthcheck"]["interval"] = ["10s"]
    assert len(list(validator.iter_errors(broken))) >= 2


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
def test_required_secrets_fail_fast(raw, secret):
    text = COMPOSE.read_text(encoding="utf-8")
    uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
    assert uses, f"{secret} is not used"
    assert all(u.startswith(":?") and len(u) > 3 for u in uses), f"every use of {secret} must be ${{{secret}:?msg}}"
    env = {s: "x" * 40 for s in REQUIRED_SECRETS if s != secret}
    with pytest.raises(KeyError, match=secret):
        interpolate(raw, env)


def test_kafka_is_apache_kafka_in_kraft_mode(doc):
    kafka = doc["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false", "topics come from the kafka-topics job"
    assert not any("zookeeper" in name for name in doc["services"])
    assert "kafka-broker-api-versions" in " ".join(kafka["healthcheck"]["test"])


def test_kafka_authenticates_with_scram_and_authorises_by_acl(doc, raw):
    """SASL_PLAINTEXT/SCRAM-SHA-512 for every client, the standard authorizer denying what no ACL allows, and
    the users and ACLs from the same access plan as the Kubernetes KafkaUsers (deploy/compose/kafka/users.sh)."""
    from fengqiao_events.access import password_variable, render_compose_script
    from fengqiao_events.topics_cli import COMPOSE_USERS_PATH, department_codes

    kafka = doc["services"]["kafka"]
    env = kafka["environment"]
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in env["KAFKA_LISTENERS"].split(","):
        name, _, address = listener.partition("://")
        if name == "CONTROLLER":
            assert address.startswith("127.0.0.1:"), "the unauthenticated controller listener stays inside"
        else:
            assert protocols[name] == "SASL_PLAINTEXT", listener
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "SASL_PLAINTEXT://kafka:9092"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert str(env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"]).lower() == "false"
    assert "--command-config" in " ".join(kafka["healthcheck"]["test"])
    assert COMPOSE_USERS_PATH.read_text(encoding="utf-8") == render_compose_script(department_codes()), (
        "deploy/compose/kafka/users.sh is stale: run `make asyncapi`")
    users = doc["services"]["kafka-users"]
    assert users["restart"] == "no" and users["image"] == kafka["image"]
    assert users["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        svc = doc["services"][name]
        assert svc["depends_on"]["kafka-users"]["condition"] == "service_completed_successfully"
        e = svc["environment"]
        assert e["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and e["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert e["KAFKA_SASL_USERNAME"] == f"fengqiao-{name}"
        variable = password_variable(e["KAFKA_SASL_USERNAME"])
        assert raw["services"][name]["environment"]["KAFKA_SASL_PASSWORD"].startswith("${" + variable + ":?")
        assert raw["services"]["kafka-users"]["environment"][variable].startswith("${" + variable + ":?")
    for code in department_codes():  # optional: a department's user exists once its password is given
        variable = password_variable(f"dept-{code.lower()}")
        assert raw["services"]["kafka-users"]["environment"][variable] == "${" + variable + ":-}"
    topics = doc["services"]["kafka-topics"]["environment"]
    assert topics["KAFKA_SASL_USERNAME"] == "admin" and topics["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"


def test_postgres_has_one_database_per_service(doc):
    pg = doc["services"]["postgres"]
    assert pg["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    init_dir = next(v.split(":")[0] for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v)
    sql = "".join(p.read_text() for p in sorted((ROOT / init_dir).glob("*.sql")))
    for name in SERVICES:
        assert f"CREATE DATABASE fq_{name};" in sql
        url = doc["services"][name]["environment"][f"{name.upper()}_DATABASE_URL"]
        assert url.endswith(f"@postgres:5432/fq_{name}") and url.startswith("postgresql+asyncpg://")


def test_topic_creation_and_migrations_are_one_off_jobs(doc):
    svcs = doc["services"]
    topics = svcs["kafka-topics"]
    assert topics["restart"] == "no"
    assert topics["command"][:4] == ["python", "-m", "fengqiao_events.topics_cli", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        job = svcs[f"migrate-{name}"]
        assert job["restart"] == "no"
        assert job["command"][:4] == ["python", "-m", "fengqiao_common.migrate_cli", name]
        assert job["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert job["environment"][f"{name.upper()}_DATABASE_URL"] == svcs[name]["environment"][
            f"{name.upper()}_DATABASE_URL"]
        assert job["image"] == svcs[name]["image"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_start_order_and_healthchecks(doc, name):
    svc = doc["services"][name]
    port = SERVICES[name]
    deps = {k: v["condition"] for k, v in svc["depends_on"].items()}
    assert deps["postgres"] == "service_healthy"
    assert deps["kafka"] == "service_healthy"
    assert deps["kafka-topics"] == "service_completed_successfully"
    assert deps[f"migrate-{name}"] == "service_completed_successfully"
    test = " ".join(svc["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/readyz" in test, "healthy means ready: the database reachable (the broker is reported, not required)"
    assert svc["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).is_file()
    assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert str(port) in [str(p) for p in svc["expose"]]


def test_gateway_waits_for_every_service_and_is_the_only_public_port(doc):
    gw = doc["services"]["gateway"]
    for name in SERVICES:
        if name != "gateway":
            assert gw["depends_on"][name]["condition"] == "service_healthy"
            assert gw["environment"][f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{SERVICES[name]}"
    published = {n: s["ports"] for n, s in doc["services"].items() if s.get("ports")}
    assert published.pop("gateway") == ["8000:8000"]
    for name, ports in published.items():  # operator tools only, and only on loopback
        assert doc["services"][name].get("profiles") == ["observability"], name
        assert all(str(p).startswith("127.0.0.1:") for p in ports), name


def test_demo_profile_has_the_court_simulator_and_demo_data_switch(doc, raw):
    court = doc["services"]["court-simulator"]
    assert court["profiles"] == ["demo"]
    assert "fengqiao_mediation.court_simulator:create_app" in court["command"]
    assert "8005" in court["command"]
    assert doc["services"]["mediation"]["environment"]["MEDIATION_COURT_BASE_URL"] == "http://court-simulator:8005"
    for name in SERVICES:
        if name == "analytics":  # read models only: its demo figures come from the others' demo events
            assert "ANALYTICS_DEMO_DATA" not in raw["services"][name]["environment"]
            continue
        assert raw["services"][name]["environment"][f"{name.upper()}_DEMO_DATA"] == "${FQ_DEMO_DATA:-false}"
    assert all("profiles" not in doc["services"][n] for n in SERVICES), "the core runs without profiles"


@pytest.mark.parametrize("name", SERVICES)
def test_environment_names_are_the_ones_the_settings_read(doc, name, monkeypatch):
    env = {k: str(v) for k, v in doc["services"][name]["environment"].items()}
    for k in list(os.environ):
        if k.startswith(("FQ_", "KAFKA_", f"{name.upper()}_", "OTEL_")):
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings_cls = importlib.import_module(f"fengqiao_{name}.config").Settings
    if name == "mediation":  # compose defaults to production, which refuses the dev SMS sender
        with pytest.raises(ValueError, match="SMS_PROVIDER=dev"):
            settings_cls()
        monkeypatch.setenv("MEDIATION_SMS_PROVIDER", "http")
        monkeypatch.setenv("MEDIATION_SMS_HTTP_URL", "https://sms.example.invalid/send")
    settings = settings_cls()
    assert settings.database_url == env[f"{name.upper()}_DATABASE_URL"]
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.internal_token_secret == "s" * 40
    assert settings.environment == "production"  # compose's default
    if f"{name.upper()}_DEMO_DATA" in env:  # production refuses demo data (users with printed passwords)
        monkeypatch.setenv(f"{name.upper()}_DEMO_DATA", "true")
        with pytest.raises(ValueError, match="DEMO_DATA"):
            settings_cls()
        monkeypatch.setenv("FQ_ENVIRONMENT", "development")  # a trial: FQ_ENVIRONMENT=development allows it
        assert settings_cls().demo_data is True


def test_court_simulator_shares_the_court_credentials_with_mediation(doc, monkeypatch):
    from fengqiao_mediation.court_simulator import SimulatorSettings

    for k in list(os.environ):
        if k.startswith(("COURT_", "MEDIATION_")):
            monkeypatch.delenv(k, raising=False)
    for k, v in doc["services"]["court-simulator"]["environment"].items():
        monkeypatch.setenv(k, str(v))
    sim = SimulatorSettings()
    med = doc["services"]["mediation"]["environment"]
    assert sim.api_key == med["MEDIATION_COURT_API_KEY"]
    assert sim.callback_secret == med["MEDIATION_COURT_CALLBACK_SECRET"]
