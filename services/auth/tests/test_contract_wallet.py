"""EIP-1271 sign-in: a contract wallet on the real embedded EVM, checked through the real
chain service's VerifySignature RPC (both services in-process on port 0, each started
through the service skeleton)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from auth_service.keys import KeyRing
from auth_service.server import AuthApp
from conftest import make_settings
from eth_account import Account
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1.auth_service_pb2_grpc import AuthServiceStub
from ipheron_libs.testing import fresh_schema
from sqlalchemy import Engine
from test_login import rejected, sign

chain_service = pytest.importorskip("chain_service")
from chain_service.config import ChainSettings  # noqa: E402
from chain_service.contracts import load_artifact  # noqa: E402
from chain_service.repository import SCHEMA as CHAIN_SCHEMA  # noqa: E402
from chain_service.server import ChainApp  # noqa: E402
from chain_service.txmanager import TxRequest  # noqa: E402


@pytest.fixture(scope="module")
async def chain(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, ChainApp]]:
    """The real chain service (embedded EVM) started through the service skeleton on port 0."""
    url = fresh_schema(pg_admin_url, CHAIN_SCHEMA)
    app = ChainApp(ChainSettings(env="test", data_dir=tmp_path_factory.mktemp("chain"), database_url=url,  # type: ignore[call-arg]
                                 journal=False, redis_url=None), url)
    port = await app.start(host="127.0.0.1", port=0)
    try:
        yield f"127.0.0.1:{port}", app
    finally:
        await app.stop(grace=0)


@pytest.fixture()
async def stub_with_chain(chain: tuple[str, ChainApp], clean_engine: Engine, auth_url: str, keyring: KeyRing,
                          tmp_path: Path) -> AsyncIterator[AuthServiceStub]:
    app = AuthApp(make_settings(tmp_path, chain_addr=chain[0]), auth_url, keyring=keyring)
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield AuthServiceStub(channel)
    finally:
        await channel.close()
        await app.stop(grace=0)


async def deploy_wallet(chain_app: ChainApp, owner: str) -> str:
    chain = chain_app.service
    art = load_artifact("TestContractWallet")
    factory = chain.network.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    deploy = factory.constructor(owner, False).data_in_transaction
    sent = await chain.tm.send(TxRequest(type="deploy", to=None, data=deploy))
    return str(sent.receipt["contractAddress"])


async def test_contract_wallet_signs_in_through_eip1271(stub_with_chain: AuthServiceStub,
                                                        chain: tuple[str, ChainApp]) -> None:
    owner, stranger = Account.create(), Account.create()
    wallet = await deploy_wallet(chain[1], owner.address)
    ch = await stub_with_chain.CreateNonce(pb.CreateNonceRequest(address=wallet))
    # A stranger's signature is refused by the contract: the clear reason names the recovered EOA.
    by_stranger = pb.LoginRequest(message=ch.message, signature=sign(stranger, ch.message))
    err = await rejected(stub_with_chain.Login(by_stranger))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED and stranger.address in (err.details() or "")
    resp = await stub_with_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(owner, ch.message)))
    assert resp.created and resp.user.wallet_address == wallet


async def test_eoa_login_still_works_with_chain_configured(stub_with_chain: AuthServiceStub) -> None:
    account = Account.create()
    ch = await stub_with_chain.CreateNonce(pb.CreateNonceRequest(address=account.address))
    resp = await stub_with_chain.Login(pb.LoginRequest(message=ch.message, signature=sign(account, ch.message)))
    assert resp.user.wallet_address == account.address
