"""The platform's contracts on one chain: deploy-or-locate at start (IPheronTimelock,
IPAssetTokenV2, MarketplaceV2, the token wired to the marketplace through the timelock), the
view calls and call data of the token and the marketplace, receipts and their decoded events.

Every web3 call runs on the network's executor (`Network.run`), never on the event loop;
a view call that reverts becomes the typed error `domain.revert_to_error` names.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_typing import ABIEvent, ChecksumAddress
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector, keccak, to_checksum_address
from eth_utils.abi import get_abi_output_types
from hexbytes import HexBytes
from ipheron_libs.db import run_db
from ipheron_libs.errors import FailedPrecondition, NotFound
from web3.contract import Contract

from chain_service import domain, orders
from chain_service.config import ChainSettings
from chain_service.contracts import Artifact, decode_revert, load_artifact, target_evm_version
from chain_service.domain import DecodedEvent, MintOrder, Receipt, Share
from chain_service.network import Network, RpcError
from chain_service.orders import Order
from chain_service.repository import ChainRepository
from chain_service.txmanager import ContractRevert, TransactionManager, TxRequest, node_error

log = logging.getLogger("ipheron.chain.ledger")
# The timelock operation that wires the token to the marketplace has this fixed salt, so a
# restart finds the operation it scheduled instead of scheduling another.
WIRING_SALT = keccak(b"ipheron:IPAssetTokenV2.setMarketplace:initial")
# Gas for executing the wiring (measured ~70,000; unused gas is not paid).
WIRING_EXECUTE_GAS = 200_000

_EIP1271_ABI = [{"type": "function", "name": "isValidSignature", "stateMutability": "view",
                 "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
                 "outputs": [{"name": "", "type": "bytes4"}]}]


# MarketplaceV2's fulfill entry points (the Order struct's field order, as `Order.as_tuple`).
ORDER_TUPLE = "(address,uint256,address,uint256,address,uint256,uint256,uint256,uint256)"
FULFILL = f"fulfill({ORDER_TUPLE},bytes)"
FULFILL_FOR = f"fulfillFor({ORDER_TUPLE},bytes,address)"


@functools.lru_cache(maxsize=256)
def _signature_parts(signature: str) -> tuple[bytes, tuple[str, ...]]:
    """(4-byte selector, ABI input types) of a function signature such as `f((address,uint256),bytes)`
    (top-level commas only split: a tuple type stays one type)."""
    inner = signature[signature.index("(") + 1:-1]
    types: list[str] = []
    depth = start = 0
    for i, ch in enumerate(inner):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            types.append(inner[start:i])
            start = i + 1
    if inner:
        types.append(inner[start:])
    return function_signature_to_4byte_selector(signature), tuple(types)


class Ledger:
    """IPAssetTokenV2, MarketplaceV2 and their IPheronTimelock bound on one network; build it
    with `Ledger.deploy_or_locate`."""

    def __init__(self, network: Network, token: Contract, market: Contract, timelock: Contract,
                 artifacts: Sequence[Artifact]) -> None:
        self.network = network
        self.token = token
        self.market = market
        self.timelock = timelock
        self._events: dict[bytes, tuple[str, dict[str, Any]]] = {}
        for artifact in artifacts:
            for item in artifact.abi:
                if item.get("type") == "event":
                    self._events[event_abi_to_log_topic(cast(ABIEvent, item))] = (item["name"], item)
        self._domain_separator: bytes | None = None

    # --- start-up -------------------------------------------------------------------
    @classmethod
    async def deploy_or_locate(cls, network: Network, repo: ChainRepository, tm: TransactionManager,
                               settings: ChainSettings, chain_id: int) -> Ledger:
        """Use the configured addresses, else a stored deployment of the same code that still
        has code on chain, else deploy (timelock, token, marketplace); then make sure the token
        is wired to the marketplace through the timelock (`wire_marketplace`)."""
        timelock_art, token_art, market_art = (load_artifact("IPheronTimelock"), load_artifact("IPAssetTokenV2"),
                                               load_artifact("MarketplaceV2"))
        w3 = network.w3
        if settings.token_address and settings.marketplace_address:
            token_addr = domain.parse_address(settings.token_address, "CHAIN_TOKEN_ADDRESS")
            market_addr = domain.parse_address(settings.marketplace_address, "CHAIN_MARKETPLACE_ADDRESS")
            if not (await has_code(network, token_addr) and await has_code(network, market_addr)):
                raise FailedPrecondition("configured contract addresses hold no code on this chain")
            if settings.timelock_address:
                timelock_addr = domain.parse_address(settings.timelock_address, "CHAIN_TIMELOCK_ADDRESS")
            else:
                market0 = w3.eth.contract(address=market_addr, abi=market_art.abi)
                try:
                    timelock_addr = to_checksum_address(await network.run(market0.functions.governor().call))
                except Exception as exc:  # noqa: BLE001 - the node cannot run our code there
                    raise domain.code_check_error("MarketplaceV2", market_addr, "governor()", str(exc),
                                                  target_evm_version()) from exc
        else:
            delay = settings.effective_timelock_delay_s
            timelock_addr = await _locate_or_deploy(
                network, repo, tm, chain_id, timelock_art,
                domain.deployment_identity(timelock_art.code_hash, str(delay), tm.address),
                [delay, [tm.address], [tm.address], domain.ZERO_ADDRESS])
            token_addr = await _locate_or_deploy(
                network, repo, tm, chain_id, token_art,
                domain.deployment_identity(token_art.code_hash, tm.address, timelock_addr),
                [tm.address, timelock_addr])
            market_addr = await _locate_or_deploy(
                network, repo, tm, chain_id, market_art,
                domain.deployment_identity(market_art.code_hash, token_addr, timelock_addr),
                [token_addr, timelock_addr])
        token = w3.eth.contract(address=token_addr, abi=token_art.abi)
        market = w3.eth.contract(address=market_addr, abi=market_art.abi)
        timelock = w3.eth.contract(address=timelock_addr, abi=timelock_art.abi)
        ledger = cls(network, token, market, timelock, [token_art, market_art, timelock_art])
        await ledger.check_code()
        await ledger.wire_marketplace(tm, settings.timelock_wait_max_s)
        log.info("contracts on chain %d: IPAssetTokenV2 %s, MarketplaceV2 %s, IPheronTimelock %s", chain_id,
                 token_addr, market_addr, timelock_addr)
        return ledger

    async def wire_marketplace(self, tm: TransactionManager, wait_max_s: float) -> None:
        """`token.setMarketplace(market)` through the timelock: schedule (once: the operation's
        salt is fixed), wait the delay, execute; then `initialMarketplace` must be this
        marketplace (a different first wiring means the deployment must be discarded).
        A delay longer than `wait_max_s` is left scheduled: FailedPrecondition names when it
        becomes executable (an operator executes it, or a restart after that time does)."""
        token, market, timelock = self.token, self.market, self.timelock
        initial = to_checksum_address(await self._view(token.functions.initialMarketplace()))
        if initial == market.address:
            return
        if initial != domain.ZERO_ADDRESS:
            raise FailedPrecondition(f"IPAssetTokenV2 {token.address} was first wired to {initial}, not to "
                                     f"MarketplaceV2 {market.address}: discard this deployment")
        data = token.encode_abi("setMarketplace", args=[market.address])
        op_id = bytes(await self._view(timelock.functions.hashOperation(token.address, 0, data, domain.ZERO32,
                                                                       WIRING_SALT)))
        ready_at = int(await self._view(timelock.functions.getTimestamp(op_id)))
        if ready_at == 0:
            delay = int(await self._view(timelock.functions.getMinDelay()))
            schedule = timelock.encode_abi("schedule", args=[token.address, 0, data, domain.ZERO32, WIRING_SALT,
                                                             delay])
            await _admin(tm, timelock.address, schedule, "timelock.schedule(token.setMarketplace)")
            ready_at = int(await self._view(timelock.functions.getTimestamp(op_id)))
        if ready_at > 1:  # 1 = done
            now = await self.head_timestamp()
            if ready_at - now > wait_max_s:
                raise FailedPrecondition(
                    f"token.setMarketplace({market.address}) is scheduled in timelock {timelock.address} "
                    f"(operation 0x{op_id.hex()}), executable from {ready_at} (unix time): execute it then, "
                    "or restart the service after that time")
            execute = timelock.encode_abi("execute", args=[token.address, 0, data, domain.ZERO32, WIRING_SALT])
            deadline = time.monotonic() + wait_max_s + 30
            while True:
                # The next block is stamped no earlier than the clock nor than the head + 1 s
                # (py-evm, hardhat, ganache); nodes estimate on the head's time, so the call is
                # sent with a fixed gas limit once the clock has passed the ready time.
                left = ready_at - max(await self.head_timestamp() + 1, int(time.time()))
                if left <= 0:
                    outcome = await tm.send(TxRequest(type="admin", to=timelock.address, data=execute,
                                                      details={"call": "timelock.execute(token.setMarketplace)"}),
                                            gas=WIRING_EXECUTE_GAS)
                    if outcome.succeeded:
                        break
                if time.monotonic() > deadline:
                    raise FailedPrecondition(f"timelock.execute(token.setMarketplace) did not succeed by {ready_at} "
                                             f"+ {wait_max_s:.0f}s: {outcome.revert if left <= 0 else 'not ready'}")
                await asyncio.sleep(min(max(left, 0.25), 1.0))
        initial = to_checksum_address(await self._view(token.functions.initialMarketplace()))
        if initial != market.address:
            raise FailedPrecondition(f"IPAssetTokenV2 {token.address} is wired to {initial}, not to "
                                     f"MarketplaceV2 {market.address}")

    async def head_timestamp(self) -> int:
        return int(await self.network.run(lambda: self.network.w3.eth.get_block("latest")["timestamp"]))

    # --- view calls -----------------------------------------------------------------
    async def _view(self, fn: Any) -> Any:
        """Call a view function (a bound web3 contract function); contract errors become typed errors."""
        try:
            if self.network.embedded:
                return await self.network.run(self._embedded_view, fn)
            return await self.network.run(fn.call)
        except Exception as exc:
            rev = decode_revert(exc)
            if rev is not None and rev.name != "UnknownError":
                raise domain.revert_to_error(rev) from exc
            error = node_error(exc)
            if isinstance(error, ContractRevert) and error.revert is not None:
                error = domain.revert_to_error(error.revert)
            raise error from exc

    def _embedded_view(self, fn: Any) -> Any:
        """`fn.call()` on the embedded chain's head without web3's request pipeline, whose
        middleware lists every account to guess a sender and formats the request and answer
        (more CPU than the call: a tenth of the chain's per registered asset). The same call
        data and sender (`Network.call_raw`); the answer as eth-abi decodes it (one output: the
        value, several: a list; addresses in lower case). The call data is web3's own encoding
        of the bound call (its argument normalization, e.g. hex strings for bytes; web3 is pinned).
        On the chain thread."""
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        values = abi_decode(get_abi_output_types(fn.abi), self.network.call_raw(fn.address, data))
        return values[0] if len(values) == 1 else list(values)

    async def check_code(self) -> None:
        """Start-up check that the node runs the deployed code: a view call on each contract.
        Refuses (FailedPrecondition naming the contract and the likely cause) otherwise."""
        token, market, timelock = self.token, self.market, self.timelock
        checks: list[tuple[str, Contract, str, Any, Any]] = [
            ("IPAssetTokenV2", token, "name()", token.functions.name(), None),
            ("IPAssetTokenV2", token, "supportsInterface(ERC-721)",
             token.functions.supportsInterface(bytes.fromhex("80ac58cd")), True),
            ("IPAssetTokenV2", token, "initialMarketplace()", token.functions.initialMarketplace(), None),
            ("IPheronTimelock", timelock, "getMinDelay()", timelock.functions.getMinDelay(), None),
            ("MarketplaceV2", market, "token()", market.functions.token(), token.address),
            ("MarketplaceV2", market, "governor()", market.functions.governor(), timelock.address),
        ]
        evm = target_evm_version()
        for name, contract, call, fn, expected in checks:
            try:
                result = await self.network.run(fn.call)
            except Exception as exc:  # noqa: BLE001 - any failure means the node cannot run our code
                raise domain.code_check_error(name, contract.address, call, str(exc), evm) from exc
            got = to_checksum_address(result) if isinstance(expected, str) else result
            if expected is not None and got != expected:
                raise FailedPrecondition(f"{name} at {contract.address} answers {call} = {result!r}, "
                                         f"expected {expected!r}: that address holds another contract")

    async def token_of_asset(self, asset: uuid.UUID) -> int:
        """The token minted for an asset; NotFound when there is none."""
        return int(await self._view(self.token.functions.tokenOfAsset(asset.bytes)))

    async def minted_token(self, asset: uuid.UUID) -> int | None:
        try:
            return await self.token_of_asset(asset)
        except NotFound:
            return None

    async def asset_of(self, token_id: int) -> uuid.UUID:
        raw = await self._view(self.token.functions.assetOf(token_id))
        return uuid.UUID(bytes=bytes(raw))

    async def owner_of(self, token_id: int) -> ChecksumAddress:
        return to_checksum_address(await self._view(self.token.functions.ownerOf(token_id)))

    async def token_uri(self, token_id: int) -> str:
        return str(await self._view(self.token.functions.tokenURI(token_id)))

    async def co_creators(self, token_id: int) -> list[Share]:
        creators = await self._view(self.token.functions.coCreatorsOf(token_id))
        return [Share(to_checksum_address(c[0]), int(c[1])) for c in creators]

    async def royalty_info(self, token_id: int, sale_price: int) -> tuple[ChecksumAddress, int]:
        """EIP-2981: (receiver, royalty) for a sale at `sale_price`."""
        receiver, royalty = await self._view(self.token.functions.royaltyInfo(token_id, sale_price))
        return to_checksum_address(receiver), int(royalty)

    def domain_separator_of(self, chain_id: int) -> bytes:
        """The marketplace's EIP-712 domain separator (computed once: it never changes)."""
        if self._domain_separator is None:
            self._domain_separator = orders.domain_separator(orders.domain(chain_id, self.market.address))
        return self._domain_separator

    async def counter_of(self, seller: str) -> int:
        return int(await self._view(self.market.functions.counterOf(to_checksum_address(seller))))

    async def order_status(self, order_hash: bytes) -> int:
        """0 none, 1 filled, 2 cancelled."""
        return int(await self._view(self.market.functions.orderStatus(order_hash)))

    @staticmethod
    def _call_data(signature: str, args: Sequence[Any]) -> bytes:
        selector, in_types = _signature_parts(signature)
        return selector + (abi_encode(in_types, list(args)) if in_types else b"")

    def _raw_view(self, to: str, signature: str, args: Sequence[Any], out_types: Sequence[str],
                  block: int | str = "latest") -> tuple[Any, ...]:
        """A view call encoded and decoded here (no web3 contract machinery); on the chain thread."""
        return tuple(abi_decode(list(out_types), self.network.call_raw(to, self._call_data(signature, args), block)))

    def _order_on_chain_batched(self, order: Order, order_hash: bytes) -> domain.OrderOnChain:
        """`order_on_chain` on a JSON-RPC node: its five reads in one batch at the same head (a
        second request only when the token's owner is not the order's seller)."""
        token, market = self.token.address, self.market.address

        def call(to: str, signature: str, args: Sequence[Any]) -> tuple[str, list[Any]]:
            return "eth_call", [{"to": to, "data": "0x" + self._call_data(signature, args).hex()}, "latest"]

        def value(answer: Any, out_type: str) -> Any:
            if isinstance(answer, RpcError):
                raise answer
            return abi_decode([out_type], bytes.fromhex(str(answer).removeprefix("0x")))[0]

        status, counter, raw_owner, seller_approved, spender, head = self.network.rpc_batch([
            call(market, "orderStatus(bytes32)", [order_hash]), call(market, "counterOf(address)", [order.seller]),
            call(token, "ownerOf(uint256)", [order.token_id]),
            call(token, "isApprovedForAll(address,address)", [order.seller, market]),
            call(token, "getApproved(uint256)", [order.token_id]), ("eth_getBlockByNumber", ["latest", False])])
        if isinstance(head, RpcError):
            raise head
        try:
            owner: ChecksumAddress | None = to_checksum_address(value(raw_owner, "address"))
        except Exception:  # noqa: BLE001 - a token that does not exist has no owner
            owner = None
        approved = False
        if owner is not None:
            approved = bool(value(seller_approved, "bool")) if owner == order.seller else bool(
                self._raw_view(token, "isApprovedForAll(address,address)", [owner, market], ["bool"])[0])
            if not approved:
                approved = to_checksum_address(value(spender, "address")) == market
        # The next block is stamped no earlier than the head + 1 s, nor before the clock.
        return domain.OrderOnChain(int(value(status, "uint8")), int(value(counter, "uint256")), owner, approved,
                                   max(int(head["timestamp"], 16) + 1, int(time.time())))

    async def order_on_chain(self, order: Order, order_hash: bytes) -> domain.OrderOnChain:
        """What VerifyOrder compares an order with, read in one executor hop (one batch on a JSON-RPC node)."""
        if not self.network.embedded:
            return await self.network.run(self._order_on_chain_batched, order, order_hash)
        token, market = self.token.address, self.market.address
        view = self._raw_view

        def read() -> domain.OrderOnChain:
            (status,) = view(market, "orderStatus(bytes32)", [order_hash], ["uint8"])
            (counter,) = view(market, "counterOf(address)", [order.seller], ["uint256"])
            try:
                (raw_owner,) = view(token, "ownerOf(uint256)", [order.token_id], ["address"])
                owner: ChecksumAddress | None = to_checksum_address(raw_owner)
            except Exception:  # noqa: BLE001 - a token that does not exist has no owner
                owner = None
            approved = False
            if owner is not None:
                (approved,) = view(token, "isApprovedForAll(address,address)", [owner, market], ["bool"])
                if not approved:
                    (spender,) = view(token, "getApproved(uint256)", [order.token_id], ["address"])
                    approved = to_checksum_address(spender) == market
            head = self.network.head_timestamp()
            # The next block is stamped no earlier than the head + 1 s, nor before the clock.
            return domain.OrderOnChain(int(status), int(counter), owner, bool(approved),
                                       max(head + 1, int(time.time())))

        return await self.network.run(read)

    async def total_minted(self, block: int | None = None) -> int:
        at = block if block is not None else "latest"
        return int((await self.network.run(self._raw_view, self.token.address, "totalMinted()", [], ["uint256"],
                                           at))[0])

    async def owners_at(self, token_ids: Sequence[int], block: int) -> dict[int, ChecksumAddress | None]:
        """ownerOf of each token at a block (None: not minted by then), in one executor hop."""
        token = self.token.address

        def read() -> dict[int, ChecksumAddress | None]:
            out: dict[int, ChecksumAddress | None] = {}
            for token_id in token_ids:
                try:
                    out[token_id] = to_checksum_address(self._raw_view(token, "ownerOf(uint256)", [token_id],
                                                                       ["address"], block)[0])
                except Exception:  # noqa: BLE001 - a token not minted by then has no owner
                    out[token_id] = None
            return out

        return await self.network.run(read)

    async def pending_at(self, payees: Sequence[str], block: int) -> dict[str, int]:
        """pendingWithdrawal of each payee at a block, in one executor hop."""
        market = self.market.address

        def read() -> dict[str, int]:
            return {p: int(self._raw_view(market, "pendingWithdrawal(address)", [to_checksum_address(p)],
                                          ["uint256"], block)[0]) for p in payees}

        return await self.network.run(read)

    async def pending_withdrawal(self, address: str) -> int:
        return int(await self._view(self.market.functions.pendingWithdrawal(address)))

    async def native_balance(self, address: str) -> int:
        return int(await self.network.run(self.network.w3.eth.get_balance, to_checksum_address(address)))

    async def has_code(self, address: str) -> bool:
        return await has_code(self.network, address)

    async def eip1271_valid(self, wallet: ChecksumAddress, hash32: bytes, signature: bytes) -> bool:
        """Whether a contract wallet accepts the signature (a reverting or non-1271 contract: no)."""
        contract = self.network.w3.eth.contract(address=wallet, abi=_EIP1271_ABI)
        try:
            result = await self.network.run(contract.functions.isValidSignature(hash32, signature).call)
        except Exception:  # noqa: BLE001 - a reverting or non-1271 contract means "not valid"
            return False
        return bytes(result) == domain.EIP1271_MAGIC

    async def chain_reading(self, signer: str) -> tuple[int, int, int, int]:
        """(latest block, gas price, base fee, signer balance) in one executor hop."""
        def read() -> tuple[int, int, int, int]:
            eth = self.network.w3.eth
            block = eth.get_block("latest")
            return (int(block["number"]), int(eth.gas_price), int(block.get("baseFeePerGas") or 0),
                    int(eth.get_balance(to_checksum_address(signer))))

        return await self.network.run(read)

    async def block_number(self) -> int:
        return int(await self.network.run(lambda: self.network.w3.eth.block_number))

    # --- call data ------------------------------------------------------------------
    def mint_data(self, order: MintOrder) -> str:
        return self.token.encode_abi("mint", args=[
            order.owner, order.asset_id.bytes, order.uri, [s.address for s in order.co_creators],
            [s.bps for s in order.co_creators], order.royalty_bps])

    def fulfill_data(self, order: Order, signature: bytes, recipient: str | None) -> str:
        """`fulfill(order, signature)` / `fulfillFor(order, signature, recipient)` call data, encoded
        here: web3's `encode_abi` (ABI lookup, argument normalising) cost a twentieth of PrepareFulfill's
        chain time for the same bytes."""
        if recipient is None:
            return "0x" + self._call_data(FULFILL, [order.as_tuple(), signature]).hex()
        return "0x" + self._call_data(FULFILL_FOR, [order.as_tuple(), signature, recipient]).hex()

    def cancel_data(self, cancelled: Sequence[Order]) -> str:
        return self.market.encode_abi("cancel", args=[[o.as_tuple() for o in cancelled]])

    def self_withdraw_data(self) -> str:
        return self.market.encode_abi("withdraw", args=[])

    def withdraw_data(self, payees: Sequence[str]) -> str:
        return self.market.encode_abi("withdrawFor", args=[list(payees)])

    async def user_transaction(self, tx_hash: str) -> domain.RawTx | None:
        """A transaction as the node knows it (pending or mined), or None when it does not."""
        def read() -> domain.RawTx | None:
            try:
                tx = self.network.w3.eth.get_transaction(HexBytes(tx_hash))
            except Exception:  # noqa: BLE001 - not found
                return None
            to = tx.get("to")
            data = tx.get("input") or b""
            return domain.RawTx(
                tx_hash=tx_hash.lower(), sender=to_checksum_address(tx["from"]), type=int(tx.get("type") or 0),
                chain_id=int(tx.get("chainId") or self.network.w3.eth.chain_id), nonce=int(tx["nonce"]),
                gas=int(tx["gas"]), max_fee_per_gas=int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0),
                max_priority_fee_per_gas=int(tx.get("maxPriorityFeePerGas") or 0),
                to=to_checksum_address(to) if to else None, value=int(tx["value"]),
                data=data if isinstance(data, str) else "0x" + bytes(data).hex())

        return await self.network.run(read)

    # --- receipts -------------------------------------------------------------------
    async def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt of a mined transaction, or None."""
        def read() -> dict[str, Any] | None:
            try:
                return dict(self.network.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
            except Exception:  # noqa: BLE001 - not found / not mined
                return None

        return await self.network.run(read)

    def decode_events(self, receipt: dict[str, Any]) -> tuple[DecodedEvent, ...]:
        """The platform contracts' events in a receipt (others' logs are skipped)."""
        from web3._utils.events import get_event_data

        out: list[DecodedEvent] = []
        known = {self.token.address, self.market.address, self.timelock.address}
        for entry in receipt.get("logs", []):
            if to_checksum_address(entry["address"]) not in known or not entry["topics"]:
                continue
            found = self._events.get(bytes(entry["topics"][0]))
            if found is None:
                continue
            try:
                data = get_event_data(self.network.w3.codec, cast(ABIEvent, found[1]), entry)
            except Exception:  # noqa: BLE001, S112 - same topic, other shape: skip rather than fail a read
                continue
            out.append(DecodedEvent(found[0], to_checksum_address(entry["address"]), dict(data["args"]),
                                    int(entry["logIndex"])))
        return tuple(out)


def receipt_of(raw: dict[str, Any]) -> Receipt:
    """A web3 receipt as the domain's record."""
    return Receipt(
        succeeded=int(raw["status"]) == 1,
        block_hash="0x" + bytes(raw["blockHash"]).hex(),
        block_number=int(raw["blockNumber"]),
        gas_used=int(raw["gasUsed"]),
        effective_gas_price_wei=int(raw.get("effectiveGasPrice") or 0),
        contract_address=str(raw.get("contractAddress") or ""),
    )


async def has_code(network: Network, address: str) -> bool:
    return await network.run(network.has_code, to_checksum_address(address))


async def _admin(tm: TransactionManager, to: str, data: str, call: str) -> None:
    outcome = await tm.send(TxRequest(type="admin", to=to, data=data, details={"call": call}))
    if not outcome.succeeded:
        raise FailedPrecondition(f"{call} failed: {outcome.revert or 'reverted'}")


async def _deploy(network: Network, repo: ChainRepository, tm: TransactionManager, artifact: Artifact,
                  args: list[Any]) -> ChecksumAddress:
    factory = network.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    outcome = await tm.send(TxRequest(type="deploy", to=None, data=data, details={"contract": artifact.name}))
    if not outcome.succeeded:
        raise FailedPrecondition(f"deploying {artifact.name} failed")
    address = to_checksum_address(outcome.receipt["contractAddress"])
    await run_db(repo.set_to_address, outcome.tx_hash, address)
    return address


async def _locate_or_deploy(network: Network, repo: ChainRepository, tm: TransactionManager, chain_id: int,
                            artifact: Artifact, code_hash: str, args: list[Any]) -> ChecksumAddress:
    found = await run_db(repo.find_deployment, chain_id, artifact.name, code_hash)
    if found is not None and await has_code(network, found):
        return to_checksum_address(found)
    address = await _deploy(network, repo, tm, artifact, args)
    await run_db(repo.save_deployment, chain_id, artifact.name, address, code_hash, None)
    return address
