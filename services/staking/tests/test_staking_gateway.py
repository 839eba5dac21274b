"""The staking routes through the real gateway app (ASGI) to a real staking replica and the real
chain service on port 0, PostgreSQL and Redis. Callers send real access tokens carrying their
wallet: the gateway's own verifier fetches the signing keys over the auth service's GetJwks RPC
(served here by a test key set); nothing in the gateway is overridden. Each status a route
documents is exercised: 201/200/202/402/409/404/400/401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import ETH, Chain, Replica, Staker, new_staker
from ipheron_libs.testing import wait_until_async

gateway_app = pytest.importorskip("ipheron_gateway.app")
from ipheron_gateway.config import GatewaySettings  # noqa: E402
from ipheron_gateway.testing import TokenIssuer, serve_jwks  # noqa: E402

ISSUER = TokenIssuer()


@pytest.fixture(scope="module")
async def gw(shared_staking: Replica, chain: Chain, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_jwks(ISSUER) as auth_addr:
        app = gateway_app.create_app(GatewaySettings(  # type: ignore[call-arg]
            staking_addr=shared_staking.addr, chain_addr=chain.addr, auth_addr=auth_addr, redis_url=redis_url,
            upstream_timeout=15, env="test"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 5555))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c


@pytest.fixture()
async def client(gw: httpx.AsyncClient, staking: Replica) -> httpx.AsyncClient:
    return gw


def _as(s: Staker, key: str | None = None, wallet: bool = True) -> dict[str, str]:
    """A real bearer token for the staker (with its wallet), and an Idempotency-Key."""
    headers = ISSUER.headers(s.user_id, s.address if wallet else None)
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()  # type: ignore[no-any-return]


async def _until(client: httpx.AsyncClient, s: Staker, stake_id: str, status: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        body = (await client.get(f"/api/v1/stakes/{stake_id}", headers=_as(s))).json()
        return body if body["status"] == status else None

    return await wait_until_async(reached, 20, message=f"stake {stake_id} did not become {status}")


async def test_quote_vault_open_hand_in_claim_and_unstake_through_the_gateway(
        client: httpx.AsyncClient, chain: Chain) -> None:
    s = new_staker()
    await chain.fund(s.address, 5)
    params = {"asset_id": "asset-1", "amount": "2", "duration_days": 90}
    anon = await client.get("/api/v1/staking/quote", params=params)
    assert anon.status_code == 200 and anon.json()["signed_quote"] is None and anon.json()["apr"] == "5"
    signed = (await client.get("/api/v1/staking/quote", params=params, headers=_as(s))).json()["signed_quote"]
    assert signed["quote"]["staker"].lower() == s.address and signed["apr_bps"] == 500
    vault = (await client.get("/api/v1/staking/vault")).json()
    assert vault["quote_signer"] == signed["quote_signer"] and vault["address"] == signed["vault_address"]

    body = {"asset_id": "asset-1", "amount": "2", "duration_days": 90}
    opened = await client.post("/api/v1/stakes", json=body, headers=_as(s, "gw-open-1"))
    assert opened.status_code == 201, opened.text
    o = opened.json()
    assert o["stake"]["status"] == "pending" and o["transaction"]["value"] == 2 * ETH
    assert o["signed_quote"]["amount_wei"] == str(2 * ETH) and o["expires_at"]
    replay = await client.post("/api/v1/stakes", json=body, headers=_as(s, "gw-open-1"))
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["stake"]["id"] == o["stake"]["id"]
    _problem(await client.post("/api/v1/stakes", json={**body, "amount": "3"}, headers=_as(s, "gw-open-1")), 409)

    stake_id = o["stake"]["id"]
    raw = s.wallet.sign_transaction(o["transaction"])
    handed = await client.post(f"/api/v1/stakes/{stake_id}/transaction", json={"raw_transaction": raw},
                               headers=_as(s))
    assert handed.status_code == 202, handed.text
    active = await _until(client, s, stake_id, "active")
    assert active["vault_stake_id"] and active["amount_wei"] == str(2 * ETH) and active["origin"] == "api"
    listed = (await client.get("/api/v1/stakes", params={"status": "active"}, headers=_as(s))).json()
    assert [x["id"] for x in listed["items"]] == [stake_id]

    chain.travel(86_400)
    claim = await client.post(f"/api/v1/stakes/{stake_id}/claim", headers=_as(s))
    assert claim.status_code == 200, claim.text
    c = claim.json()
    assert int(c["claimed_wei"]) > 0 and c["transaction"]["to"] == vault["address"]
    raw = s.wallet.sign_transaction(c["transaction"])
    assert (await client.post(f"/api/v1/stakes/{stake_id}/claim/transaction", json={"raw_transaction": raw},
                              headers=_as(s))).status_code == 202

    async def claimed() -> bool:
        st = (await client.get(f"/api/v1/stakes/{stake_id}", headers=_as(s))).json()
        return int(st["claimed_wei"]) >= int(c["claimed_wei"])

    await wait_until_async(claimed, 20, message="the claim was not recorded")

    out = await client.post(f"/api/v1/stakes/{stake_id}/unstake", headers=_as(s))
    assert out.status_code == 200, out.text
    u = out.json()
    assert u["early"] is True and u["penalty"] == "0.2" and u["penalty_wei"] == str(2 * ETH // 10)
    raw = s.wallet.sign_transaction(u["transaction"])
    assert (await client.post(f"/api/v1/stakes/{stake_id}/unstake/transaction", json={"raw_transaction": raw},
                              headers=_as(s))).status_code == 202
    closed = await _until(client, s, stake_id, "closed")
    assert closed["penalty"] == "0.2"
    p = _problem(await client.post(f"/api/v1/stakes/{stake_id}/unstake", headers=_as(s)), 409)
    assert "closed" in p["detail"]
    _problem(await client.post(f"/api/v1/stakes/{stake_id}/claim", headers=_as(s)), 409)


async def test_an_empty_wallet_is_402_with_the_figures_and_nothing_is_listed(client: httpx.AsyncClient) -> None:
    s = new_staker()
    body = {"asset_id": "asset-1", "amount": "1", "duration_days": 30}
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as(s, "gw-broke")), 402)
    assert p["available_wei"] == "0" and int(p["required_wei"]) > ETH and p["shortfall_wei"] == p["required_wei"]
    assert p["available"] == "0" and p["required"]
    assert (await client.get("/api/v1/stakes", headers=_as(s))).json()["total"] == 0


async def test_an_exhausted_pool_is_409_naming_the_capacity_and_dev_funding_reopens_it(
        client: httpx.AsyncClient, chain: Chain) -> None:
    s = new_staker()
    free = int((await client.get("/api/v1/staking/vault")).json()["pool_free_wei"])
    amount = free * 10_000 // 1050 // ETH + 1
    body = {"asset_id": "asset-1", "amount": str(amount), "duration_days": 365}
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as(s, "gw-pool-key")), 409)
    assert p["type"].endswith("pool-capacity") and p["pool_free_wei"] == str(free)
    assert int(p["reservation_wei"]) > free and p["pool_free"] and p["reservation"]
    need = int(p["reservation_wei"]) - free
    funded = await client.post("/api/v1/dev/vault/fund", json={"amount": str(need / ETH)[:20]},
                               headers={"Idempotency-Key": f"gw-fund-{s.user_id}"})
    assert funded.status_code == 200, funded.text
    assert int(funded.json()["vault"]["pool_free_wei"]) >= free
    top_up = int(p["reservation_wei"]) - int(funded.json()["vault"]["pool_free_wei"])
    if top_up > 0:
        await client.post("/api/v1/dev/vault/fund", json={"amount": str(top_up / ETH + 1)})
    # The pool covers it now; the empty wallet is what stops it.
    _problem(await client.post("/api/v1/stakes", json=body, headers=_as(s, "gw-pool-key")), 402)
    _problem(await client.post("/api/v1/dev/vault/fund", json={"amount": "-1"}), 422)
    # More than the platform signer holds: refused as a client error, nothing sent.
    huge = await client.post("/api/v1/dev/vault/fund", json={"amount": "999999999999999999"})
    assert 400 <= huge.status_code < 500, huge.text


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"asset_id": "a", "amount": "-5", "duration_days": 30}, "amount", 400),
        ({"asset_id": "a", "amount": "12,5", "duration_days": 30}, "amount", 400),
        ({"asset_id": "a", "amount": "10", "duration_days": 45}, "duration_days", 400),
        ({"asset_id": "a", "amount": 10.5, "duration_days": 30}, "amount", 422),  # a JSON number is refused
        ({"asset_id": "a", "amount": "10", "duration_days": 30, "apr": "99"}, "apr", 422),
    ],
)
async def test_bad_open_bodies_are_problems_naming_the_field(
        client: httpx.AsyncClient, body: dict[str, Any], field: str, status: int) -> None:
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as(new_staker(), "bad-body-key")), status)
    assert field in {e["field"] for e in p["errors"]}


async def test_keys_tokens_wallets_and_ownership_are_checked(client: httpx.AsyncClient, chain: Chain) -> None:
    alice, bob = new_staker(), new_staker()
    body = {"asset_id": "asset-1", "amount": "1", "duration_days": 30}
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as(alice)), 400)
    assert p["errors"][0]["field"] == "Idempotency-Key"
    _problem(await client.post("/api/v1/stakes", json=body, headers={"Idempotency-Key": "no-user-key"}), 401)
    p = _problem(await client.post("/api/v1/stakes", json=body, headers=_as(alice, "no-wallet", wallet=False)), 400)
    assert "wallet" in p["detail"]
    _problem(await client.get("/api/v1/stakes/not-a-uuid", headers=_as(alice)), 404)
    _problem(await client.get("/api/v1/stakes", params={"status": "paused"}, headers=_as(alice)), 422)
    await chain.fund(alice.address, 3)
    stake = (await client.post("/api/v1/stakes", json=body, headers=_as(alice, "own-key-1"))).json()["stake"]
    _problem(await client.get(f"/api/v1/stakes/{stake['id']}", headers=_as(bob)), 403)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/claim", headers=_as(bob)), 404)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/unstake", headers=_as(bob)), 404)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/transaction", json={"tx_hash": "0x" + "ab" * 32},
                               headers=_as(bob)), 404)
    # Not open on the vault yet: nothing to claim.
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/claim", headers=_as(alice)), 409)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/transaction",
                               json={"raw_transaction": "0x01", "tx_hash": "0x" + "ab" * 32}, headers=_as(alice)), 422)
    _problem(await client.post(f"/api/v1/stakes/{stake['id']}/claim/transaction",
                               json={"tx_hash": "0x" + "ab" * 32}, headers=_as(alice)), 409)


async def test_a_claim_or_unstake_the_wallet_cannot_pay_the_gas_for_is_402(
        client: httpx.AsyncClient, chain: Chain, shared_staking: Replica) -> None:
    from conftest import opened_stake
    from ipheron.chain.v1 import chain_service_pb2 as chain_pb
    from ipheron_gateway.prepared import tx_out

    s = new_staker()
    await chain.fund(s.address, 2)
    active = await opened_stake(shared_staking.stub, chain, s, amount="1", days=30)
    # The wallet sends away everything but what the transfer's own gas may cost.
    probe = await chain.stub.PrepareTransaction(chain_pb.PrepareTransactionRequest(
        from_address=s.address, to_address="0x" + "77" * 20))
    t = probe.transaction
    value = int(probe.balance_wei) - t.gas * int(t.max_fee_per_gas_wei)
    drain = await chain.stub.PrepareTransaction(chain_pb.PrepareTransactionRequest(
        from_address=s.address, to_address="0x" + "77" * 20, value_wei=str(value)))
    sent = await chain.stub.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
        raw_transaction=s.wallet.sign_transaction(tx_out(drain.transaction)), expected=drain.transaction))
    await chain.receipt(sent.tx_hash)
    chain.travel(3600)
    for action in ("claim", "unstake"):
        p = _problem(await client.post(f"/api/v1/stakes/{active.id}/{action}", headers=_as(s)), 402)
        assert int(p["shortfall_wei"]) > 0 and int(p["required_wei"]) > int(p["available_wei"])
    st = (await client.get(f"/api/v1/stakes/{active.id}", headers=_as(s))).json()
    assert st["status"] == "active" and st["claimed_wei"] == "0"

