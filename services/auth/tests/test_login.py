"""Sign-In with Ethereum end to end over gRPC: real keys, real PostgreSQL, real JWTs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import grpc
import jwt
import pytest
from auth_service.keys import KeyRing
from auth_service.siwe import format_datetime, parse_message
from conftest import CHAIN_ID, DOMAIN, URI
from eth_account import Account
from eth_account.messages import encode_defunct
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from sqlalchemy import Engine, text


def sign(account, text: str) -> str:  # type: ignore[no-untyped-def]
    return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")


async def nonce_for(stub: AuthServiceStub, account) -> pb.CreateNonceResponse:  # type: ignore[no-untyped-def]
    return await stub.CreateNonce(pb.CreateNonceRequest(address=account.address.lower()))


async def login(stub: AuthServiceStub, account) -> pb.LoginResponse:  # type: ignore[no-untyped-def]
    challenge = await nonce_for(stub, account)
    return await stub.Login(pb.LoginRequest(message=challenge.message, signature=sign(account, challenge.message)))


async def rejected(call) -> grpc.aio.AioRpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


def rewrite(message: str, **fields: str) -> str:
    """Replace whole tagged lines ("Chain ID", "Expiration Time", ...) of a SIWE message."""
    lines = message.split("\n")
    for tag, value in fields.items():
        label = {"chain_id": "Chain ID", "expiration": "Expiration Time", "issued_at": "Issued At",
                 "uri": "URI"}[tag]
        lines = [f"{label}: {value}" if ln.startswith(f"{label}: ") else ln for ln in lines]
    return "\n".join(lines)


async def test_nonce_returns_siwe_fields_and_exact_message(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    assert len(ch.nonce) >= 8 and ch.nonce.isalnum()
    assert (ch.domain, ch.uri, ch.chain_id, ch.version) == (DOMAIN, URI, CHAIN_ID, "1")
    assert ch.address == account.address  # EIP-55 form of the lower-case input
    msg = parse_message(ch.message)
    assert (msg.nonce, msg.domain, msg.address, msg.issued_at, msg.expiration_time) == (
        ch.nonce, DOMAIN, account.address, ch.issued_at, ch.expiration_time)
    lifetime = msg.expiration_time_dt - msg.issued_at_dt  # type: ignore[operator]
    assert lifetime == timedelta(minutes=10)


async def test_full_login_with_real_key_creates_user_and_returns_verifiable_tokens(
        stub: AuthServiceStub, keyring: KeyRing, clean_engine: Engine) -> None:
    account = Account.create()
    resp = await login(stub, account)
    assert resp.created is True
    assert resp.user.wallet_address == account.address
    assert resp.user.reputation_score == 50 and resp.user.region == "Global" and resp.user.total_sales == "0.000000"
    assert resp.tokens.token_type == "Bearer" and resp.tokens.expires_in == 900
    assert resp.tokens.refresh_token.startswith("rt_")

    header = jwt.get_unverified_header(resp.tokens.access_token)
    assert header["alg"] == "EdDSA" and header["kid"] == keyring.current.kid
    claims = jwt.decode(resp.tokens.access_token, keyring.current.public_key, algorithms=["EdDSA"],
                        audience="ipheron-api", issuer="ipheron-auth")
    assert claims["sub"] == resp.user.id and claims["wallet"] == account.address
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]

    with clean_engine.connect() as conn:
        events = conn.execute(text("SELECT type, actor FROM outbox")).all()
        stored = conn.execute(text("SELECT token_hash FROM refresh_tokens")).scalars().all()
    assert [(e.type, e.actor) for e in events] == [("user.created", resp.user.id)]
    assert resp.tokens.refresh_token.encode() not in stored  # stored hashed only

    again = await login(stub, account)
    assert again.created is False and again.user.id == resp.user.id


async def test_replayed_nonce_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    req = pb.LoginRequest(message=ch.message, signature=sign(account, ch.message))
    await stub.Login(req)
    err = await rejected(stub.Login(req))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "already used" in (err.details() or "")


async def test_expired_message_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    past = datetime.now(UTC) - timedelta(minutes=1)
    message = rewrite(ch.message, expiration=format_datetime(past))
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in (err.details() or "")


async def test_message_issued_in_the_future_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    message = rewrite(ch.message, issued_at=format_datetime(datetime.now(UTC) + timedelta(hours=1)))
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert "future" in (err.details() or "")


async def test_wrong_domain_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    message = ch.message.replace(DOMAIN, "evil.example", 1)
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "domain" in (err.details() or "")


async def test_wrong_uri_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    message = rewrite(ch.message, uri="https://evil.example/login")
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert "uri" in (err.details() or "")


async def test_wrong_chain_id_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    message = rewrite(ch.message, chain_id="1")
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "chain ID" in (err.details() or "")


async def test_signature_by_another_key_is_rejected(stub: AuthServiceStub) -> None:
    account, other = Account.create(), Account.create()
    ch = await nonce_for(stub, account)
    err = await rejected(stub.Login(pb.LoginRequest(message=ch.message, signature=sign(other, ch.message))))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert other.address in (err.details() or "") and account.address in (err.details() or "")


async def test_tampered_message_after_signing_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    signature = sign(account, ch.message)
    tampered = ch.message.replace("Sign in to IPheron.", "Sign in to IPheron!")
    err = await rejected(stub.Login(pb.LoginRequest(message=tampered, signature=signature)))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and "not by" in (err.details() or "")


async def test_nonce_issued_for_another_address_is_rejected(stub: AuthServiceStub) -> None:
    account, other = Account.create(), Account.create()
    ch = await nonce_for(stub, other)
    message = ch.message.replace(other.address, account.address)
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert "another address" in (err.details() or "")


async def test_unknown_nonce_is_rejected(stub: AuthServiceStub) -> None:
    account = Account.create()
    ch = await nonce_for(stub, account)
    message = ch.message.replace(f"Nonce: {ch.nonce}", "Nonce: AAAAAAAAAAAA")
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert "unknown nonce" in (err.details() or "")


async def test_malformed_message_and_signature_are_invalid_arguments(stub: AuthServiceStub) -> None:
    err = await rejected(stub.Login(pb.LoginRequest(message="hello", signature="0x00")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "EIP-4361" in (err.details() or "")
    account = Account.create()
    ch = await nonce_for(stub, account)
    err = await rejected(stub.Login(pb.LoginRequest(message=ch.message, signature="not-hex")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_nonce_for_malformed_address_is_invalid_argument(stub: AuthServiceStub) -> None:
    err = await rejected(stub.CreateNonce(pb.CreateNonceRequest(address="0x1234")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_jwks_lists_public_key_only(stub: AuthServiceStub, keyring: KeyRing) -> None:
    resp = await stub.GetJwks(pb.GetJwksRequest())
    keys = json.loads(resp.jwks_json)["keys"]
    assert [k["kid"] for k in keys] == [keyring.current.kid]
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and "d" not in keys[0]
    assert (resp.issuer, resp.audience) == ("ipheron-auth", "ipheron-api")


async def test_user_created_event_is_relayed_to_the_stream(stub: AuthServiceStub, clean_engine: Engine,
                                                           redis_url: str) -> None:
    import redis
    from ipheron_libs.events import OutboxRelay

    stream = "test:auth:events"
    resp = await login(stub, Account.create())
    relay = OutboxRelay(clean_engine, "auth", redis_url, stream=stream)
    try:
        assert relay.publish_pending() == 1
        assert relay.publish_pending() == 0  # published once
    finally:
        relay.redis.close()
    client = redis.Redis.from_url(redis_url)
    try:
        entries = client.xrange(stream)
        fields = {k.decode(): v.decode() for k, v in entries[-1][1].items()}
    finally:
        client.delete(stream)
        client.close()
    assert fields["type"] == "user.created" and fields["actor"] == resp.user.id
    assert json.loads(fields["payload"])["wallet_address"] == resp.user.wallet_address


async def test_concurrent_first_logins_of_one_wallet_create_one_user(stub: AuthServiceStub) -> None:
    import asyncio

    account = Account.create()
    challenges = [await nonce_for(stub, account) for _ in range(4)]
    results = await asyncio.gather(*[
        stub.Login(pb.LoginRequest(message=c.message, signature=sign(account, c.message))) for c in challenges])
    assert len({r.user.id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_taken_default_username_falls_back_to_the_address(stub: AuthServiceStub) -> None:
    first, second = Account.create(), Account.create()
    squatter = (await login(stub, first)).user
    wanted = "user_" + second.address[2:10].lower()
    await stub.UpdateProfile(pb.UpdateProfileRequest(user_id=squatter.id, username=wanted))
    resp = await login(stub, second)
    assert resp.created and resp.user.username == second.address.lower()


async def test_sign_in_message_with_an_unchecksummed_address_is_refused(stub: AuthServiceStub) -> None:
    # The nonce is issued for the EIP-55 form; a client that lower-cases it in the text
    # it signs sends a message EIP-4361 does not allow.
    account = Account.create()
    ch = await nonce_for(stub, account)
    assert account.address in ch.message
    message = ch.message.replace(account.address, account.address.lower())
    err = await rejected(stub.Login(pb.LoginRequest(message=message, signature=sign(account, message))))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "EIP-55" in (err.details() or "")
