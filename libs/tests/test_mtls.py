"""Zero trust between the deployables over a real TLS server and real channels: only a
client certificate from the deployment's CA gets in, and each RPC admits only the
callers its allow-list names; the allow-list covers every RPC of every contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.staking.v1 import staking_service_pb2 as staking_pb
from ipheron_libs import access, grpc_server
from ipheron_libs.grpc_client import channel
from ipheron_libs.mtls import TlsIdentity, generate_dev_pki
from ipheron_libs.settings import CommonSettings, ServiceSettings

CHAIN = "ipheron.chain.v1.ChainService"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"ok:" + request


def _register(server: grpc.aio.Server) -> None:
    handlers = {name: grpc.unary_unary_rpc_method_handler(_echo) for name in ("PrepareFulfill", "GetVault",
                                                                                 "NotInTheTable")}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(CHAIN, handlers),))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dev_pki(tmp_path_factory.mktemp("pki"), ["chain", "assets", "gateway", "staking"])


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA issuing a certificate with a trusted name: the name alone must not get in."""
    return generate_dev_pki(tmp_path_factory.mktemp("rogue"), ["assets"])


@pytest.fixture()
async def chain_addr(pki: Path) -> AsyncIterator[str]:
    server, port, health = grpc_server.build_server("chain", _register, [CHAIN],
                                                    tls=TlsIdentity.load(pki / "chain"), reflection_enabled=False)
    await grpc_server.start(server, health, [CHAIN])
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def _call(ch: grpc.aio.Channel, rpc: str) -> bytes:
    result: bytes = await ch.unary_unary(f"/{CHAIN}/{rpc}")(b"x", timeout=5)
    return result


async def test_the_allow_listed_caller_gets_through(chain_addr: str, pki: Path) -> None:
    async with channel(chain_addr, tls=TlsIdentity.load(pki / "assets")) as ch:
        assert await _call(ch, "PrepareFulfill") == b"ok:x"


async def test_another_services_certificate_is_refused_on_an_rpc_not_on_its_allow_list(chain_addr: str,
                                                                                        pki: Path) -> None:
    # Only assets may prepare a fulfilment; the gateway (or anyone reaching the port) may not.
    async with channel(chain_addr, tls=TlsIdentity.load(pki / "gateway")) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(ch, "PrepareFulfill")
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "gateway may not call" in (err.value.details() or "")
        # ...while the same certificate may use what the table gives it.
        assert await _call(ch, "GetVault") == b"ok:x"


async def test_an_rpc_missing_from_the_table_is_refused_to_everyone(chain_addr: str, pki: Path) -> None:
    for who in ("assets", "gateway", "staking"):
        async with channel(chain_addr, tls=TlsIdentity.load(pki / who)) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await _call(ch, "NotInTheTable")
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_caller_without_a_client_certificate_is_refused(chain_addr: str, pki: Path) -> None:
    ca_only = grpc.ssl_channel_credentials(root_certificates=(pki / "ca" / "tls.crt").read_bytes())
    async with grpc.aio.secure_channel(chain_addr, ca_only) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(ch, "GetVault")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_plaintext_caller_is_refused(chain_addr: str) -> None:
    async with grpc.aio.insecure_channel(chain_addr) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(ch, "GetVault")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_from_another_ca_is_refused_even_with_a_trusted_name(chain_addr: str, pki: Path,
                                                                                rogue_pki: Path) -> None:
    rogue = TlsIdentity.load(rogue_pki / "assets")
    # It trusts the real CA (so the server's certificate verifies) but presents the rogue one.
    forged = TlsIdentity(rogue.certificate, rogue.private_key, (pki / "ca" / "tls.crt").read_bytes())
    async with channel(chain_addr, tls=forged) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call(ch, "PrepareFulfill")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_answers_any_certified_caller(chain_addr: str, pki: Path) -> None:
    async with channel(chain_addr, tls=TlsIdentity.load(pki / "staking")) as ch:
        resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_the_allow_list_names_every_rpc_of_every_contract_and_only_known_callers() -> None:
    from ipheron.ai_agents.v1 import ai_agents_service_pb2
    from ipheron.analytics.v1 import analytics_service_pb2
    from ipheron.assets.v1 import assets_service_pb2
    from ipheron.auth.v1 import auth_service_pb2
    from ipheron.chain.v1 import chain_service_pb2
    from ipheron.staking.v1 import staking_service_pb2

    contracts = {}
    for module in (ai_agents_service_pb2, analytics_service_pb2, assets_service_pb2, auth_service_pb2,
                   chain_service_pb2, staking_service_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            contracts[service.full_name] = {m.name for m in service.methods}
    assert set(contracts) == set(access.ALLOWED) == set(access.SERVICE_OF.values())
    for service, rpcs in contracts.items():
        assert set(access.ALLOWED[service]) == rpcs, service
        for rpc, callers in access.ALLOWED[service].items():
            assert callers and callers <= set(access.IDENTITIES), (service, rpc)


def test_value_moving_chain_rpcs_admit_only_the_service_that_owns_the_flow() -> None:
    assert access.allowed_callers(f"/{CHAIN}/PrepareFulfill") == {"assets"}
    assert access.allowed_callers(f"/{CHAIN}/MintAsset") == {"assets"}
    assert access.allowed_callers(f"/{CHAIN}/PrepareStake") == {"staking"}
    assert "gateway" not in access.allowed_callers("/ipheron.auth.v1.AuthService/IncrementAssetsCreated")
    assert access.allowed_callers("/ipheron.nope.v1.Nope/Anything") == frozenset()


def test_production_refuses_to_start_without_mutual_tls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="IPHERON_TLS_DIR"):
        CommonSettings(env="production")
    with pytest.raises(ValueError, match="IPHERON_TLS_DIR"):
        ServiceSettings(env="production", database_url="postgresql://u@h/db", redis_url="redis://h:6379/0")
    pki = generate_dev_pki(tmp_path, ["auth"])
    ok = ServiceSettings(env="production", database_url="postgresql://u@h/db", redis_url="redis://h:6379/0",
                         tls_dir=pki / "auth")
    assert ok.tls_identity() is not None


STAKING = "ipheron.staking.v1.StakingService"


async def _list_every_users(request: staking_pb.ListStakesRequest,
                            context: grpc.aio.ServicerContext) -> staking_pb.ListStakesResponse:
    # An empty user_id asks for every user's records (as staking's ListStakes does).
    if not request.user_id:
        access.check_unscoped_read(context, "stakes")
    return staking_pb.ListStakesResponse(stakes=[staking_pb.Stake(id="listed")])


async def test_a_read_of_every_users_records_is_the_operators_even_from_an_allowed_caller(pki: Path) -> None:
    more = generate_dev_pki(pki, ["operator"])

    def register(server: grpc.aio.Server) -> None:
        handlers = {"ListStakes": grpc.unary_unary_rpc_method_handler(
            _list_every_users, request_deserializer=staking_pb.ListStakesRequest.FromString,
            response_serializer=staking_pb.ListStakesResponse.SerializeToString)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(STAKING, handlers),))

    def list_stakes(ch: grpc.aio.Channel) -> Any:
        return ch.unary_unary(f"/{STAKING}/ListStakes",
                              request_serializer=staking_pb.ListStakesRequest.SerializeToString,
                              response_deserializer=staking_pb.ListStakesResponse.FromString)

    server, port, health = grpc_server.build_server("staking", register, [STAKING],
                                                    tls=TlsIdentity.load(more / "staking"), reflection_enabled=False)
    await grpc_server.start(server, health, [STAKING])
    try:
        # (A read scoped to a user needs that user's token from the gateway: test_user_tokens.py.)
        async with channel(f"127.0.0.1:{port}", tls=TlsIdentity.load(more / "gateway")) as gw:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await list_stakes(gw)(staking_pb.ListStakesRequest(), timeout=5)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "for the operator" in (err.value.details() or "")
        async with channel(f"127.0.0.1:{port}", tls=TlsIdentity.load(more / "operator")) as op:
            resp = await list_stakes(op)(staking_pb.ListStakesRequest(), timeout=5)
            assert [s.id for s in resp.stakes] == ["listed"]
    finally:
        await server.stop(0)
