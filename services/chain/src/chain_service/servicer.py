"""ChainService gRPC servicer: protobuf <-> domain, nothing else."""

from __future__ import annotations

import grpc
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron.common.v1 import common_pb2

from chain_service.domain import ChainDomain, TxView, event_args_json, wei_str

_TYPES = {
    "deploy": pb.TRANSACTION_TYPE_DEPLOY,
    "admin": pb.TRANSACTION_TYPE_ADMIN,
    "mint": pb.TRANSACTION_TYPE_MINT,
    "list": pb.TRANSACTION_TYPE_LIST,
    "unlist": pb.TRANSACTION_TYPE_UNLIST,
    "buy": pb.TRANSACTION_TYPE_BUY,
    "transfer": pb.TRANSACTION_TYPE_TRANSFER,
    "withdraw": pb.TRANSACTION_TYPE_WITHDRAW,
    "native_transfer": pb.TRANSACTION_TYPE_NATIVE_TRANSFER,
}
_STATUSES = {
    "pending": pb.TRANSACTION_STATUS_PENDING,
    "confirmed": pb.TRANSACTION_STATUS_CONFIRMED,
    "failed": pb.TRANSACTION_STATUS_FAILED,
    "replaced": pb.TRANSACTION_STATUS_REPLACED,
}
_PAYOUT_KINDS = {"seller": pb.PAYOUT_KIND_SELLER, "royalty": pb.PAYOUT_KIND_ROYALTY}


def _eth(wei: int) -> common_pb2.Money:
    """Wei as an exact ETH decimal string (18 fractional digits)."""
    whole, frac = divmod(int(wei), 10**18)
    return common_pb2.Money(amount=f"{whole}.{frac:018d}", currency="ETH")


def transaction_pb(view: TxView) -> pb.Transaction:
    r = view.record
    msg = pb.Transaction(
        tx_hash=r.tx_hash,
        from_address=r.from_address,
        to_address=r.to_address or "",
        asset_id=str(r.asset_id) if r.asset_id else "",
        token_id=r.token_id or 0,
        amount_wei=wei_str(r.amount_wei),
        type=_TYPES.get(r.type, pb.TRANSACTION_TYPE_UNSPECIFIED),
        status=_STATUSES.get(r.status, pb.TRANSACTION_STATUS_UNSPECIFIED),
        gas_used=r.gas_used or 0,
        gas_price_wei=wei_str(r.gas_price_wei),
        block_number=r.block_number or 0,
        nonce=r.nonce,
        replaced_by=r.replaced_by or "",
        error=r.error or "",
        counterparty=r.counterparty or "",
    )
    if r.block_time is not None:
        msg.block_time.FromDatetime(r.block_time)
    if r.created_at is not None:
        msg.created_at.FromDatetime(r.created_at)
    if view.receipt is not None:
        rc = view.receipt
        msg.receipt.CopyFrom(pb.Receipt(
            succeeded=int(rc["status"]) == 1,
            block_hash="0x" + bytes(rc["blockHash"]).hex(),
            block_number=int(rc["blockNumber"]),
            gas_used=int(rc["gasUsed"]),
            effective_gas_price_wei=str(int(rc.get("effectiveGasPrice") or 0)),
            confirmations=max(view.confirmations, 0),
            contract_address=rc.get("contractAddress") or "",
            events=[pb.ChainEvent(name=e.name, contract_address=e.address, args_json=event_args_json(e.args),
                                  log_index=e.log_index) for e in view.events],
        ))
    return msg


class ChainServicer(pb_grpc.ChainServiceServicer):
    """Thin mapping onto `ChainDomain`; typed domain errors become gRPC statuses centrally."""

    def __init__(self, domain: ChainDomain) -> None:
        self.domain = domain

    async def MintAsset(self, request: pb.MintAssetRequest, context: grpc.aio.ServicerContext) -> pb.MintAssetResponse:
        result = await self.domain.mint(
            request.asset_id, request.owner_address, request.token_uri,
            [(c.address, c.share_bps) for c in request.co_creators], request.royalty_bps,
        )
        return pb.MintAssetResponse(token_id=result.token_id, contract_address=result.contract_address,
                                    transaction=transaction_pb(result.tx), already_minted=result.already_minted)

    async def ListToken(self, request: pb.ListTokenRequest, context: grpc.aio.ServicerContext) -> pb.ListTokenResponse:
        view, (seller, price) = await self.domain.list_token(request.token_id, request.price_wei)
        return pb.ListTokenResponse(transaction=transaction_pb(view),
                                    listing=pb.Listing(listed=True, seller=seller, price_wei=str(price)))

    async def UnlistToken(self, request: pb.UnlistTokenRequest,
                          context: grpc.aio.ServicerContext) -> pb.UnlistTokenResponse:
        return pb.UnlistTokenResponse(transaction=transaction_pb(await self.domain.unlist_token(request.token_id)))

    async def BuyToken(self, request: pb.BuyTokenRequest, context: grpc.aio.ServicerContext) -> pb.BuyTokenResponse:
        result = await self.domain.buy(request.token_id, request.recipient_address, request.price_wei,
                                       request.idempotency_key, request.asset_id)
        return pb.BuyTokenResponse(
            transaction=transaction_pb(result.tx),
            payouts=[pb.Payout(address=a, amount_wei=str(v), kind=_PAYOUT_KINDS[k]) for a, v, k in result.payouts],
            seller_address=result.seller, royalty_wei=str(result.royalty),
        )

    async def TransferToken(self, request: pb.TransferTokenRequest,
                            context: grpc.aio.ServicerContext) -> pb.TransferTokenResponse:
        view = await self.domain.transfer_token(request.token_id, request.to_address)
        return pb.TransferTokenResponse(transaction=transaction_pb(view))

    async def GetToken(self, request: pb.GetTokenRequest, context: grpc.aio.ServicerContext) -> pb.GetTokenResponse:
        info = await self.domain.token_info(token_id=request.token_id or None, asset_id=request.asset_id or None)
        listing = pb.Listing(listed=info.listing is not None)
        if info.listing is not None:
            listing.seller, listing.price_wei = info.listing[0], str(info.listing[1])
        return pb.GetTokenResponse(
            token_id=info.token_id, asset_id=info.asset_id, owner_address=info.owner, token_uri=info.uri,
            co_creators=[pb.CoCreator(address=a, share_bps=b) for a, b in info.co_creators],
            royalty_bps=info.royalty_bps, listing=listing, contract_address=info.contract_address,
        )

    async def GetRoyaltyInfo(self, request: pb.GetRoyaltyInfoRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetRoyaltyInfoResponse:
        receiver, royalty, split, proceeds = await self.domain.royalty_info(request.token_id, request.sale_price_wei)
        return pb.GetRoyaltyInfoResponse(
            receiver=receiver, royalty_wei=str(royalty), seller_proceeds_wei=str(proceeds),
            split=[pb.Payout(address=a, amount_wei=str(v), kind=pb.PAYOUT_KIND_ROYALTY) for a, v in split],
        )

    async def GetBalance(self, request: pb.GetBalanceRequest, context: grpc.aio.ServicerContext) -> pb.GetBalanceResponse:
        address, pending, native = await self.domain.balance(request.address)
        return pb.GetBalanceResponse(address=address, pending_withdrawal_wei=str(pending),
                                     native_balance_wei=str(native), pending_withdrawal=_eth(pending),
                                     native_balance=_eth(native))

    async def Withdraw(self, request: pb.WithdrawRequest, context: grpc.aio.ServicerContext) -> pb.WithdrawResponse:
        view, results = await self.domain.withdraw(list(request.payees), request.idempotency_key)
        return pb.WithdrawResponse(
            transaction=transaction_pb(view),
            results=[pb.WithdrawalResult(address=a, amount_wei=str(v), succeeded=ok) for a, v, ok in results],
        )

    async def GetTransaction(self, request: pb.GetTransactionRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetTransactionResponse:
        return pb.GetTransactionResponse(transaction=transaction_pb(await self.domain.get_transaction(request.tx_hash)))

    async def ListTransactions(self, request: pb.ListTransactionsRequest,
                               context: grpc.aio.ServicerContext) -> pb.ListTransactionsResponse:
        views, total, page, per_page = await self.domain.list_transactions(
            asset_id=request.asset_id, token_id=request.token_id, address=request.address,
            page=request.page.page, per_page=request.page.per_page,
        )
        return pb.ListTransactionsResponse(
            transactions=[transaction_pb(v) for v in views],
            page_info=common_pb2.PageInfo(page=page, per_page=per_page, total=total),
        )

    async def GetNetworkStatus(self, request: pb.GetNetworkStatusRequest,
                               context: grpc.aio.ServicerContext) -> pb.GetNetworkStatusResponse:
        s = await self.domain.network_status()
        return pb.GetNetworkStatusResponse(
            chain_id=s.chain_id, latest_block=s.latest_block, gas_price_wei=str(s.gas_price),
            base_fee_wei=str(s.base_fee), token_address=s.token_address, marketplace_address=s.marketplace_address,
            signer_address=s.signer_address, signer_balance_wei=str(s.signer_balance), network=s.network,
            healthy=s.healthy, journaled_transactions=s.journaled,
        )

    async def VerifySignature(self, request: pb.VerifySignatureRequest,
                              context: grpc.aio.ServicerContext) -> pb.VerifySignatureResponse:
        which = request.WhichOneof("payload")
        valid, method, recovered = await self.domain.verify_signature(
            request.address,
            request.message if which == "message" else None,
            request.digest if which == "digest" else None,
            request.signature,
        )
        return pb.VerifySignatureResponse(valid=valid, method=method, recovered_address=recovered)


__all__ = ["ChainServicer", "transaction_pb"]
