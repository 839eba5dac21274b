"""EIP-1271 contract-wallet signature checks through the chain service's VerifySignature."""

from __future__ import annotations

import logging

import grpc
from ipheron.chain.v1 import chain_service_pb2, chain_service_pb2_grpc
from ipheron_libs.errors import Unavailable

from auth_service.domain import ContractSignatureVerifier

log = logging.getLogger(__name__)


def contract_verifier(channel: grpc.aio.Channel, timeout: float) -> ContractSignatureVerifier:
    """A verifier that asks the chain service; only an EIP-1271 verdict counts.

    The auth service has already tried ECDSA recovery locally, so a "valid" answer
    by the "ecdsa" method cannot occur for the same bytes and is not trusted here.
    """
    stub = chain_service_pb2_grpc.ChainServiceStub(channel)

    async def verify(address: str, message: str, signature: bytes) -> bool:
        request = chain_service_pb2.VerifySignatureRequest(address=address, message=message.encode(), signature=signature)
        try:
            response = await stub.VerifySignature(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            log.warning("chain VerifySignature failed for %s: %s", address, exc.code().name)
            raise Unavailable("cannot check a contract-wallet signature: chain service unavailable") from None
        return bool(response.valid and response.method == "eip1271")

    return verify
