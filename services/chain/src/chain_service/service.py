"""ChainService: the chain service's use cases. Each one validates through the domain rules,
loads what it needs (repository, ledger), decides via `domain`, acts through the
transaction manager and saves the outcome. The servicer calls these; nothing here knows
about protobuf.

Concurrency: use cases are `async`; repository methods are sync and run on the DB pool via
`run_db`; web3 calls run on the network's executor (one thread for the embedded EVM).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from ipheron_libs.db import run_db
from ipheron_libs.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from web3.contract import Contract
from web3.types import TxParams

from chain_service import domain, journal, orders, vault
from chain_service.config import ChainSettings
from chain_service.domain import (
    Balance,
    CheckedOrder,
    MintResult,
    NetworkStatus,
    PreparedCall,
    PriorAction,
    RoyaltyQuote,
    SignatureCheck,
    Submitted,
    TokenInfo,
    Transaction,
    TxPage,
    TxView,
    WithdrawalResult,
)
from chain_service.index_repository import IndexRepository
from chain_service.index_rules import StoredEvent
from chain_service.ledger import Ledger, receipt_of
from chain_service.network import Network
from chain_service.repository import ChainRepository
from chain_service.txmanager import ContractRevert, Outcome, TransactionManager, TxRequest, node_error
from chain_service.vault import ActionPreview, StakeOnChain, Vault, VaultState

log = logging.getLogger("ipheron.chain")


class KeyedLocks:
    """One holder per key at a time (same asset mint, same token, same idempotency key)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            # Forget the lock once nobody holds or awaits it, so the table stays small.
            users[0] -= 1
            if users[0] == 0:
                del self._locks[key]


@dataclass(frozen=True)
class _Connected:
    """What exists once the chain is reached and the contracts are in place."""

    network: Network
    chain_id: int
    tm: TransactionManager
    ledger: Ledger
    vault: Vault


@dataclass(frozen=True)
class PreparedStake:
    """PrepareStake's answer: the call, the quote's digest, the reservation and the pool's figure."""

    call: PreparedCall
    quote_hash: bytes
    reservation: int
    pool_free: int

    @property
    def pool_can_cover(self) -> bool:
        return self.pool_free >= self.reservation


@dataclass(frozen=True)
class PreparedStakeAction:
    call: PreparedCall
    stake: StakeOnChain
    preview: ActionPreview


def _clear(exc: DomainError) -> DomainError:
    """A contract revert during estimation → the typed error its custom error means."""
    if isinstance(exc, ContractRevert) and exc.revert is not None:
        return domain.revert_to_error(exc.revert)
    return exc


class ChainService:
    """Every chain operation of the platform. Build it, then `await start()` (or use `open`)."""

    def __init__(self, settings: ChainSettings, repo: ChainRepository) -> None:
        self.settings = settings
        self.repo = repo
        self.account: LocalAccount = Account.from_key(settings.effective_signer_key)
        self._conn: _Connected | None = None
        self._locks = KeyedLocks()
        self.index_repo = IndexRepository(repo.engine)
        # Where the periodic (windowed) reconciliation continues: [token, payee, stake position].
        self._reconcile_cursor = [0, 0, 0]
        # The last reconciliation's number of differences (None: none ran yet); health "reconcile".
        self.last_differences: int | None = None

    # --- start and stop -------------------------------------------------------------
    @classmethod
    async def open(cls, settings: ChainSettings, repo: ChainRepository) -> ChainService:
        service = cls(settings, repo)
        await service.start()
        return service

    async def start(self) -> None:
        """Connect (embedded: rebuild from the journal), settle what a crash left pending,
        then deploy or locate the contracts."""
        settings, repo = self.settings, self.repo
        if settings.embedded:
            genesis = await journal.genesis_timestamp(repo)
            journal_ = journal.RepoJournal(repo) if settings.journal else None
            network = Network.embedded_chain(genesis, journal_, funded=[self.account.address],
                                             block_interval_ms=settings.block_interval_ms)
            if journal_ is not None:
                await journal.replay(network, repo)
            network.start_miner()
        else:
            assert settings.web3_provider_uri
            network = Network.json_rpc(settings.web3_provider_uri)
        try:
            chain_id = int(await network.run(lambda: network.w3.eth.chain_id))
            tm = TransactionManager(network, repo, self.account, settings, chain_id)
            await tm.resync_nonce()
            await tm.reconcile_pending()
            # Deploy or locate, then check the node runs the code (refuses to start otherwise).
            ledger = await Ledger.deploy_or_locate(network, repo, tm, settings, chain_id)
            vault_ = await Vault.deploy_or_locate(network, repo, tm, settings, chain_id, ledger.timelock.address)
        except BaseException:
            network.close()
            raise
        self._conn = _Connected(network, chain_id, tm, ledger, vault_)

    @property
    def started(self) -> bool:
        return self._conn is not None

    @property
    def _c(self) -> _Connected:
        if self._conn is None:
            raise Unavailable("the chain is not connected yet")
        return self._conn

    @property
    def network(self) -> Network:
        return self._c.network

    @property
    def chain_id(self) -> int:
        return self._c.chain_id

    @property
    def tm(self) -> TransactionManager:
        return self._c.tm

    @property
    def ledger(self) -> Ledger:
        return self._c.ledger

    @property
    def vault(self) -> Vault:
        return self._c.vault

    @property
    def token(self) -> Contract:
        return self._c.ledger.token

    @property
    def market(self) -> Contract:
        return self._c.ledger.market

    async def snapshot(self, min_new_entries: int = 1) -> bool:
        """Snapshot the embedded chain when enough journal entries arrived (see `journal.snapshot`)."""
        if self._conn is None:
            return False
        return await journal.snapshot(self._conn.network, self.repo, min_new_entries)

    async def periodic_snapshot(self) -> None:
        await self.snapshot(self.settings.snapshot_every)

    async def chain_ready(self) -> bool:
        """Health entry "evm": the chain node answers (embedded: the in-process EVM)."""
        if self._conn is None:
            return False
        await self._conn.ledger.block_number()
        return True

    async def aclose(self, *, snapshot: bool = True) -> None:
        """Stop: snapshot the embedded chain first (a clean restart then replays nothing)."""
        if snapshot:
            try:
                await self.snapshot()
            except Exception:  # noqa: BLE001 - the journal alone still rebuilds the chain
                log.warning("chain snapshot at shutdown failed", exc_info=True)
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.network.close()

    # --- reads ----------------------------------------------------------------------
    async def token_info(self, *, token_id: int | None = None, asset_id: str | None = None) -> TokenInfo:
        ledger = self.ledger
        if asset_id:
            token_id = await ledger.token_of_asset(domain.parse_asset_id(asset_id))
        if not token_id:
            raise InvalidArgument("token_id or asset_id is required", field="token_id")
        owner = await ledger.owner_of(token_id)
        asset = await ledger.asset_of(token_id)
        uri = await ledger.token_uri(token_id)
        creators = await ledger.co_creators(token_id)
        _, royalty_bps = await ledger.royalty_info(token_id, domain.TOTAL_SHARES_BPS)
        return TokenInfo(
            token_id=token_id, asset_id=str(asset), owner=owner, uri=uri, co_creators=creators,
            royalty_bps=royalty_bps, listing=None, contract_address=ledger.token.address,
        )

    async def royalty_info(self, token_id: int, sale_price: str) -> RoyaltyQuote:
        price = domain.parse_amount_wei(sale_price, "sale_price_wei", positive=False)
        receiver, royalty = await self.ledger.royalty_info(token_id, price)
        shares = await self.ledger.co_creators(token_id)
        return domain.royalty_quote(price, receiver, royalty, shares)

    async def balance(self, address: str) -> Balance:
        addr = domain.parse_address(address, "address")
        pending = await self.ledger.pending_withdrawal(addr)
        return Balance(addr, pending, await self.ledger.native_balance(addr))

    async def network_status(self) -> NetworkStatus:
        """The chain as the platform sees it; `healthy=False` instead of an error when the node is down."""
        c = self._c
        try:
            number, gas_price, base_fee, balance = await c.ledger.chain_reading(c.tm.address)
        except Exception:  # noqa: BLE001 - reported as unhealthy, not raised
            log.warning("chain node unreachable", exc_info=True)
            number, gas_price, base_fee, balance = 0, 0, 0, 0
            healthy = False
        else:
            healthy = True
        journaled = await run_db(self.repo.journal_count) if c.network.embedded else 0
        return NetworkStatus(
            chain_id=c.chain_id, latest_block=number, gas_price=gas_price, base_fee=base_fee,
            token_address=c.ledger.token.address, marketplace_address=c.ledger.market.address,
            signer_address=c.tm.address, signer_balance=balance, network=c.network.name, healthy=healthy,
            journaled=journaled,
        )

    async def verify_signature(self, address: str, message: bytes | None, digest: bytes | None,
                               signature: bytes) -> SignatureCheck:
        """ECDSA for accounts, EIP-1271 for contract wallets (the address holds code)."""
        addr = domain.parse_address(address, "address")
        hash32 = domain.signed_hash(message, digest)
        if not signature:
            raise InvalidArgument("signature is required", field="signature")
        if await self.ledger.has_code(addr):
            return SignatureCheck(await self.ledger.eip1271_valid(addr, hash32, signature), "eip1271", "")
        return domain.ecdsa_check(addr, hash32, signature)

    async def get_transaction(self, tx_hash: str) -> TxView:
        h = domain.parse_tx_hash(tx_hash)
        record = await run_db(self.repo.get_tx, h)
        if record is None:
            raise NotFound(f"transaction {h} is not a platform transaction")
        if record.status == domain.PENDING and await self.tm.settle(record):
            record = await run_db(self.repo.get_tx, h) or record
        return await self._view_of(record)

    async def list_transactions(self, *, asset_id: str, token_id: int, address: str, page: int,
                                per_page: int) -> TxPage:
        """On-chain history (provenance) by asset, token or address, oldest first."""
        window = domain.page_window(page, per_page)
        items, total = await run_db(
            self.repo.list_txs,
            asset_id=domain.parse_asset_id(asset_id) if asset_id else None,
            token_id=token_id or None,
            address=domain.parse_address(address, "address") if address else None,
            offset=window.offset, limit=window.per_page,
        )
        return TxPage([TxView(record=r) for r in items], total, window.page, window.per_page)

    async def _view_of(self, record: Transaction, receipt: dict[str, Any] | None = None) -> TxView:
        if receipt is None and record.block_number is not None:
            receipt = await self.ledger.receipt(record.tx_hash)
        if receipt is None:
            return TxView(record=record)
        latest = await self.ledger.block_number()
        events = tuple(sorted(self.ledger.decode_events(receipt) + self.vault.decode_events(receipt),
                              key=lambda e: e.log_index))
        return TxView(record=record, events=events, receipt=receipt_of(receipt),
                      confirmations=domain.confirmations(latest, int(receipt["blockNumber"])))

    # --- writes ---------------------------------------------------------------------
    async def _send(self, req: TxRequest, gas: int | None = None) -> tuple[Outcome, TxView]:
        try:
            outcome = await self.tm.send(req, gas)
        except DomainError as exc:
            raise _clear(exc) from exc
        record = await run_db(self.repo.get_tx, outcome.tx_hash)
        assert record is not None
        return outcome, await self._view_of(record, outcome.receipt)

    @staticmethod
    def _raise_if_failed(view: TxView, outcome: Outcome | None = None) -> None:
        error = domain.failure_error(view.record, outcome.revert if outcome is not None else None)
        if error is not None:
            raise error

    async def mint(self, asset_id: str, owner: str, uri: str, co_creators: Sequence[tuple[str, int]],
                   royalty_bps: int) -> MintResult:
        """Mint an asset's token once: a second mint of the same asset returns the first."""
        order = domain.validate_mint(asset_id, owner, uri, co_creators, royalty_bps)
        async with self._locks.hold(f"mint:{order.asset_id}"):
            existing = await self._existing_mint(order.asset_id)
            if existing is not None:
                return existing
            ledger = self.ledger
            req = TxRequest(type="mint", to=ledger.token.address, data=ledger.mint_data(order),
                            asset_id=order.asset_id, counterparty=order.owner, details=order.details)
            outcome, view = await self._send(req)
            if not outcome.succeeded:
                existing = await self._existing_mint(order.asset_id)
                if existing is not None:
                    return existing
                raise FailedPrecondition(f"mint transaction {outcome.tx_hash} reverted")
            token_id = next(e for e in view.events if e.name == "AssetMinted").int_arg("tokenId")
            await run_db(self.repo.set_token_id, outcome.tx_hash, token_id)
            view = replace(view, record=replace(view.record, token_id=token_id))
            return MintResult(token_id, ledger.token.address, view, already_minted=False)

    async def _existing_mint(self, asset: uuid.UUID) -> MintResult | None:
        token_id = await self.ledger.minted_token(asset)
        if token_id is None:
            return None
        record = await run_db(self.repo.find_asset_tx, asset, "mint")
        if record is None:
            # Our own mint may be mined but still recorded as pending (an earlier wait timed out).
            await self.tm.reconcile_pending()
            record = await run_db(self.repo.find_asset_tx, asset, "mint")
        if record is None:
            raise domain.foreign_mint_error(asset, token_id)
        return MintResult(token_id, self.ledger.token.address, await self._view_of(record), already_minted=True)

    async def _token_write(self, req: TxRequest) -> TxView:
        """One write per token at a time, answered with its typed failure if it reverted."""
        assert req.token_id is not None
        async with self._locks.hold(f"token:{req.token_id}"):
            outcome, view = await self._send(req)
        self._raise_if_failed(view, outcome)
        return view

    async def _prior_attempt(self, key: str, request_hash: str, what: str) -> TxView | None:
        """The outcome of an earlier request with this idempotency key, or None to go ahead
        (the rule is `domain.prior_attempt_action`)."""
        prior = await run_db(self.repo.get_by_idempotency_key, key)
        action = domain.prior_attempt_action(prior, request_hash, what)
        if action is PriorAction.PROCEED:
            return None
        assert prior is not None
        if action is PriorAction.RELEASE:
            await run_db(self.repo.release_idempotency_key, prior.tx_hash)
            return None
        record = prior
        if action is PriorAction.AWAIT:
            outcome = await self.tm.wait_recorded(prior)
            settled = await run_db(self.repo.get_tx, outcome.tx_hash)
            record = settled or prior
        view = await self._view_of(record)
        self._raise_if_failed(view)
        return view

    def _relay_decision(self, last: dict[str, dt.datetime | None], now: dt.datetime) -> None:
        """Refuse (ResourceExhausted naming the seconds left) a payee inside its cooldown."""
        for payee, when in last.items():
            left = domain.withdraw_cooldown_left(when, now, self.settings.withdraw_cooldown_s)
            if left:
                raise domain.cooldown_error(payee, left)

    async def withdraw(self, payees: Sequence[str], idempotency_key: str = "") -> tuple[TxView, list[WithdrawalResult]]:
        """The platform pays the gas of `withdrawFor(payees)`: each payee receives exactly its
        own pending balance. At most once per payee per CHAIN_WITHDRAW_COOLDOWN_S (stored, so it
        survives restarts); with a key, a retry returns the same withdrawal."""
        addrs = domain.validate_payees(payees)
        key = domain.parse_idempotency_key(idempotency_key, required=False)
        request_hash = domain.withdraw_request_hash(addrs)
        async with self._locks.hold(f"withdraw:{key}" if key else "withdraw"):
            prior = await self._prior_attempt(key, request_hash, "withdrawal") if key else None
            if prior is not None:
                return prior, domain.withdrawal_results(prior.events)
            ledger = self.ledger
            amount = domain.withdrawal_amount([await ledger.pending_withdrawal(a) for a in addrs])
            stamped = await run_db(self.repo.claim_withdraw_relay, addrs, self._relay_decision)
            try:
                outcome, view = await self._send(TxRequest(
                    type="withdraw", to=ledger.market.address, data=ledger.withdraw_data(addrs), amount_wei=amount,
                    counterparty=addrs[0] if len(addrs) == 1 else None, details={"payees": addrs},
                    idempotency_key=key or None, request_hash=request_hash))
            except DomainError:
                # Nothing reached the chain: the payees keep their relay.
                await run_db(self.repo.release_withdraw_relay, addrs, stamped)
                raise
        self._raise_if_failed(view, outcome)
        results = domain.withdrawal_results(view.events)
        withdrawn = domain.withdrawn_total(results)
        if withdrawn != view.record.amount_wei:
            await run_db(self.repo.set_amount, view.record.tx_hash, withdrawn)
            view = replace(view, record=replace(view.record, amount_wei=withdrawn))
        return view, results

    # --- user-signed transactions -----------------------------------------------------
    async def prepare_transaction(self, from_address: str, to_address: str, data: str,
                                  value_wei: str) -> PreparedCall:
        """The JSON-RPC fields of a call `from` signs and pays itself, and whether it can pay."""
        sender = domain.parse_address(from_address, "from_address")
        to = domain.parse_address(to_address, "to_address")
        call_data = domain.parse_call_data(data)
        value = domain.parse_amount_wei(value_wei or "0", "value_wei", positive=False)
        return await self._prepare(sender, to, call_data, value)

    async def _prepare(self, sender: str, to: str, call_data: str, value: int,
                       fixed_gas: int | None = None) -> PreparedCall:
        """Gas (estimated, or a fixed bound checked by one eth_call), fees, nonce and balance of
        a call `sender` signs, read in one executor hop."""
        network = self.network
        margin = self.settings.gas_margin_percent
        tx_fields: dict[str, Any] = {"from": sender, "to": to, "data": call_data, "value": value}

        def read() -> tuple[int, bool, int, int, int, int]:
            without_funds = False
            if fixed_gas is not None:
                # The caller checked the call's preconditions itself (VerifyOrder does what
                # fulfill checks); no execution here, so no estimate either.
                gas = fixed_gas
            else:
                try:
                    gas = domain.gas_with_margin(int(network.w3.eth.estimate_gas(cast(TxParams, tx_fields))), margin)
                except Exception as exc:
                    if domain.node_error_kind(str(exc)) is not domain.NodeErrorKind.FUNDS:
                        raise _clear(node_error(exc, sender)) from exc
                    # The node will not run the call for a sender who cannot pay: size the shortfall instead.
                    gas, without_funds = domain.UNFUNDED_GAS_ESTIMATE, True
            nonce, balance, base, tip = network.account_and_fees(sender)  # one batch on a JSON-RPC node
            # The embedded chain (no market) and a node without a suggestion: the configured priority fee.
            return gas, without_funds, base, nonce, balance, self.settings.priority_fee_wei if tip is None else tip

        gas, without_funds, base, nonce, balance, tip = await network.run(read)
        max_fee, priority = domain.fees_for(base, tip)
        tx = domain.Prepared(domain.parse_address(sender, "from_address"), domain.parse_address(to, "to_address"),
                             call_data, value, self.chain_id, gas, max_fee, priority, nonce)
        return PreparedCall(tx, domain.affordability(balance, value, gas, max_fee), without_funds)

    async def submit_raw_transaction(self, raw_transaction: str, expected: domain.Prepared, type_: str = "",
                                     asset_id: str = "", token_id: int = 0, *,
                                     match_call_only: bool = False) -> Submitted:
        """Broadcast a user-signed transaction that is exactly the prepared call (see
        `domain.check_submission`; with `match_call_only` only from, to, data, value and chain
        are checked), recorded as sent by the user; the same raw transaction again answers the
        same record."""
        raw = domain.decode_raw_transaction(raw_transaction)
        if expected.chain_id != self.chain_id:
            raise InvalidArgument(f"expected.chain_id {expected.chain_id} is not this chain ({self.chain_id})",
                                  field="expected.chain_id")
        domain.check_submission(raw, expected, call_only=match_call_only)
        record = domain.user_tx_record(raw, domain.user_tx_type(type_),
                                       domain.parse_asset_id(asset_id) if asset_id else None, token_id or None)
        network = self.network
        async with self._locks.hold(f"raw:{raw.tx_hash}"):
            stored = await run_db(self.repo.insert_tx_unless_known, record)
            if stored is None:
                existing = await run_db(self.repo.get_tx, raw.tx_hash)
                assert existing is not None  # records are never deleted
                return Submitted(await self._view_of(existing), already_submitted=True)
            try:
                await network.run(network.send_raw_transaction, raw_transaction)
            except Exception as exc:
                if "already known" not in str(exc).lower():
                    await run_db(self.repo.mark_failed, raw.tx_hash, f"rejected: {str(exc)[:400]}")
                    if match_call_only and domain.node_error_kind(str(exc)) is domain.NodeErrorKind.NONCE:
                        # The wallet chose this nonce: a used or skipped one is the caller's to fix.
                        raise FailedPrecondition(f"the node refused the transaction's nonce {raw.nonce} for "
                                                 f"{raw.sender}: {str(exc)[:200]}") from exc
                    raise _clear(node_error(exc, raw.sender)) from exc
        log.info("user transaction %s from %s (%s) broadcast", raw.tx_hash, raw.sender, record.type)
        return Submitted(TxView(record=stored), already_submitted=False)

    # --- signed orders (MarketplaceV2) -------------------------------------------------
    def _order_hash(self, order: orders.Order) -> bytes:
        return orders.order_hash_with(order, self.ledger.domain_separator_of(self.chain_id))

    def _parse_order(self, order_json: str) -> orders.Order:
        return domain.parse_order(order_json, self.token.address, orders.NATIVE_CURRENCY)

    async def build_order(self, token_id: int, seller: str, price_wei: str, duration_s: int) -> tuple[dict[str, Any],
                                                                                                  bytes]:
        """The EIP-712 document the token's owner signs to list it, and its order hash."""
        seller_addr = domain.parse_address(seller, "seller")
        price = domain.parse_amount_wei(price_wei, "price_wei")
        if not token_id:
            raise InvalidArgument("token_id is required", field="token_id")
        ledger = self.ledger
        owner = await ledger.owner_of(token_id)
        if owner != seller_addr:
            raise FailedPrecondition(f"{seller_addr} does not own token {token_id} (owner {owner})")
        counter = await ledger.counter_of(seller_addr)
        start, end = domain.order_window(max(await ledger.head_timestamp(), int(time.time())), duration_s)
        order = orders.Order(token=ledger.token.address, token_id=token_id, seller=seller_addr, price=price,
                             counter=counter, salt=secrets.randbits(256), start_time=start, end_time=end)
        return orders.typed_data(order, self.chain_id, ledger.market.address), self._order_hash(order)

    async def verify_order(self, order_json: str, signature: str) -> CheckedOrder:
        """A signed order against the chain: signature (ECDSA or EIP-1271), window, counter,
        filled/cancelled, owner, approval (`domain.order_verdict`)."""
        order = self._parse_order(order_json)
        sig = domain.parse_signature(signature)
        order_hash = self._order_hash(order)
        check = await self.verify_signature(order.seller, None, order_hash, sig)
        on_chain = await self.ledger.order_on_chain(order, order_hash)
        verdict = domain.order_verdict(order, check.valid, on_chain)
        return CheckedOrder(order, order_hash, check, verdict, on_chain.owner)

    async def prepare_fulfill(self, order_json: str, signature: str, buyer: str,
                              recipient: str = "") -> tuple[PreparedCall, bytes]:
        """`fulfill(order, signature)` (or `fulfillFor` to a recipient) for the buyer's own
        wallet to sign and pay (value = price); refused when the order is not fillable."""
        buyer_addr = domain.parse_address(buyer, "buyer")
        recipient_addr = domain.parse_address(recipient, "recipient") if recipient else None
        checked = await self.verify_order(order_json, signature)
        domain.fulfill_decision(checked, buyer_addr, recipient_addr)
        sig = domain.parse_signature(signature)
        data = self.ledger.fulfill_data(checked.order, sig, recipient_addr)
        call = await self._prepare(buyer_addr, self.market.address, data, checked.order.price,
                                   fixed_gas=self._fulfill_gas())
        return call, checked.order_hash

    def _fulfill_gas(self) -> int | None:
        """The embedded chain answers fulfill with a fixed, tested gas bound instead of
        eth-tester's binary-search estimate (see domain.FULFILL_GAS_BOUND); other nodes estimate."""
        return domain.FULFILL_GAS_BOUND if self.network.embedded and self.settings.fixed_fulfill_gas else None

    async def prepare_cancel(self, order_jsons: Sequence[str], seller: str) -> tuple[PreparedCall, list[bytes]]:
        """The seller's own `cancel(orders)`; every order must be the seller's."""
        seller_addr = domain.parse_address(seller, "seller")
        if not 1 <= len(order_jsons) <= domain.MAX_CANCEL_ORDERS:
            raise InvalidArgument(f"between 1 and {domain.MAX_CANCEL_ORDERS} orders are required",
                                  field="order_json")
        cancelled = [self._parse_order(text) for text in order_jsons]
        domain.cancel_decision(cancelled, seller_addr)
        call = await self._prepare(seller_addr, self.market.address, self.ledger.cancel_data(cancelled), 0)
        return call, [self._order_hash(o) for o in cancelled]

    async def prepare_withdraw(self, payee: str) -> tuple[PreparedCall, int]:
        """The payee's own `withdraw()`; FAILED_PRECONDITION when nothing is pending."""
        payee_addr = domain.parse_address(payee, "payee")
        pending = await self.ledger.pending_withdrawal(payee_addr)
        if pending == 0:
            raise FailedPrecondition(f"{payee_addr} has nothing to withdraw")
        call = await self._prepare(payee_addr, self.market.address, self.ledger.self_withdraw_data(), 0)
        return call, pending

    async def track_transaction(self, tx_hash: str, expected: domain.Prepared, type_: str = "", asset_id: str = "",
                                token_id: int = 0) -> TxView:
        """Record a transaction the user broadcast themselves once the node shows it is the
        prepared call from the expected wallet (idempotent: the same hash answers its record)."""
        h = domain.parse_tx_hash(tx_hash)
        if expected.chain_id != self.chain_id:
            raise InvalidArgument(f"expected.chain_id {expected.chain_id} is not this chain ({self.chain_id})",
                                  field="expected.chain_id")
        type_name = domain.user_tx_type(type_)
        asset = domain.parse_asset_id(asset_id) if asset_id else None
        async with self._locks.hold(f"raw:{h}"):
            existing = await run_db(self.repo.get_tx, h)
            if existing is not None:
                if existing.from_address != expected.from_address:
                    raise PermissionDenied(f"the transaction was sent by {existing.from_address}, "
                                           f"not {expected.from_address}")
                return await self.get_transaction(h)
            found = await self.ledger.user_transaction(h)
            if found is None:
                raise NotFound(f"the chain node does not know transaction {h}")
            domain.check_tracked(found, expected)
            await run_db(self.repo.insert_tx, domain.user_tx_record(found, type_name, asset, token_id or None))
        log.info("user transaction %s from %s (%s) tracked", h, found.sender, type_name)
        return await self.get_transaction(h)

    async def list_chain_events(self, type_: str, token_id: int, page: int,
                                per_page: int) -> tuple[list[tuple[StoredEvent, str]], int, domain.PageWindow]:
        window = domain.page_window(page, per_page)
        items, total = await run_db(self.index_repo.page_events, self.chain_id, domain_type=type_ or None,
                                    token_id=token_id or None, offset=window.offset, limit=window.per_page)
        return items, total, window

    async def reconcile(self, *, window: int = 0) -> domain.Reconciliation:
        """Compare the chain at the indexer's checkpoint (every minted token's owner, every
        payee's pending withdrawal) with what the indexer recorded up to it; name each difference.

        `window` > 0 checks at most that many tokens and payees, continuing where the previous
        windowed run stopped (the periodic health check: bounded EVM-thread time per run, the
        whole set covered over successive runs); 0 checks everything (the Reconcile RPC)."""
        checkpoint = await run_db(self.index_repo.checkpoint, self.chain_id)
        if checkpoint is None or checkpoint.hash is None:
            return domain.Reconciliation((), 0, 0, 0)
        block = checkpoint.number
        owners_rec, credits, withdrawals = await run_db(self.index_repo.recorded_state, self.chain_id, block)
        pending_rec = domain.recorded_balances(credits, withdrawals)
        minted = await self.ledger.total_minted(block)
        token_ids = sorted(set(range(1, minted + 1)) | set(owners_rec))
        payees = sorted(pending_rec)
        if window > 0:
            token_ids, self._reconcile_cursor[0] = domain.rotating_window(token_ids, self._reconcile_cursor[0], window)
            payees, self._reconcile_cursor[1] = domain.rotating_window(payees, self._reconcile_cursor[1], window)
            owners_rec = {t: owners_rec[t] for t in token_ids if t in owners_rec}
            pending_rec = {p: pending_rec[p] for p in payees}
        owners_chain = await self.ledger.owners_at(token_ids, block)
        pending_chain = await self.ledger.pending_at(payees, block)
        diffs = domain.differences(owners_chain, owners_rec, pending_chain, pending_rec)
        stake_diffs, stakes_checked = await self._reconcile_vault(block, window)
        diffs += stake_diffs
        self.last_differences = len(diffs)
        if diffs:
            log.warning("reconciliation at block %d: %d differences between the chain and the index", block,
                        len(diffs))
        return domain.Reconciliation(tuple(diffs), len(token_ids), len(payees), block, stakes_checked)

    async def _reconcile_vault(self, block: int, window: int) -> tuple[list[domain.Difference], int]:
        """Kind "vault_balance": the vault's ether vs open principal + free pool + reserved; kind
        "stake": each stake's staker, principal, rewards paid and closed flag vs the index."""
        v = self.vault
        state = await v.state(block)
        diffs = domain.vault_balance_difference(v.address, state.balance, state.total_principal, state.pool_free,
                                                state.pool_reserved)
        recorded_raw = await run_db(self.index_repo.recorded_stakes, self.chain_id, block)
        recorded = {i: domain.StakeFacts(*facts) for i, facts in recorded_raw.items()}
        stake_ids = sorted(set(range(1, state.stake_count + 1)) | set(recorded))
        if window > 0:
            stake_ids, self._reconcile_cursor[2] = domain.rotating_window(stake_ids, self._reconcile_cursor[2],
                                                                          window)
            recorded = {i: recorded[i] for i in stake_ids if i in recorded}
        found = await v.stakes_at(stake_ids, block)
        on_chain = {i: (domain.StakeFacts(s.staker, s.amount, s.claimed, s.closed) if s is not None else None)
                    for i, s in found.items()}
        return diffs + domain.stake_differences(on_chain, recorded), len(stake_ids)

    async def periodic_reconcile(self) -> None:
        if self._conn is not None:
            await self.reconcile(window=self.settings.reconcile_window)

    async def reconcile_health(self) -> bool:
        """Health entry "reconcile" (informational; readiness does not depend on it): SERVING
        while the last reconciliation found no difference (the log names how many it found)."""
        return not self.last_differences

    # --- development ------------------------------------------------------------------
    async def faucet(self, address: str, amount_wei: str) -> tuple[TxView, int]:
        """Fund a wallet from the platform signer: embedded chain, development/test only."""
        addr = domain.parse_address(address, "address")
        amount = domain.parse_amount_wei(amount_wei, "amount_wei")
        domain.faucet_decision(self.network.embedded, self.settings.env, amount)
        outcome, view = await self._send(TxRequest(type="faucet", to=addr, data="0x", value=amount,
                                                   counterparty=addr, amount_wei=amount))
        self._raise_if_failed(view, outcome)
        return view, await self.ledger.native_balance(addr)

    # --- staking vault ------------------------------------------------------------------
    async def get_vault(self) -> VaultState:
        """The vault's figures at the head."""
        return await self.vault.state()

    def _vault_gas(self, call: str) -> int | None:
        """Embedded chain: a fixed gas bound per vault call (no eth-tester estimate); others estimate."""
        return vault.VAULT_GAS[call] if self.network.embedded and self.settings.fixed_fulfill_gas else None

    async def prepare_stake(self, quote_json: str, signature: str, staker: str) -> PreparedStake:
        """`stake(quote, signature)` for the staker's own wallet (value = quote.amount), once the
        quote is checked against the chain as stake() checks it (`vault.stake_decision`), so a
        wallet never signs a stake that reverts for the quote; a pool that cannot cover the
        reservation is answered (pool_can_cover false), not refused."""
        staker_addr = domain.parse_address(staker, "staker")
        quote = vault.parse_quote(quote_json)
        sig = domain.parse_signature(signature)
        if staker_addr != quote.staker:
            raise PermissionDenied(f"the quote is for staker {quote.staker}, not {staker_addr}")
        v, chain_id = self.vault, self.chain_id
        quote_hash = v.quote_hash(quote, chain_id)
        reading = await v.quote_reading(quote)
        check = await self.verify_signature(reading.quote_signer, None, quote_hash, sig)
        reserve = vault.reservation(quote.amount, quote.apr_bps, quote.duration)
        vault.stake_decision(quote, check.valid, reading)
        can_cover = reading.pool_free >= reserve
        # A stake the pool cannot cover would revert in an estimate: offer the fixed bound then.
        gas = self._vault_gas("stake") if can_cover else vault.VAULT_GAS["stake"]
        call = await self._prepare(staker_addr, v.address, v.stake_data(quote, sig), quote.amount, fixed_gas=gas)
        return PreparedStake(call, quote_hash, reserve, reading.pool_free)

    async def prepare_stake_action(self, stake_id: int, staker: str, action: str) -> PreparedStakeAction:
        """The staker's own `claim(stakeId)` or `unstake(stakeId)`, with what it pays at the head
        block's time."""
        staker_addr = domain.parse_address(staker, "staker")
        if action not in ("claim", "unstake"):
            raise InvalidArgument("action must be claim or unstake", field="action")
        stake = await self.get_vault_stake(stake_id)
        if stake.staker != staker_addr:
            raise PermissionDenied(f"{staker_addr} is not the staker of stake {stake_id}")
        v = self.vault
        shown = vault.preview(stake, action, v.penalty_bps, stake.at)
        data = v.claim_data(stake_id) if action == "claim" else v.unstake_data(stake_id)
        call = await self._prepare(staker_addr, v.address, data, 0, fixed_gas=self._vault_gas(action))
        return PreparedStakeAction(call, stake, shown)

    async def get_vault_stake(self, stake_id: int) -> StakeOnChain:
        if stake_id <= 0:
            raise InvalidArgument("stake_id is required (1, 2, ...)", field="stake_id")
        stake = await self.vault.stake(stake_id)
        if stake is None:
            raise NotFound(f"stake {stake_id} does not exist")
        return stake

    async def fund_vault(self, amount_wei: str, idempotency_key: str) -> tuple[TxView, VaultState]:
        """The platform signer adds to the reward pool from its own balance (not in production);
        a retry with the same key answers the same transaction."""
        amount = domain.parse_amount_wei(amount_wei, "amount_wei")
        key = vault.parse_fund_key(idempotency_key)
        vault.fund_decision(self.settings.env)
        v = self.vault
        request_hash = vault.fund_request_hash(amount)
        async with self._locks.hold(key):
            prior = await self._prior_attempt(key, request_hash, "vault funding")
            if prior is not None:
                return prior, await v.state()
            outcome, view = await self._send(TxRequest(
                type="vault_fund", to=v.address, data=v.fund_data(), value=amount, counterparty=v.address,
                amount_wei=amount, idempotency_key=key, request_hash=request_hash,
                details={"call": "vault.fund()"}), gas=self._vault_gas("fund"))
        self._raise_if_failed(view, outcome)
        return view, await v.state()

    async def prepare_fund_vault(self, funder: str, amount_wei: str) -> PreparedCall:
        """`fund()` for any wallet's own ether."""
        funder_addr = domain.parse_address(funder, "funder")
        amount = domain.parse_amount_wei(amount_wei, "amount_wei")
        v = self.vault
        return await self._prepare(funder_addr, v.address, v.fund_data(), amount, fixed_gas=self._vault_gas("fund"))
