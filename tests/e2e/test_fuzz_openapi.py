"""Fuzzing the whole public API through the gateway with schemathesis.

The merged document the gateway serves (/openapi.json) drives generation: for every operation a few
schema-valid and schema-invalid requests are sent with an admin bearer token (admin may call every
route), and each response must pass schemathesis's own checks:

- ``not_a_server_error``: no 5xx, whatever the input;
- ``response_schema_conformance``: a documented status carries a body matching its schema;
- ``negative_data_rejection``: input that violates the schema is refused with a 4xx.

Generation is deterministic (fixed seed, derandomized Hypothesis, no example database) and bounded
(a few examples per operation, no coverage or stateful phase): about 350 requests, seconds on top of
starting the stack.
A dedicated admin account is created for the run: the fuzzer's requests count against its own
per-user rate-limit window, not the demo admin's that other end-to-end tests log in with.
"""

from __future__ import annotations

import uuid

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

pytestmark = pytest.mark.slow

SEED = 20261128
MAX_EXAMPLES = 4  # per operation, valid and invalid input together (~3.5 requests each on average)

# Operations left out of the fuzz run, each for a documented reason. With admin rights in the session's
# shared stack they would change state later tests rely on, or never answer.
EXCLUDED_OPERATIONS = {
    # revokes the very bearer token the fuzzer sends on every request
    "auth_logout",
    # an endless Server-Sent Events stream (text/event-stream): a request never completes
    "analytics_stream",
    "analytics_screen_stream",
    # replays every event into fresh read models: analytics answers from a half-built model meanwhile
    "analytics_rebuild",
    # revokes API keys; the demo department/external-system keys are used by other tests
    "admin_revoke_api_key",
    # can disable users, change roles or reset passwords of the demo accounts
    "admin_update_user",
    # deletes or retires (enabled=false, new version) routing rules, changing how later cases route
    "delete_rule",
    "update_rule",
    # deactivates demo mediators, replaces their weekly availability or adds leave: the mediation
    # matcher then finds no mediator for later bookings
    "mediation_patch_mediator",
    "mediation_set_availability",
    "mediation_add_leave",
    # deletes webhooks of the demo external system
    "delete_webhook",
}


def _config(base_url: str, token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "base-url": base_url,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {
            "mode": "all",  # schema-valid and schema-invalid input
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {
            "examples": {"enabled": True},
            # no ids harvested from responses: what the shared stack holds depends on the tests run before,
            # and the inputs would no longer be the same from run to run
            "fuzzing": {"enabled": True, "extra-data-sources": {"responses": False}},
            # boundary enumeration sends dozens of requests per operation: unbounded by max-examples
            "coverage": {"enabled": False},
            "stateful": {"enabled": False},
        },
    })


@pytest.fixture(scope="session")
def fuzz_token(stack) -> str:
    creds = stack.credentials()
    admin = next(u for u in creds["users"] if u["username"] == "admin")
    base = stack.gateway_url
    with requests.Session() as s:
        r = s.post(f"{base}/api/v1/auth/login", json={"username": "admin", "password": admin["password"]},
                   timeout=30)
        assert r.status_code == 200, r.text
        demo_admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
        username, password = f"fuzz-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        r = s.post(f"{base}/api/v1/admin/users", headers=demo_admin, timeout=30,
                   json={"username": username, "password": password, "roles": ["admin"],
                         "display_name": "schemathesis"})
        assert r.status_code == 201, r.text
        r = s.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture(scope="session")
def api_schema(stack, fuzz_token):
    base = stack.gateway_url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", config=_config(base, fuzz_token), timeout=30)
    unavailable = schema.raw_schema.get("info", {}).get("x-unavailable-services")
    assert not unavailable, f"the gateway merged an incomplete document: {unavailable} did not answer"
    return schema


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32's lazy schema reads and rewrites ``item._nodeid`` (to name each operation's
    # subtest); pytest 9 keeps the id elsewhere and has no such attribute. Give it one to read: its
    # rewrites then only touch this attribute, and reports keep the test's own id.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema").exclude(operation_id=sorted(EXCLUDED_OPERATIONS))


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_public_api_fuzz(case, fuzz_token):
    response = case.call(headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    # 429 is the gateway's per-user rate limit (600 a minute by default), not an answer of the operation:
    # the run (about 350 requests) must stay under it, or the checks below would be judging the limiter
    assert response.status_code != 429, f"rate limited: {case.method} {case.formatted_path} - keep the run smaller"
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, negative_data_rejection],
        headers={"Authorization": f"Bearer {fuzz_token}"},
    )


# Found by this fuzzing (fixed): the gateway forwarded the percent-decoded path, so a control character
# made an invalid upstream URL (500) and %2F / %3F in a parameter changed the upstream path or query.
@pytest.mark.parametrize("path", ["/api/v1/cases/%01", "/api/v1/orders/a%7Fb", "/open311/v2/services.%1F"])
def test_control_character_in_path_is_a_client_error(stack, fuzz_token, path):
    r = requests.get(stack.gateway_url + path, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)


def test_encoded_slash_in_a_parameter_does_not_change_the_upstream_path(stack, fuzz_token):
    r = requests.get(stack.gateway_url + "/api/v1/cases/x%2F..%2F..%2Fcatalogue",
                     headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    assert r.status_code == 404, (r.status_code, r.text[:200])


# Found by probing (fixed with bounds on the parameters): a value past int64 reached asyncpg (500).
@pytest.mark.parametrize("path", [
    "/api/v1/admin/users?offset=9223372036854775808",  # gateway
    "/api/v1/admin/audit?before_id=9223372036854775808",  # gateway
    "/api/v1/analytics/weak-signals?offset=9223372036854775808",  # analytics
])
def test_out_of_range_integer_query_is_a_client_error(stack, fuzz_token, path):
    r = requests.get(stack.gateway_url + path, headers={"Authorization": f"Bearer {fuzz_token}"}, timeout=30)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
