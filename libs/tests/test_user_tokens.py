"""The end user behind a call, over a real mutual-TLS server: a gateway call that names a user is
admitted only with that user's valid access token (verified by the service itself), so the
gateway's certificate alone cannot act for anyone; the gateway's outgoing calls carry the token."""

from __future__ import annotations

import base64
import importlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.descriptor import FieldDescriptor
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron_libs import access, grpc_server
from ipheron_libs.grpc_client import channel, user_token_var
from ipheron_libs.mtls import TlsIdentity, generate_dev_pki
from ipheron_libs.tokens import JwksVerifier

STAKING = "ipheron.staking.v1.StakingService"
ISS, AUD = "ipheron-auth", "ipheron-api"
ALICE, ALICE_WALLET = "user-alice", "0x" + "a1" * 20
BOB = "user-bob"


class SigningKey:
    """An Ed25519 key of the auth service's kind, minting access tokens (typ at+jwt)."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}

    def token(self, sub: str = ALICE, wallet: str | None = ALICE_WALLET, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISS, "aud": AUD, "sub": sub, "wallet": wallet, "iat": now, "exp": now + 900,
                  "jti": f"j-{sub}-{now}", "token_use": "access", **overrides}
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.private, algorithm="EdDSA",
                          headers={"kid": self.kid, "typ": "at+jwt"})


async def _get_stake(request: pb.GetStakeRequest, context: grpc.aio.ServicerContext) -> pb.GetStakeResponse:
    # The servicer sees only what the interceptor admitted: it echoes whom it acts for.
    return pb.GetStakeResponse(stake=pb.Stake(id=request.stake_id, user_id=request.user_id))


async def _list_stakes(request: pb.ListStakesRequest, context: grpc.aio.ServicerContext) -> pb.ListStakesResponse:
    return pb.ListStakesResponse(stakes=[pb.Stake(user_id=request.user_id or "everyone")])


def _register(server: grpc.aio.Server) -> None:
    handlers = {
        "GetStake": grpc.unary_unary_rpc_method_handler(
            _get_stake, request_deserializer=pb.GetStakeRequest.FromString,
            response_serializer=pb.GetStakeResponse.SerializeToString),
        "ListStakes": grpc.unary_unary_rpc_method_handler(
            _list_stakes, request_deserializer=pb.ListStakesRequest.FromString,
            response_serializer=pb.ListStakesResponse.SerializeToString),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(STAKING, handlers),))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dev_pki(tmp_path_factory.mktemp("pki"), ["staking", "gateway", "operator"])


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("k1")


async def _serve(pki: Path, verifier: JwksVerifier | None) -> tuple[grpc.aio.Server, str]:
    server, port, health = grpc_server.build_server("staking", _register, [STAKING],
                                                    tls=TlsIdentity.load(pki / "staking"), reflection_enabled=False,
                                                    user_tokens=verifier)
    await grpc_server.start(server, health, [STAKING])
    return server, f"127.0.0.1:{port}"


@pytest.fixture()
async def staking_addr(pki: Path, key: SigningKey) -> AsyncIterator[str]:
    async def keys() -> dict[str, Any]:
        return {"keys": [key.jwk]}

    verifier = JwksVerifier(keys, ISS, AUD)
    await verifier.start()
    server, addr = await _serve(pki, verifier)
    yield addr
    await server.stop(0)
    await verifier.stop()


async def _ask_stake(addr: str, pki: Path, who: str, request: pb.GetStakeRequest,
                     token: str | None = None) -> pb.GetStakeResponse:
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
    async with channel(addr, tls=TlsIdentity.load(pki / who)) as ch:
        stub = ch.unary_unary(f"/{STAKING}/GetStake", request_serializer=pb.GetStakeRequest.SerializeToString,
                              response_deserializer=pb.GetStakeResponse.FromString)
        return await stub(request, metadata=metadata, timeout=5)


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def test_the_gateway_acts_for_the_user_whose_token_it_carries(staking_addr: str, pki: Path,
                                                                     key: SigningKey) -> None:
    request = pb.GetStakeRequest(stake_id="s1", user_id=ALICE, wallet=ALICE_WALLET)
    resp = await _ask_stake(staking_addr, pki, "gateway", request, key.token())
    assert (resp.stake.id, resp.stake.user_id) == ("s1", ALICE)


async def test_a_gateway_call_naming_a_user_without_a_token_is_refused(staking_addr: str, pki: Path) -> None:
    err = await _refused(_ask_stake(staking_addr, pki, "gateway", pb.GetStakeRequest(stake_id="s1", user_id=ALICE)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "access token" in (err.details() or "")


async def test_another_users_token_cannot_act_for_alice(staking_addr: str, pki: Path, key: SigningKey) -> None:
    err = await _refused(_ask_stake(staking_addr, pki, "gateway", pb.GetStakeRequest(stake_id="s1", user_id=ALICE),
                                    key.token(sub=BOB, wallet=None)))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "user_id is not the user of the access token" in (err.details() or "")


async def test_the_wallet_must_be_the_tokens_wallet_in_any_letter_case(staking_addr: str, pki: Path,
                                                                      key: SigningKey) -> None:
    other_wallet = "0x" + "b2" * 20
    err = await _refused(_ask_stake(staking_addr, pki, "gateway",
                                    pb.GetStakeRequest(stake_id="s1", user_id=ALICE, wallet=other_wallet), key.token()))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "wallet" in (err.details() or "")
    # The same address in upper case is the same wallet.
    upper = pb.GetStakeRequest(stake_id="s1", user_id=ALICE, wallet="0x" + ALICE_WALLET[2:].upper())
    assert (await _ask_stake(staking_addr, pki, "gateway", upper, key.token())).stake.user_id == ALICE


@pytest.mark.parametrize("case", ["expired", "foreign key", "not a jwt", "wrong audience"])
async def test_an_invalid_token_is_refused_whoever_it_names(staking_addr: str, pki: Path, key: SigningKey,
                                                           case: str) -> None:
    token = {
        "expired": lambda: key.token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
        "foreign key": lambda: SigningKey("k1").token(),  # same kid, another private key
        "not a jwt": lambda: "not-a-token",
        "wrong audience": lambda: key.token(aud="another-api"),
    }[case]()
    err = await _refused(_ask_stake(staking_addr, pki, "gateway", pb.GetStakeRequest(stake_id="s1", user_id=ALICE),
                                    token))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "invalid access token" in (err.details() or "")


async def test_the_gateways_outgoing_calls_carry_the_verified_users_token(staking_addr: str, pki: Path,
                                                                         key: SigningKey) -> None:
    """What the gateway does: the request's verified token is set once; every call then carries it."""
    reset = user_token_var.set(key.token())
    try:
        async with channel(staking_addr, tls=TlsIdentity.load(pki / "gateway")) as ch:
            stub = ch.unary_unary(f"/{STAKING}/ListStakes", request_serializer=pb.ListStakesRequest.SerializeToString,
                                  response_deserializer=pb.ListStakesResponse.FromString)
            resp = await stub(pb.ListStakesRequest(user_id=ALICE, wallet=ALICE_WALLET))
            assert [s.user_id for s in resp.stakes] == [ALICE]
            # Someone else's stakes with Alice's token: refused.
            err = await _refused(stub(pb.ListStakesRequest(user_id=BOB)))
            assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        user_token_var.reset(reset)


async def test_a_call_naming_nobody_is_left_to_the_services_rules(staking_addr: str, pki: Path) -> None:
    # No user field is filled: no token to check (the service decides, e.g. an unscoped read is the operator's).
    async with channel(staking_addr, tls=TlsIdentity.load(pki / "gateway")) as ch:
        stub = ch.unary_unary(f"/{STAKING}/ListStakes", request_serializer=pb.ListStakesRequest.SerializeToString,
                              response_deserializer=pb.ListStakesResponse.FromString)
        assert [s.user_id for s in (await stub(pb.ListStakesRequest(), timeout=5)).stakes] == ["everyone"]


async def test_the_operator_reads_a_users_records_without_their_token(staking_addr: str, pki: Path) -> None:
    # Only the gateway acts for end users; the operator's tools read by their own allow-list entry.
    async with channel(staking_addr, tls=TlsIdentity.load(pki / "operator")) as ch:
        stub = ch.unary_unary(f"/{STAKING}/ListStakes", request_serializer=pb.ListStakesRequest.SerializeToString,
                              response_deserializer=pb.ListStakesResponse.FromString)
        assert [s.user_id for s in (await stub(pb.ListStakesRequest(user_id=ALICE), timeout=5)).stakes] == [ALICE]


async def test_a_service_that_cannot_verify_tokens_refuses_to_act_for_users(pki: Path, key: SigningKey) -> None:
    server, addr = await _serve(pki, None)
    try:
        err = await _refused(_ask_stake(addr, pki, "gateway", pb.GetStakeRequest(stake_id="s1", user_id=ALICE),
                                        key.token()))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "cannot verify" in (err.details() or "")
    finally:
        await server.stop(0)


_PB_MODULES = {svc: f"ipheron.{svc.split('.')[1]}.v1.{svc.split('.')[1]}_service_pb2" for svc in access.ON_BEHALF}


@pytest.mark.parametrize("service", sorted(access.ON_BEHALF))
def test_every_user_field_of_the_table_is_a_string_field_of_its_request(service: str) -> None:
    """A misspelt path would crash the interceptor or, worse, check nothing: every one resolves."""
    module = importlib.import_module(_PB_MODULES[service])
    descriptor = module.DESCRIPTOR.services_by_name[service.rsplit(".", 1)[1]]
    for rpc, fields in access.ON_BEHALF[service].items():
        assert access.GATEWAY in access.allowed_callers(f"/{service}/{rpc}"), rpc
        assert fields, rpc
        for path, claim in fields:
            assert claim in (access.SUBJECT, access.WALLET)
            message = descriptor.methods_by_name[rpc].input_type
            *parents, leaf = path.split(".")
            for name in parents:
                message = message.fields_by_name[name].message_type
            assert message.fields_by_name[leaf].type == FieldDescriptor.TYPE_STRING, (rpc, path)


def test_the_services_that_act_for_users_are_the_ones_calling_auth_for_its_keys() -> None:
    acting = {svc for svc in access.DEPLOYABLES if access.acts_for_users(svc)}
    assert acting == {access.AUTH, access.ASSETS, access.STAKING, access.AI_AGENTS}
    jwks_callers = access.allowed_callers("/ipheron.auth.v1.AuthService/GetJwks")
    assert acting - {access.AUTH} <= jwks_callers
