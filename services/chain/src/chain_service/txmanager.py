"""The single signer's transaction manager.

- Nonces: one local counter behind an asyncio lock, initialised from the chain's pending
  count and resynced from the chain when a node rejects a nonce, so concurrent submissions
  get gap-free, duplicate-free nonces.
- Fees: EIP-1559 (max fee = 2 x base fee + priority fee); gas = estimate + a margin.
  Estimation runs before a nonce is taken, so a call that would revert fails with the
  contract's error and consumes nothing.
- Receipts: awaited with a configurable number of confirmations; a transaction still
  without a receipt after `stuck_after_s` is replaced (same nonce, fees bumped).
- Records: every transaction is written to chain.transactions before it is sent and
  updated with its outcome (status, gas used, gas price, block, time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from eth.exceptions import Revert as EVMRevert
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError, FailedPrecondition, Unavailable
from ipheron_libs.metrics import BLOCKCHAIN_TRANSACTIONS

from chain_service import domain
from chain_service.config import ChainSettings
from chain_service.contracts import decode_revert, target_evm_version
from chain_service.domain import Fees, Mined, Revert, Transaction
from chain_service.network import Network
from chain_service.repository import ChainRepository

log = logging.getLogger("ipheron.chain.tx")


class ContractRevert(FailedPrecondition):
    """The contract refused the call; `revert` names its custom error."""

    def __init__(self, message: str, revert: Revert | None) -> None:
        super().__init__(message)
        self.revert = revert


def node_error(exc: BaseException, sender: str = "the sender") -> DomainError:
    """A node's refusal as a typed error (the rule is `domain.node_error_kind`): a decoded
    contract error or a bare revert is ContractRevert, an opcode the node cannot run is
    FailedPrecondition naming the EVM target, and only transport trouble is Unavailable."""
    revert = decode_revert(exc)
    text = str(exc)
    if isinstance(exc, EVMRevert):  # the embedded chain's own (a view call, `Network.call_raw`)
        text = "execution reverted" + (f": 0x{bytes(exc.args[0]).hex()}" if exc.args and exc.args[0] else "")
    if revert is not None and revert.name != "UnknownError":
        return ContractRevert(f"contract reverted: {revert}", revert)
    kind = domain.node_error_kind(text)
    if kind is domain.NodeErrorKind.EXECUTION:
        return domain.execution_error(text, target_evm_version())
    if kind is domain.NodeErrorKind.FUNDS:
        return FailedPrecondition(f"{sender} has insufficient funds for this transaction")
    if revert is not None or kind is domain.NodeErrorKind.REVERT:
        return ContractRevert(f"contract reverted: {text[:300]}", revert)
    log.warning("chain call failed: %s", text[:500])
    return Unavailable(f"chain node error: {text[:200]}")


@dataclass(frozen=True)
class TxRequest:
    """What to send and how to record it."""

    type: str
    to: str | None
    data: str
    value: int = 0
    asset_id: uuid.UUID | None = None
    token_id: int | None = None
    counterparty: str | None = None
    amount_wei: int = 0
    idempotency_key: str | None = None
    request_hash: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass
class Sent:
    """A signed transaction in flight; `hashes` holds it and any replacements, newest last."""

    request: TxRequest
    nonce: int
    gas: int
    max_fee: int
    priority_fee: int
    hashes: list[str]
    sent_at: float


@dataclass(frozen=True)
class Outcome:
    """The mined result of a transaction."""

    tx_hash: str
    receipt: dict[str, Any]
    succeeded: bool
    confirmations: int
    # Why a mined transaction failed, decoded by re-running it on the state before its block.
    revert: Revert | None = None


class TransactionManager:
    """Sends the platform signer's transactions; one instance per process and signer."""

    def __init__(self, network: Network, repo: ChainRepository, account: LocalAccount, settings: ChainSettings,
                 chain_id: int) -> None:
        self.network = network
        self.repo = repo
        self.account = account
        self.settings = settings
        self.chain_id = chain_id
        self._lock = asyncio.Lock()
        self._nonce: int | None = None
        self._block_times: dict[int, asyncio.Future[dt.datetime]] = {}

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    async def resync_nonce(self) -> int:
        """Take the next nonce from the chain (pending pool included)."""
        self._nonce = await self.network.run(self.network.w3.eth.get_transaction_count, self.address, "pending")
        return self._nonce

    # --- estimation and fees ----------------------------------------------------------
    async def estimate_gas(self, req: TxRequest) -> int:
        """Gas estimate plus the margin; a would-be revert raises ContractRevert."""
        tx: dict[str, Any] = {"from": self.address, "data": req.data, "value": req.value}
        if req.to:
            tx["to"] = req.to
        try:
            estimate = await self.network.run(self.network.w3.eth.estimate_gas, tx)
        except Exception as exc:
            raise self._classify(exc) from exc
        return domain.gas_with_margin(int(estimate), self.settings.gas_margin_percent)

    def _classify(self, exc: BaseException) -> DomainError:
        return node_error(exc, "the platform signer")

    async def fees(self) -> Fees:
        """The EIP-1559 fees a transaction sent now should offer."""
        return await self._fees()

    async def _fees(self) -> Fees:
        """The fees for the next block (domain.fees_for over the node's base fee)."""
        def read() -> Fees:
            base = self.network.head_base_fee()  # the embedded chain: its head, without web3's block formatting
            if self.network.embedded:
                prio = self.settings.priority_fee_wei
            else:
                try:
                    prio = int(self.network.w3.eth.max_priority_fee)
                except Exception:  # noqa: BLE001 - not every node implements it
                    prio = self.settings.priority_fee_wei
            return domain.fees_for(base, prio)

        return await self.network.run(read)

    # --- submission -------------------------------------------------------------------
    async def submit(self, req: TxRequest, gas: int | None = None) -> Sent:
        """Estimate, take a nonce, sign, record and send. Returns once the node accepted it."""
        if gas is None:
            gas = await self.estimate_gas(req)
        async with self._lock:
            if self._nonce is None:
                await self.resync_nonce()
            for attempt in range(3):
                max_fee, prio = await self._fees()
                nonce = self._nonce
                assert nonce is not None
                tx_hash, raw = self._sign(req, nonce, gas, max_fee, prio)
                await run_db(self.repo.insert_tx, self._record(req, tx_hash, nonce, gas, max_fee, prio))
                try:
                    await self.network.run(self.network.w3.eth.send_raw_transaction, raw)
                except Exception as exc:
                    await run_db(self.repo.mark_failed, tx_hash, f"rejected: {str(exc)[:400]}")
                    BLOCKCHAIN_TRANSACTIONS.labels(type=req.type, status="rejected").inc()
                    if domain.is_nonce_error(str(exc)) and attempt < 2:
                        log.warning("nonce %d rejected (%s); resyncing from chain", nonce, exc)
                        await self.resync_nonce()
                        continue
                    raise self._classify(exc) from exc
                self._nonce = nonce + 1
                log.debug("sent %s %s nonce %d gas %d", req.type, tx_hash, nonce, gas)
                return Sent(req, nonce, gas, max_fee, prio, [tx_hash], time.monotonic())
        raise Unavailable("could not obtain a valid nonce from the chain")

    def _sign(self, req: TxRequest, nonce: int, gas: int, max_fee: int, prio: int) -> tuple[str, bytes]:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": prio,
            "value": req.value,
            "data": req.data,
        }
        if req.to:
            tx["to"] = req.to
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    def _record(self, req: TxRequest, tx_hash: str, nonce: int, gas: int, max_fee: int, prio: int) -> Transaction:
        return Transaction(
            tx_hash=tx_hash, chain_id=self.chain_id, from_address=self.address, to_address=req.to, nonce=nonce,
            type=req.type, gas_limit=gas, max_fee_per_gas=max_fee, max_priority_fee_per_gas=prio,
            asset_id=req.asset_id, token_id=req.token_id, counterparty=req.counterparty, amount_wei=req.amount_wei,
            idempotency_key=req.idempotency_key, request_hash=req.request_hash, details=dict(req.details),
        )

    async def replace(self, sent: Sent) -> str | None:
        """Re-send a stuck transaction with the same nonce and bumped fees.

        Returns the new hash, or None when the node refused it because the original was
        mined meanwhile (nonce too low / already known).
        """
        async with self._lock:
            max_fee, prio = domain.bumped_fees(Fees(sent.max_fee, sent.priority_fee), await self._fees(),
                                               self.settings.fee_bump_percent)
            old = sent.hashes[-1]
            tx_hash, raw = self._sign(sent.request, sent.nonce, sent.gas, max_fee, prio)
            # The idempotency key stays with the first record; the replacement points to it.
            record = replace(self._record(sent.request, tx_hash, sent.nonce, sent.gas, max_fee, prio),
                             idempotency_key=None, details={**sent.request.details, "replaces": old})
            await run_db(self.repo.insert_tx, record)
            try:
                await self.network.run(self.network.w3.eth.send_raw_transaction, raw)
            except Exception as exc:  # noqa: BLE001
                await run_db(self.repo.mark_failed, tx_hash, f"rejected: {str(exc)[:400]}")
                log.info("replacement of %s not accepted: %s", old, exc)
                return None
            await run_db(self.repo.mark_replaced, old, tx_hash)
            BLOCKCHAIN_TRANSACTIONS.labels(type=sent.request.type, status="replaced").inc()
            sent.hashes.append(tx_hash)
            sent.max_fee, sent.priority_fee, sent.sent_at = max_fee, prio, time.monotonic()
            log.warning("replaced stuck transaction %s by %s (nonce %d)", old, tx_hash, sent.nonce)
            return tx_hash

    # --- receipts ---------------------------------------------------------------------
    def _find_receipt(self, hashes: list[str]) -> tuple[str, dict[str, Any]] | None:
        eth = self.network.w3.eth
        for h in reversed(hashes):
            try:
                receipt = eth.get_transaction_receipt(HexBytes(h))
            except Exception:  # noqa: BLE001, S112 - TransactionNotFound and friends: not mined yet
                continue
            if receipt is not None and receipt.get("blockNumber") is not None:
                return h, dict(receipt)
        return None

    def _find_receipt_and_head(self, hashes: list[str]) -> tuple[str, dict[str, Any], int] | None:
        """The receipt (as `_find_receipt`) and the latest block number, in one chain call."""
        found = self._find_receipt(hashes)
        if found is None:
            return None
        return found[0], found[1], int(self.network.w3.eth.block_number)

    async def _block_time(self, number: int) -> dt.datetime:
        """A block's time, read once per block (a block holds many of our transactions)."""
        task = self._block_times.get(number)
        if task is None:
            async def read() -> dt.datetime:
                block = await self.network.run(self.network.w3.eth.get_block, number)
                return dt.datetime.fromtimestamp(int(block["timestamp"]), tz=dt.UTC)

            if len(self._block_times) > 256:
                self._block_times.clear()
            task = self._block_times[number] = asyncio.ensure_future(read())
        try:
            return await asyncio.shield(task)
        except Exception:
            self._block_times.pop(number, None)
            raise

    async def wait(self, sent: Sent, confirmations: int | None = None) -> Outcome:
        """Await the receipt (replacing the transaction if it is stuck) and record the outcome."""
        wanted = confirmations or self.settings.confirmations
        if self.network.embedded:
            wanted = 1  # the in-process chain has no reorgs: one block is final
        deadline = time.monotonic() + self.settings.receipt_timeout_s
        replacements = 0
        while True:
            if self.network.in_open_block(sent.hashes[-1]):
                await asyncio.sleep(self.settings.poll_interval_s)
                continue
            found = await self.network.run(self._find_receipt_and_head, sent.hashes)
            if found is not None:
                tx_hash, receipt, latest = found
                confs = domain.confirmations(int(latest), int(receipt["blockNumber"]))
                if confs >= wanted:
                    return await self._finish(sent, tx_hash, receipt, confs)
            elif (time.monotonic() - sent.sent_at > self.settings.stuck_after_s
                  and replacements < self.settings.max_replacements):
                replacements += 1
                await self.replace(sent)
                continue
            if time.monotonic() > deadline:
                raise Unavailable(f"no receipt for {sent.hashes[-1]} after {self.settings.receipt_timeout_s:.0f}s")
            await asyncio.sleep(self.settings.poll_interval_s)

    async def _finish(self, sent: Sent, tx_hash: str, receipt: dict[str, Any], confs: int) -> Outcome:
        block_time = await self._block_time(int(receipt["blockNumber"]))
        succeeded = int(receipt["status"]) == 1
        user = bool(sent.request.details.get("sent_by") == "user")
        revert = None
        if not succeeded:
            if user or sent.request.data in ("", "0x"):
                revert = await self._replayed_reason(tx_hash, int(receipt["blockNumber"]))
            else:
                revert = await self._failure_reason(sent, int(receipt["blockNumber"]))
        if succeeded:
            error = None
        elif user:
            # A user's failed transaction names the contract error alone (e.g. "OrderAlreadyFilled"):
            # callers tell "another buyer won" from other failures by it.
            error = revert.name if revert is not None else "reverted"
        else:
            error = f"reverted on chain: {revert or 'no reason given'}"
        mined = Mined(
            succeeded=succeeded,
            gas_used=int(receipt["gasUsed"]),
            gas_price_wei=int(receipt.get("effectiveGasPrice") or 0),
            block_number=int(receipt["blockNumber"]),
            block_hash="0x" + bytes(receipt["blockHash"]).hex(),
            block_time=block_time,
            error=error,
        )
        await run_db(self.repo.record_mined, tx_hash, mined)
        for other in sent.hashes:
            if other != tx_hash:
                await run_db(self.repo.mark_replaced, other, tx_hash)
        status = mined.status
        BLOCKCHAIN_TRANSACTIONS.labels(type=sent.request.type, status=status).inc()
        log.info("%s %s %s in block %d (gas %d)", sent.request.type, tx_hash, status, int(receipt["blockNumber"]),
                 int(receipt["gasUsed"]))
        return Outcome(tx_hash=tx_hash, receipt=receipt, succeeded=succeeded, confirmations=confs, revert=revert)

    async def _failure_reason(self, sent: Sent, block_number: int) -> Revert | None:
        """Re-run a reverted transaction as a call on the state before its block (best effort:
        on a node that packs several transactions per block the state may differ slightly)."""
        req = sent.request
        if req.data in ("", "0x"):
            return None  # a plain transfer (or a record resumed without its call data)
        call: dict[str, Any] = {"from": self.address, "data": req.data, "value": req.value}
        if req.to:
            call["to"] = req.to
        try:
            await self.network.run(self.network.w3.eth.call, call, max(block_number - 1, 0))
        except Exception as exc:  # noqa: BLE001 - the revert is what we are after
            return decode_revert(exc)
        return None

    async def _replayed_reason(self, tx_hash: str, block_number: int) -> Revert | None:
        """Why a mined transaction whose call data we do not hold (a user's, or one resumed
        after a restart) reverted: its call as the node has it, run on the state after its
        block (which holds whatever beat it, e.g. the sale of an order it tried to fill) and,
        failing that, before it."""
        def read() -> dict[str, Any] | None:
            try:
                return dict(self.network.w3.eth.get_transaction(HexBytes(tx_hash)))
            except Exception:  # noqa: BLE001 - unknown to the node: no reason to give
                return None

        tx = await self.network.run(read)
        if tx is None or not tx.get("to"):
            return None
        data = tx.get("input") or b""
        call: dict[str, Any] = {"from": tx["from"], "to": tx["to"], "value": int(tx["value"]),
                                "data": data if isinstance(data, str) else "0x" + bytes(data).hex()}
        for block in (block_number, max(block_number - 1, 0)):
            try:
                await self.network.run(self.network.w3.eth.call, call, block)
            except Exception as exc:  # noqa: BLE001 - the revert is what we are after
                found = decode_revert(exc)
                if found is not None:
                    return found
        return None

    async def send(self, req: TxRequest, gas: int | None = None) -> Outcome:
        """Submit and await; the common path."""
        return await self.wait(await self.submit(req, gas))

    @staticmethod
    def _resumed(rec: Transaction) -> Sent:
        """A recorded transaction (and its replacement, if any) as in flight again, without its call data."""
        hashes = [rec.tx_hash] + ([rec.replaced_by] if rec.replaced_by else [])
        return Sent(TxRequest(type=rec.type, to=rec.to_address, data="0x", details=dict(rec.details)), rec.nonce,
                    rec.gas_limit,
                    rec.max_fee_per_gas, rec.max_priority_fee_per_gas, hashes, time.monotonic())

    async def wait_recorded(self, rec: Transaction) -> Outcome:
        """Await the outcome of a transaction recorded (pending or replaced) earlier."""
        return await self.wait(self._resumed(rec))

    async def settle(self, rec: Transaction, mined_nonce: int | None = None) -> bool:
        """Settle one record left pending (by a crash, or a user-submitted transaction):
        mined → its outcome; a nonce the chain already used by another transaction, or (on
        the embedded chain, which has no mempool) no receipt and not in the open block →
        dropped. Returns whether it was settled."""
        if self.network.in_open_block(rec.tx_hash):
            return False
        found = await self.network.run(self._find_receipt, [rec.tx_hash])
        if found is not None:
            await self._finish(self._resumed(rec), rec.tx_hash, found[1], 1)
            return True
        if mined_nonce is None and not self.network.embedded:
            mined_nonce = await self.network.run(self.network.w3.eth.get_transaction_count, rec.from_address,
                                                 "latest")
        if self.network.embedded or (mined_nonce is not None and rec.nonce < mined_nonce):
            await run_db(self.repo.mark_failed, rec.tx_hash,
                         "dropped: never mined (nonce used by another transaction or lost before sending)")
            return True
        return False

    async def reconcile_pending(self) -> int:
        """Settle records left pending by a previous process (a crash after send); see `settle`."""
        settled = 0
        mined_nonces: dict[str, int] = {}
        for rec in await run_db(self.repo.pending_txs):
            if not self.network.embedded and rec.from_address not in mined_nonces:
                mined_nonces[rec.from_address] = await self.network.run(
                    self.network.w3.eth.get_transaction_count, rec.from_address, "latest")
            settled += await self.settle(rec, mined_nonces.get(rec.from_address))
        return settled
