"""The internal identity token is minted once per principal (no request id in it) and reused until shortly
before it expires; any change of the principal is a new token."""

from fengqiao_common.auth import Principal, verify_identity
from fengqiao_common.settings import DEV_SECRET
from fengqiao_gateway.adapters.cache import IdentityTokens


def test_one_token_per_principal_until_shortly_before_expiry():
    now = [1000.0]
    tokens = IdentityTokens(DEV_SECRET, ttl=300, refresh_before=60, clock=lambda: now[0])
    p = Principal(sub="u1", roles=["mediator"], mediator_id="M001", request_id="rid-1")
    first = tokens.get(p)
    claims = verify_identity(first, DEV_SECRET)
    assert claims.sub == "u1" and claims.mediator_id == "M001" and claims.request_id is None
    now[0] += 239
    assert tokens.get(p.model_copy(update={"request_id": "rid-2"})) == first  # same principal, other request
    assert tokens.get(p.model_copy(update={"roles": ["mediator", "leader"]})) != first  # changed: new token
    now[0] += 2  # past ttl - refresh_before: a fresh one, still valid for the whole ttl at the service
    again = tokens.get(p)
    assert tokens._items[IdentityTokens.key(p)][0] == now[0]  # minted anew now (same second: same bytes)
    assert verify_identity(again, DEV_SECRET).sub == "u1" and tokens.get(p) == again


def test_bounded():
    tokens = IdentityTokens(DEV_SECRET, max_items=3)
    for i in range(10):
        tokens.get(Principal(sub=f"u{i}", roles=["leader"]))
    assert len(tokens._items) <= 3
