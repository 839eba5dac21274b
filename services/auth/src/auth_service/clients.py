"""Outbound calls of the auth service: the chain service's VerifySignature, for
EIP-1271 contract wallets. Typed, with a deadline on every call."""

from __future__ import annotations

import logging

import grpc
from ipheron.chain.v1 import chain_service_pb2, chain_service_pb2_grpc
from ipheron_libs import grpc_client
from ipheron_libs.errors import Unavailable
from ipheron_libs.wire import Transient, UpstreamFailure, classify_rpc_error

log = logging.getLogger(__name__)

SERVICE = "chain"


class ChainClient:
    """The chain service as the auth service needs it."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = grpc_client.channel(addr)
        self.stub = chain_service_pb2_grpc.ChainServiceStub(self.channel)
        self.timeout = timeout

    async def contract_accepts(self, address: str, message: str, signature: bytes) -> bool:
        """Whether the contract wallet at `address` accepts `signature` over `message` (EIP-1271).

        Only an EIP-1271 verdict counts: the auth service has already tried ECDSA
        recovery locally, so a "valid" answer by the "ecdsa" method cannot occur for
        the same bytes and is not trusted here. A refusal by the chain (e.g. no contract
        at that address) is a "no"; a transient failure or a chain fault is `Unavailable`:
        the signature cannot be judged now.
        """
        request = chain_service_pb2.VerifySignatureRequest(address=address, message=message.encode(),
                                                           signature=signature)
        try:
            response = await self.stub.VerifySignature(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            failure = classify_rpc_error(exc, SERVICE)
            log.warning("chain VerifySignature failed for %s: %s", address, failure)
            if isinstance(failure, Transient | UpstreamFailure):
                raise Unavailable("cannot check a contract-wallet signature: chain service unavailable") from None
            return False
        return bool(response.valid and response.method == "eip1271")

    async def close(self) -> None:
        await self.channel.close()
