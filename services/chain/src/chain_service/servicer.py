"""ChainService gRPC servicer: protobuf <-> the domain's records, nothing else (the use
cases are `ChainService`; typed domain errors become gRPC statuses in the shared interceptor)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import grpc
from ipheron.chain.v1 import chain_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2_grpc as pb_grpc
from ipheron.common.v1 import common_pb2
from ipheron_libs import wire
from ipheron_libs.errors import InvalidArgument

from chain_service import domain, vault
from chain_service.domain import CheckedOrder, Prepared, PreparedCall, TxView
from chain_service.service import ChainService
from chain_service.vault import DOMAIN_NAME, DOMAIN_VERSION, StakeOnChain, VaultState

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
    "user_call": pb.TRANSACTION_TYPE_USER_CALL,
    "faucet": pb.TRANSACTION_TYPE_FAUCET,
    "cancel": pb.TRANSACTION_TYPE_CANCEL,
    "stake": pb.TRANSACTION_TYPE_STAKE,
    "stake_claim": pb.TRANSACTION_TYPE_STAKE_CLAIM,
    "unstake": pb.TRANSACTION_TYPE_UNSTAKE,
    "vault_fund": pb.TRANSACTION_TYPE_VAULT_FUND,
}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}
_STATUSES = {
    "pending": pb.TRANSACTION_STATUS_PENDING,
    "confirmed": pb.TRANSACTION_STATUS_CONFIRMED,
    "failed": pb.TRANSACTION_STATUS_FAILED,
    "replaced": pb.TRANSACTION_STATUS_REPLACED,
}
_STAKE_ACTIONS = {pb.STAKE_ACTION_CLAIM: "claim", pb.STAKE_ACTION_UNSTAKE: "unstake"}
_ORDER_STATES = {state: getattr(pb, f"ORDER_STATE_{state.name}") for state in domain.OrderState}


def _eth(wei: int) -> common_pb2.Money:
    """Wei as ETH with all 18 decimals ("1.500000000000000000"): the wire's fixed display form
    for balances, exact for any uint256 (integer division, no Decimal context rounding)."""
    whole, frac = divmod(int(wei), wire.WEI_PER_ETH)
    return common_pb2.Money(amount=f"{whole}.{frac:018d}", currency="ETH")


def event_args_json(args: Mapping[str, object]) -> str:
    """Event arguments as JSON: integers as decimal strings, bytes as hex."""
    def conv(v: object) -> object:
        if isinstance(v, bool):
            return v
        if isinstance(v, int):
            return str(v)
        if isinstance(v, bytes | bytearray):
            return "0x" + bytes(v).hex()
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return json.dumps({k: conv(v) for k, v in args.items()}, sort_keys=True)


def transaction_pb(view: TxView) -> pb.Transaction:
    r = view.record
    msg = pb.Transaction(
        tx_hash=r.tx_hash,
        from_address=r.from_address,
        to_address=r.to_address or "",
        asset_id=str(r.asset_id) if r.asset_id else "",
        token_id=r.token_id or 0,
        amount_wei=wire.wei_str(r.amount_wei),
        type=_TYPES.get(r.type, pb.TRANSACTION_TYPE_UNSPECIFIED),
        status=_STATUSES.get(r.status, pb.TRANSACTION_STATUS_UNSPECIFIED),
        gas_used=r.gas_used or 0,
        gas_price_wei=wire.wei_str(r.gas_price_wei or 0),
        block_number=r.block_number or 0,
        nonce=r.nonce,
        replaced_by=r.replaced_by or "",
        error=r.error or "",
        counterparty=r.counterparty or "",
    )
    if r.block_time is not None:
        msg.block_time.CopyFrom(wire.to_timestamp(r.block_time))
    if r.created_at is not None:
        msg.created_at.CopyFrom(wire.to_timestamp(r.created_at))
    if view.receipt is not None:
        rc = view.receipt
        msg.receipt.CopyFrom(pb.Receipt(
            succeeded=rc.succeeded,
            block_hash=rc.block_hash,
            block_number=rc.block_number,
            gas_used=rc.gas_used,
            effective_gas_price_wei=wire.wei_str(rc.effective_gas_price_wei),
            confirmations=max(view.confirmations, 0),
            contract_address=rc.contract_address,
            events=[pb.ChainEvent(name=e.name, contract_address=e.address, args_json=event_args_json(e.args),
                                  log_index=e.log_index) for e in view.events],
        ))
    return msg


def prepared_pb(tx: Prepared) -> pb.PreparedTransaction:
    return pb.PreparedTransaction(
        from_address=tx.from_address, to=tx.to or "", data=tx.data, value_wei=wire.wei_str(tx.value),
        chain_id=tx.chain_id, gas=tx.gas, max_fee_per_gas_wei=wire.wei_str(tx.max_fee_per_gas),
        max_priority_fee_per_gas_wei=wire.wei_str(tx.max_priority_fee_per_gas), nonce=tx.nonce)


def prepare_response_pb(call: PreparedCall) -> pb.PrepareTransactionResponse:
    return pb.PrepareTransactionResponse(
        transaction=prepared_pb(call.tx), balance_wei=wire.wei_str(call.funds.balance),
        required_wei=wire.wei_str(call.funds.required), can_pay=call.funds.can_pay,
        shortfall_wei=wire.wei_str(call.funds.shortfall),
        gas_estimated_without_funds=call.gas_estimated_without_funds)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def prepared_of(msg: pb.PreparedTransaction, *, call_only: bool = False) -> Prepared:
    return domain.parse_prepared(msg.from_address, msg.to, msg.data, msg.value_wei, msg.chain_id, msg.gas,
                                 msg.max_fee_per_gas_wei, msg.max_priority_fee_per_gas_wei, msg.nonce,
                                 call_only=call_only)


class ChainServicer(pb_grpc.ChainServiceServicer):
    """Thin mapping onto `ChainService`; typed domain errors become gRPC statuses centrally."""

    def __init__(self, service: ChainService) -> None:
        self.service = service

    async def MintAsset(self, request: pb.MintAssetRequest, context: grpc.aio.ServicerContext) -> pb.MintAssetResponse:
        result = await self.service.mint(
            request.asset_id, request.owner_address, request.token_uri,
            [(c.address, c.share_bps) for c in request.co_creators], request.royalty_bps,
        )
        return pb.MintAssetResponse(token_id=result.token_id, contract_address=result.contract_address,
                                    transaction=transaction_pb(result.tx), already_minted=result.already_minted)

    async def GetToken(self, request: pb.GetTokenRequest, context: grpc.aio.ServicerContext) -> pb.GetTokenResponse:
        info = await self.service.token_info(token_id=request.token_id or None, asset_id=request.asset_id or None)
        listing = pb.Listing(listed=False)  # MarketplaceV2 has no on-chain listing: orders are signed off chain
        return pb.GetTokenResponse(
            token_id=info.token_id, asset_id=info.asset_id, owner_address=info.owner, token_uri=info.uri,
            co_creators=[pb.CoCreator(address=s.address, share_bps=s.bps) for s in info.co_creators],
            royalty_bps=info.royalty_bps, listing=listing, contract_address=info.contract_address,
        )

    async def GetRoyaltyInfo(self, request: pb.GetRoyaltyInfoRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetRoyaltyInfoResponse:
        quote = await self.service.royalty_info(request.token_id, request.sale_price_wei)
        return pb.GetRoyaltyInfoResponse(
            receiver=quote.receiver, royalty_wei=wire.wei_str(quote.royalty_wei),
            seller_proceeds_wei=wire.wei_str(quote.seller_proceeds_wei),
            split=[pb.Payout(address=c.address, amount_wei=wire.wei_str(c.amount_wei), kind=pb.PAYOUT_KIND_ROYALTY)
                   for c in quote.split],
        )

    async def GetBalance(self, request: pb.GetBalanceRequest,
                         context: grpc.aio.ServicerContext) -> pb.GetBalanceResponse:
        b = await self.service.balance(request.address)
        return pb.GetBalanceResponse(address=b.address, pending_withdrawal_wei=wire.wei_str(b.pending_withdrawal_wei),
                                     native_balance_wei=wire.wei_str(b.native_balance_wei),
                                     pending_withdrawal=_eth(b.pending_withdrawal_wei),
                                     native_balance=_eth(b.native_balance_wei))

    async def Withdraw(self, request: pb.WithdrawRequest, context: grpc.aio.ServicerContext) -> pb.WithdrawResponse:
        view, results = await self.service.withdraw(list(request.payees), request.idempotency_key)
        return pb.WithdrawResponse(
            transaction=transaction_pb(view),
            results=[pb.WithdrawalResult(address=r.address, amount_wei=wire.wei_str(r.amount_wei),
                                         succeeded=r.succeeded) for r in results],
        )

    async def GetTransaction(self, request: pb.GetTransactionRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetTransactionResponse:
        view = await self.service.get_transaction(request.tx_hash)
        return pb.GetTransactionResponse(transaction=transaction_pb(view))

    async def ListTransactions(self, request: pb.ListTransactionsRequest,
                               context: grpc.aio.ServicerContext) -> pb.ListTransactionsResponse:
        page = await self.service.list_transactions(
            asset_id=request.asset_id, token_id=request.token_id, address=request.address,
            page=request.page.page, per_page=request.page.per_page,
        )
        return pb.ListTransactionsResponse(
            transactions=[transaction_pb(v) for v in page.items],
            page_info=common_pb2.PageInfo(page=page.page, per_page=page.per_page, total=page.total),
        )

    async def GetNetworkStatus(self, request: pb.GetNetworkStatusRequest,
                               context: grpc.aio.ServicerContext) -> pb.GetNetworkStatusResponse:
        s = await self.service.network_status()
        return pb.GetNetworkStatusResponse(
            chain_id=s.chain_id, latest_block=s.latest_block, gas_price_wei=wire.wei_str(s.gas_price),
            base_fee_wei=wire.wei_str(s.base_fee), token_address=s.token_address,
            marketplace_address=s.marketplace_address, signer_address=s.signer_address,
            signer_balance_wei=wire.wei_str(s.signer_balance), network=s.network, healthy=s.healthy,
            journaled_transactions=s.journaled,
        )

    async def VerifySignature(self, request: pb.VerifySignatureRequest,
                              context: grpc.aio.ServicerContext) -> pb.VerifySignatureResponse:
        which = request.WhichOneof("payload")
        check = await self.service.verify_signature(
            request.address,
            request.message if which == "message" else None,
            request.digest if which == "digest" else None,
            request.signature,
        )
        return pb.VerifySignatureResponse(valid=check.valid, method=check.method,
                                          recovered_address=check.recovered_address)

    async def PrepareTransaction(self, request: pb.PrepareTransactionRequest,
                                 context: grpc.aio.ServicerContext) -> pb.PrepareTransactionResponse:
        call = await self.service.prepare_transaction(request.from_address, request.to_address, request.data,
                                                      request.value_wei)
        return prepare_response_pb(call)

    async def SubmitRawTransaction(self, request: pb.SubmitRawTransactionRequest,
                                   context: grpc.aio.ServicerContext) -> pb.SubmitRawTransactionResponse:
        if not request.HasField("expected"):
            raise InvalidArgument("expected (the prepared transaction) is required", field="expected")
        result = await self.service.submit_raw_transaction(
            request.raw_transaction, prepared_of(request.expected, call_only=request.match_call_only),
            _TYPE_NAMES.get(request.type, ""),
            request.asset_id, request.token_id, match_call_only=request.match_call_only)
        return pb.SubmitRawTransactionResponse(tx_hash=result.tx.record.tx_hash,
                                               transaction=transaction_pb(result.tx),
                                               already_submitted=result.already_submitted)

    async def Faucet(self, request: pb.FaucetRequest, context: grpc.aio.ServicerContext) -> pb.FaucetResponse:
        view, balance = await self.service.faucet(request.address, request.amount_wei)
        return pb.FaucetResponse(transaction=transaction_pb(view), balance_wei=wire.wei_str(balance))

    # --- signed orders ----------------------------------------------------------------
    async def BuildOrder(self, request: pb.BuildOrderRequest,
                         context: grpc.aio.ServicerContext) -> pb.BuildOrderResponse:
        document, order_hash = await self.service.build_order(request.token_id, request.seller, request.price_wei,
                                                              request.duration_seconds)
        return pb.BuildOrderResponse(typed_data_json=json.dumps(document), order_json=json.dumps(document["message"]),
                                     order_hash=_hex(order_hash))

    async def VerifyOrder(self, request: pb.VerifyOrderRequest,
                          context: grpc.aio.ServicerContext) -> pb.VerifyOrderResponse:
        return verify_response_pb(await self.service.verify_order(request.order_json, request.signature))

    async def PrepareFulfill(self, request: pb.PrepareFulfillRequest,
                             context: grpc.aio.ServicerContext) -> pb.PrepareFulfillResponse:
        call, order_hash = await self.service.prepare_fulfill(request.order_json, request.signature, request.buyer,
                                                              request.recipient)
        return pb.PrepareFulfillResponse(prepared=prepare_response_pb(call), order_hash=_hex(order_hash))

    async def PrepareCancel(self, request: pb.PrepareCancelRequest,
                            context: grpc.aio.ServicerContext) -> pb.PrepareCancelResponse:
        call, hashes = await self.service.prepare_cancel(list(request.order_json), request.seller)
        return pb.PrepareCancelResponse(prepared=prepare_response_pb(call), order_hashes=[_hex(h) for h in hashes])

    async def PrepareWithdraw(self, request: pb.PrepareWithdrawRequest,
                              context: grpc.aio.ServicerContext) -> pb.PrepareWithdrawResponse:
        call, pending = await self.service.prepare_withdraw(request.payee)
        return pb.PrepareWithdrawResponse(prepared=prepare_response_pb(call),
                                          pending_withdrawal_wei=wire.wei_str(pending))

    async def TrackTransaction(self, request: pb.TrackTransactionRequest,
                               context: grpc.aio.ServicerContext) -> pb.TrackTransactionResponse:
        if not request.HasField("expected"):
            raise InvalidArgument("expected (the prepared transaction) is required", field="expected")
        view = await self.service.track_transaction(request.tx_hash, prepared_of(request.expected),
                                                    _TYPE_NAMES.get(request.type, ""), request.asset_id,
                                                    request.token_id)
        return pb.TrackTransactionResponse(transaction=transaction_pb(view))

    async def ListChainEvents(self, request: pb.ListChainEventsRequest,
                              context: grpc.aio.ServicerContext) -> pb.ListChainEventsResponse:
        items, total, window = await self.service.list_chain_events(request.type, request.token_id,
                                                                    request.page.page, request.page.per_page)
        return pb.ListChainEventsResponse(
            events=[pb.IndexedEvent(type=e.domain_type, payload_json=json.dumps(dict(e.payload), sort_keys=True),
                                    block_number=e.block_number, tx_hash=tx_hash, log_index=e.key.log_index,
                                    event_id=e.domain_event_id or "") for e, tx_hash in items],
            page_info=common_pb2.PageInfo(page=window.page, per_page=window.per_page, total=total))

    async def Reconcile(self, request: pb.ReconcileRequest, context: grpc.aio.ServicerContext) -> pb.ReconcileResponse:
        result = await self.service.reconcile()
        return pb.ReconcileResponse(
            differences=[pb.Difference(kind=d.kind, subject=d.subject, on_chain=d.on_chain, recorded=d.recorded)
                         for d in result.differences],
            tokens_checked=result.tokens_checked, payees_checked=result.payees_checked,
            indexed_block=result.indexed_block, stakes_checked=result.stakes_checked)

    # --- staking vault ------------------------------------------------------------------
    async def GetVault(self, request: pb.GetVaultRequest, context: grpc.aio.ServicerContext) -> pb.GetVaultResponse:
        return vault_pb(await self.service.get_vault(), self.service.chain_id)

    async def PrepareStake(self, request: pb.PrepareStakeRequest,
                           context: grpc.aio.ServicerContext) -> pb.PrepareStakeResponse:
        prepared = await self.service.prepare_stake(request.quote_json, request.signature, request.staker)
        return pb.PrepareStakeResponse(prepared=prepare_response_pb(prepared.call),
                                       quote_hash=_hex(prepared.quote_hash),
                                       reservation_wei=wire.wei_str(prepared.reservation),
                                       pool_free_wei=wire.wei_str(prepared.pool_free),
                                       pool_can_cover=prepared.pool_can_cover)

    async def PrepareStakeAction(self, request: pb.PrepareStakeActionRequest,
                                 context: grpc.aio.ServicerContext) -> pb.PrepareStakeActionResponse:
        action = _STAKE_ACTIONS.get(request.action)
        if action is None:
            raise InvalidArgument("action must be STAKE_ACTION_CLAIM or STAKE_ACTION_UNSTAKE", field="action")
        result = await self.service.prepare_stake_action(request.stake_id, request.staker, action)
        return pb.PrepareStakeActionResponse(prepared=prepare_response_pb(result.call),
                                             stake=vault_stake_pb(result.stake),
                                             payout_wei=wire.wei_str(result.preview.payout), early=result.preview.early,
                                             penalty_wei=wire.wei_str(result.preview.penalty))

    async def GetVaultStake(self, request: pb.GetVaultStakeRequest,
                            context: grpc.aio.ServicerContext) -> pb.GetVaultStakeResponse:
        return pb.GetVaultStakeResponse(stake=vault_stake_pb(await self.service.get_vault_stake(request.stake_id)))

    async def FundVault(self, request: pb.FundVaultRequest, context: grpc.aio.ServicerContext) -> pb.FundVaultResponse:
        view, state = await self.service.fund_vault(request.amount_wei, request.idempotency_key)
        return pb.FundVaultResponse(transaction=transaction_pb(view), vault=vault_pb(state, self.service.chain_id))

    async def PrepareFundVault(self, request: pb.PrepareFundVaultRequest,
                               context: grpc.aio.ServicerContext) -> pb.PrepareFundVaultResponse:
        call = await self.service.prepare_fund_vault(request.funder, request.amount_wei)
        return pb.PrepareFundVaultResponse(prepared=prepare_response_pb(call))


def _ts(unix: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(min(unix, 253_402_300_799), dt.UTC)


def vault_pb(state: VaultState, chain_id: int) -> pb.GetVaultResponse:
    return pb.GetVaultResponse(
        address=state.address, chain_id=chain_id, domain_name=DOMAIN_NAME, domain_version=DOMAIN_VERSION,
        quote_signer=state.quote_signer, early_exit_penalty_bps=state.penalty_bps,
        pool_free_wei=wire.wei_str(state.pool_free), pool_reserved_wei=wire.wei_str(state.pool_reserved),
        total_principal_wei=wire.wei_str(state.total_principal), balance_wei=wire.wei_str(state.balance),
        block_number=state.block_number)


def vault_stake_pb(stake: StakeOnChain) -> pb.VaultStake:
    msg = pb.VaultStake(
        # A stake opened directly on the contract may carry numbers wider than the wire's fields.
        stake_id=stake.stake_id, staker=stake.staker, token_id=min(stake.token_id, vault.MAX_TOKEN_ID),
        amount_wei=wire.wei_str(stake.amount), apr_bps=min(stake.apr_bps, vault.MAX_APR_BPS),
        reward_wei=wire.wei_str(stake.reward), claimed_wei=wire.wei_str(stake.claimed),
        closed=stake.closed, accrued_wei=wire.wei_str(stake.accrued), quote_nonce=str(stake.nonce),
        quote_hash=_hex(stake.quote_hash))
    msg.start_time.CopyFrom(wire.to_timestamp(_ts(stake.start)))
    msg.end_time.CopyFrom(wire.to_timestamp(_ts(stake.end)))
    return msg


def verify_response_pb(checked: CheckedOrder) -> pb.VerifyOrderResponse:
    order = checked.order
    msg = pb.VerifyOrderResponse(
        order_hash=_hex(checked.order_hash), state=_ORDER_STATES[checked.verdict.state], reason=checked.verdict.reason,
        method=checked.signature.method, owner=checked.owner or "", token_id=order.token_id, seller=order.seller,
        price_wei=wire.wei_str(order.price), order_json=json.dumps(order.message()))
    msg.start_time.CopyFrom(wire.to_timestamp(dt.datetime.fromtimestamp(order.start_time, dt.UTC)))
    msg.end_time.CopyFrom(wire.to_timestamp(dt.datetime.fromtimestamp(min(order.end_time, 253_402_300_799), dt.UTC)))
    return msg


__all__ = ["ChainServicer", "prepared_of", "prepared_pb", "transaction_pb"]
