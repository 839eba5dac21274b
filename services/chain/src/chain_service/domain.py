"""The chain service's rules: validation, deploy-or-locate, and each operation on the
IPAssetToken and Marketplace contracts. No gRPC and no SQL here (the repository and the
transaction manager do those)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_account.signers.local import LocalAccount
from eth_typing import ABIEvent, ChecksumAddress
from eth_utils import event_abi_to_log_topic, is_address, to_checksum_address
from hexbytes import HexBytes
from ipheron_libs.db import run_db
from ipheron_libs.errors import (
    Conflict,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from web3.contract import Contract

from chain_service.config import ChainSettings
from chain_service.contracts import Artifact, Revert, decode_revert, load_artifact
from chain_service.network import Network
from chain_service.repository import ChainRepository, TxRecord
from chain_service.txmanager import (
    ContractRevert,
    Outcome,
    Sent,
    TransactionManager,
    TxRequest,
)

log = logging.getLogger("ipheron.chain")

TOTAL_SHARES_BPS = 10_000
MAX_CO_CREATORS = 20
MAX_ROYALTY_BPS = 5_000
MAX_URI_LENGTH = 2048
MAX_WITHDRAW_BATCH = 100
UINT256_MAX = 2**256 - 1
EIP1271_MAGIC = bytes.fromhex("1626ba7e")


# --- validation helpers -----------------------------------------------------------------
def parse_wei(value: str, field_name: str, *, positive: bool = True) -> int:
    """A wei amount from a decimal string of digits; floats and signs are refused."""
    text = (value or "").strip()
    if not text.isdigit():
        raise InvalidArgument(f"{field_name} must be a whole number of wei as a decimal string", field=field_name)
    amount = int(text)
    if amount > UINT256_MAX:
        raise InvalidArgument(f"{field_name} exceeds uint256", field=field_name)
    if positive and amount == 0:
        raise InvalidArgument(f"{field_name} must be greater than zero", field=field_name)
    return amount


def parse_address(value: str, field_name: str) -> ChecksumAddress:
    """A checksummed address; a mixed-case address with a wrong checksum is refused."""
    if not value or not is_address(value):
        raise InvalidArgument(f"{field_name} is not a valid address", field=field_name)
    checksummed = to_checksum_address(value)
    if checksummed == "0x" + "0" * 40:
        raise InvalidArgument(f"{field_name} must not be the zero address", field=field_name)
    return checksummed


def parse_asset_id(value: str, field_name: str = "asset_id") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument(f"{field_name} must be a UUID", field=field_name) from None


def royalty_split(royalty: int, shares: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Split a royalty by basis-point shares exactly as the Marketplace does: floor each
    part, the rounding remainder to the first co-creator."""
    parts = [royalty * bps // TOTAL_SHARES_BPS for _, bps in shares]
    parts[0] += royalty - sum(parts)
    return [(addr, part) for (addr, _), part in zip(shares, parts, strict=True)]


# Contract errors → the typed error a client sees, with a clear message.
def _revert_to_error(rev: Revert) -> DomainError:
    a = rev.args
    table: dict[str, Callable[[], DomainError]] = {
        "NotListed": lambda: FailedPrecondition(f"token {a.get('tokenId')} is not listed for sale (unlisted or already sold)"),
        "ListingStale": lambda: FailedPrecondition(f"the listing of token {a.get('tokenId')} is stale: the owner changed"),
        "WrongPayment": lambda: FailedPrecondition(f"price mismatch: the token is listed at {a.get('expected')} wei, {a.get('sent')} wei offered"),
        "BuyerIsSeller": lambda: FailedPrecondition("the buyer already owns this token"),
        "NotTokenOwner": lambda: PermissionDenied(f"{a.get('caller')} does not own token {a.get('tokenId')}"),
        "MarketplaceNotApproved": lambda: FailedPrecondition(f"the owner {a.get('owner')} revoked the marketplace's approval for token {a.get('tokenId')}"),
        "InvalidPrice": lambda: InvalidArgument("price must be greater than zero", field="price_wei"),
        "InvalidRecipient": lambda: InvalidArgument("recipient must not be the zero address"),
        "NothingToWithdraw": lambda: FailedPrecondition(f"{a.get('payee')} has nothing to withdraw"),
        "TransferFailed": lambda: FailedPrecondition(f"transfer of {a.get('amount')} wei to {a.get('payee')} failed"),
        "AccessControlUnauthorizedAccount": lambda: PermissionDenied(f"{a.get('account')} lacks the role required for this call"),
        "ERC721NonexistentToken": lambda: NotFound(f"token {a.get('tokenId')} does not exist"),
        "ERC721InvalidReceiver": lambda: FailedPrecondition(f"{a.get('receiver')} cannot receive ERC-721 tokens"),
        "AssetAlreadyMinted": lambda: Conflict(f"asset already minted as token {a.get('tokenId')}"),
        "UnknownAsset": lambda: NotFound("asset has no token"),
        "SharesMustSumTo10000": lambda: InvalidArgument(f"co-creator shares must sum to 10000 bps, got {a.get('sum')}", field="co_creators"),
        "RoyaltyTooHigh": lambda: InvalidArgument(f"royalty_bps must be at most {a.get('maxBps')}", field="royalty_bps"),
    }
    make = table.get(rev.name)
    return make() if make else FailedPrecondition(f"contract reverted: {rev}")


def _clear(exc: DomainError) -> DomainError:
    if isinstance(exc, ContractRevert) and exc.revert is not None:
        return _revert_to_error(exc.revert)
    return exc


# --- results ----------------------------------------------------------------------------
@dataclass
class DecodedEvent:
    name: str
    address: str
    args: dict[str, Any]
    log_index: int


@dataclass
class TxView:
    """A transaction record plus what the chain says about it now."""

    record: TxRecord
    events: list[DecodedEvent] = field(default_factory=list)
    confirmations: int = 0
    receipt: dict[str, Any] | None = None


@dataclass
class MintResult:
    token_id: int
    contract_address: str
    tx: TxView
    already_minted: bool


@dataclass
class BuyResult:
    tx: TxView
    payouts: list[tuple[str, int, str]]
    seller: str
    royalty: int


@dataclass
class TokenInfo:
    token_id: int
    asset_id: str
    owner: str
    uri: str
    co_creators: list[tuple[str, int]]
    royalty_bps: int
    listing: tuple[str, int] | None
    contract_address: str


@dataclass
class NetworkStatus:
    chain_id: int
    latest_block: int
    gas_price: int
    base_fee: int
    token_address: str
    marketplace_address: str
    signer_address: str
    signer_balance: int
    network: str
    healthy: bool
    journaled: int


class _RepoJournal:
    """The embedded chain's journal, written synchronously from the chain thread."""

    def __init__(self, repo: ChainRepository) -> None:
        self.repo = repo

    def append(self, tx_hash: str, raw_tx: bytes, block_timestamp: int) -> int:
        return self.repo.journal_append(tx_hash, raw_tx, block_timestamp)

    def discard(self, seq: int) -> None:
        self.repo.journal_discard(seq)


class ChainDomain:
    """Every chain operation of the platform; build it with `ChainDomain.open`."""

    def __init__(self, settings: ChainSettings, repo: ChainRepository, network: Network, account: LocalAccount,
                 chain_id: int) -> None:
        self.settings = settings
        self.repo = repo
        self.network = network
        self.account = account
        self.chain_id = chain_id
        self.tm = TransactionManager(network, repo, account, settings, chain_id)
        self.token: Contract
        self.market: Contract
        self._key_locks: dict[str, list[Any]] = {}
        self._events: dict[bytes, tuple[str, dict[str, Any]]] = {}

    @asynccontextmanager
    async def _serialized(self, key: str) -> AsyncIterator[None]:
        """One operation per key at a time (same asset mint, same idempotency key)."""
        entry = self._key_locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            # Forget the lock once nobody holds or awaits it, so the table stays small.
            entry[1] -= 1
            if entry[1] == 0:
                del self._key_locks[key]

    # --- start-up -----------------------------------------------------------------------
    @classmethod
    async def open(cls, settings: ChainSettings, repo: ChainRepository) -> ChainDomain:
        """Connect (embedded: rebuild from the journal), then deploy or locate the contracts."""
        account: LocalAccount = Account.from_key(settings.effective_signer_key)
        if settings.embedded:
            genesis = int(await run_db(repo.set_meta_if_absent, "genesis_timestamp", str(int(time.time()) - 1)))
            journal = _RepoJournal(repo) if settings.journal else None
            network = Network.embedded_chain(genesis, journal, funded=[account.address])
            if journal is not None:
                await cls._replay(network, repo)
        else:
            assert settings.web3_provider_uri
            network = Network.json_rpc(settings.web3_provider_uri)
        chain_id = int(await network.run(lambda: network.w3.eth.chain_id))
        self = cls(settings, repo, network, account, chain_id)
        await self.tm.resync_nonce()
        await self.tm.reconcile_pending()
        await self._deploy_or_locate()
        return self

    @staticmethod
    async def _replay(network: Network, repo: ChainRepository) -> None:
        """Rebuild the embedded chain: the newest snapshot, then the journal entries after it."""
        assert network.tester is not None
        started, after, total = time.monotonic(), 0, 0
        snap = await run_db(repo.latest_snapshot)
        if snap is not None:
            number, root = await network.run(network.tester.restore, snap.data, snap.journal_seq)
            if (number, root) != (snap.head_block, snap.state_root):
                raise FailedPrecondition(f"chain snapshot {snap.id} is inconsistent (head {number} {root})")
            after = snap.journal_seq
            log.info("restored chain snapshot at block %d (journal entry %d)", number, after)
        while True:
            batch = await run_db(repo.journal_entries, after)
            if not batch:
                break
            total += await network.run(network.tester.replay, batch)
            after = batch[-1][0]
        if total or snap is not None:
            log.info("replayed %d journaled transactions in %.1fs", total, time.monotonic() - started)

    async def snapshot(self, min_new_entries: int = 1) -> bool:
        """Store the embedded chain's database when at least `min_new_entries` journal entries
        arrived since the last snapshot, so a restart replays only the tail."""
        tester = self.network.tester
        if tester is None or tester.journal is None:
            return False
        last = await run_db(self.repo.latest_snapshot_seq)
        if tester.applied_seq - last < max(min_new_entries, 1):
            return False
        seq, number, root, data = await self.network.run(tester.snapshot)
        await run_db(self.repo.save_snapshot, seq, number, root, data)
        log.info("chain snapshot at block %d (journal entry %d, %d bytes)", number, seq, len(data))
        return True

    async def aclose(self, *, snapshot: bool = True) -> None:
        """Stop: snapshot the embedded chain first (a clean restart then replays nothing)."""
        if snapshot:
            try:
                await self.snapshot()
            except Exception:  # the journal alone still rebuilds the chain
                log.warning("chain snapshot at shutdown failed", exc_info=True)
        self.close()

    def close(self) -> None:
        self.network.close()

    def _contract(self, artifact: Artifact, address: str) -> Contract:
        contract = self.network.w3.eth.contract(address=to_checksum_address(address), abi=artifact.abi)
        for item in artifact.abi:
            if item.get("type") == "event":
                self._events[event_abi_to_log_topic(cast(ABIEvent, item))] = (item["name"], item)
        return contract

    async def _has_code(self, address: str) -> bool:
        code = await self.network.run(self.network.w3.eth.get_code, to_checksum_address(address))
        return len(code) > 0

    async def _deploy(self, artifact: Artifact, args: list[Any]) -> str:
        factory = self.network.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        outcome = await self.tm.send(TxRequest(type="deploy", to=None, data=data, details={"contract": artifact.name}))
        if not outcome.succeeded:
            raise FailedPrecondition(f"deploying {artifact.name} failed")
        address = to_checksum_address(outcome.receipt["contractAddress"])
        await run_db(self.repo.update_tx, outcome.tx_hash, to_address=address)
        return address

    async def _deploy_or_locate(self) -> None:
        token_art, market_art = load_artifact("IPAssetToken"), load_artifact("Marketplace")
        if self.settings.token_address and self.settings.marketplace_address:
            token_addr: str = parse_address(self.settings.token_address, "CHAIN_TOKEN_ADDRESS")
            market_addr: str = parse_address(self.settings.marketplace_address, "CHAIN_MARKETPLACE_ADDRESS")
            if not (await self._has_code(token_addr) and await self._has_code(market_addr)):
                raise FailedPrecondition("configured contract addresses hold no code on this chain")
        else:
            token_addr = await self._locate_or_deploy(token_art, token_art.code_hash, [self.tm.address])
            # The marketplace is bound to one token, so its identity includes the token address.
            market_hash = hashlib.sha256((market_art.code_hash + token_addr).encode()).hexdigest()
            market_addr = await self._locate_or_deploy(market_art, market_hash, [token_addr, self.tm.address])
        self.token = self._contract(token_art, token_addr)
        self.market = self._contract(market_art, market_addr)
        wired = await self.network.run(self.token.functions.marketplace().call)
        if to_checksum_address(wired) != market_addr:
            data = self.token.encode_abi("setMarketplace", args=[market_addr])
            await self.tm.send(TxRequest(type="admin", to=token_addr, data=data, details={"call": "setMarketplace"}))
        log.info("contracts on chain %d: IPAssetToken %s, Marketplace %s", self.chain_id, token_addr, market_addr)

    async def _locate_or_deploy(self, artifact: Artifact, code_hash: str, args: list[Any]) -> str:
        found = await run_db(self.repo.find_deployment, self.chain_id, artifact.name, code_hash)
        if found is not None and await self._has_code(found.address):
            return found.address
        address = await self._deploy(artifact, args)
        await run_db(self.repo.save_deployment, self.chain_id, artifact.name, address, code_hash, None)
        return address

    # --- reads --------------------------------------------------------------------------
    async def _view(self, fn: Any) -> Any:
        """Call a view function; contract errors become typed errors."""
        try:
            return await self.network.run(fn.call)
        except Exception as exc:
            rev = decode_revert(exc)
            if rev is not None:
                raise _revert_to_error(rev) from exc
            raise

    async def _asset_of(self, token_id: int) -> uuid.UUID:
        raw = await self._view(self.token.functions.assetOf(token_id))
        return uuid.UUID(bytes=bytes(raw))

    async def token_info(self, *, token_id: int | None = None, asset_id: str | None = None) -> TokenInfo:
        if asset_id:
            token_id = int(await self._view(self.token.functions.tokenOfAsset(parse_asset_id(asset_id).bytes)))
        if not token_id:
            raise InvalidArgument("token_id or asset_id is required", field="token_id")
        owner = await self._view(self.token.functions.ownerOf(token_id))
        asset = await self._asset_of(token_id)
        uri = await self._view(self.token.functions.tokenURI(token_id))
        creators = await self._view(self.token.functions.coCreatorsOf(token_id))
        _, royalty = await self._view(self.token.functions.royaltyInfo(token_id, TOTAL_SHARES_BPS))
        seller, price = await self._view(self.market.functions.listingOf(token_id))
        listing = None if int(seller, 16) == 0 else (to_checksum_address(seller), int(price))
        return TokenInfo(
            token_id=token_id, asset_id=str(asset), owner=to_checksum_address(owner), uri=uri,
            co_creators=[(to_checksum_address(c[0]), int(c[1])) for c in creators], royalty_bps=int(royalty),
            listing=listing, contract_address=self.token.address,
        )

    async def royalty_info(self, token_id: int, sale_price: str) -> tuple[str, int, list[tuple[str, int]], int]:
        price = parse_wei(sale_price, "sale_price_wei", positive=False)
        receiver, royalty = await self._view(self.token.functions.royaltyInfo(token_id, price))
        creators = await self._view(self.token.functions.coCreatorsOf(token_id))
        shares = [(to_checksum_address(c[0]), int(c[1])) for c in creators]
        return to_checksum_address(receiver), int(royalty), royalty_split(int(royalty), shares), price - int(royalty)

    async def balance(self, address: str) -> tuple[str, int, int]:
        addr = parse_address(address, "address")
        pending = await self._view(self.market.functions.pendingWithdrawal(addr))
        native = await self.network.run(self.network.w3.eth.get_balance, addr)
        return addr, int(pending), int(native)

    async def network_status(self) -> NetworkStatus:
        def read() -> tuple[int, int, int, int]:
            eth = self.network.w3.eth
            block = eth.get_block("latest")
            return int(block["number"]), int(eth.gas_price), int(block.get("baseFeePerGas") or 0), int(
                eth.get_balance(self.tm.address))

        try:
            number, gas_price, base_fee, balance = await self.network.run(read)
        except Exception:
            log.warning("chain node unreachable", exc_info=True)
            number, gas_price, base_fee, balance = 0, 0, 0, 0
            healthy = False
        else:
            healthy = True
        journaled = await run_db(self.repo.journal_count) if self.network.embedded else 0
        return NetworkStatus(
            chain_id=self.chain_id, latest_block=number, gas_price=gas_price, base_fee=base_fee,
            token_address=self.token.address, marketplace_address=self.market.address,
            signer_address=self.tm.address, signer_balance=balance, network=self.network.name, healthy=healthy,
            journaled=journaled,
        )

    async def verify_signature(self, address: str, message: bytes | None, digest: bytes | None,
                               signature: bytes) -> tuple[bool, str, str]:
        """(valid, method, recovered address): ECDSA for accounts, EIP-1271 for contracts."""
        addr = parse_address(address, "address")
        if message is None and digest is None:
            raise InvalidArgument("message or digest is required", field="message")
        if digest is not None and len(digest) != 32:
            raise InvalidArgument("digest must be 32 bytes", field="digest")
        if not signature:
            raise InvalidArgument("signature is required", field="signature")
        hash32 = digest if digest is not None else bytes(_hash_eip191_message(encode_defunct(primitive=message)))
        if await self._has_code(addr):
            abi = [{"type": "function", "name": "isValidSignature", "stateMutability": "view",
                    "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
                    "outputs": [{"name": "", "type": "bytes4"}]}]
            wallet = self.network.w3.eth.contract(address=addr, abi=abi)
            try:
                result = await self.network.run(wallet.functions.isValidSignature(hash32, signature).call)
            except Exception:  # noqa: BLE001 - a reverting or non-1271 contract means "not valid"
                return False, "eip1271", ""
            return bytes(result) == EIP1271_MAGIC, "eip1271", ""
        try:
            recovered = Account._recover_hash(hash32, signature=signature)
        except Exception:  # noqa: BLE001 - malformed signatures are simply invalid
            return False, "ecdsa", ""
        return recovered == addr, "ecdsa", str(recovered)

    # --- transactions: views --------------------------------------------------------------
    def decode_events(self, receipt: dict[str, Any]) -> list[DecodedEvent]:
        from web3._utils.events import get_event_data

        out: list[DecodedEvent] = []
        known = {self.token.address, self.market.address}
        for entry in receipt.get("logs", []):
            if to_checksum_address(entry["address"]) not in known or not entry["topics"]:
                continue
            found = self._events.get(bytes(entry["topics"][0]))
            if found is None:
                continue
            try:
                data = get_event_data(self.network.w3.codec, found[1], entry)
            except Exception:  # noqa: BLE001, S112 - same topic, other shape: skip rather than fail a read
                continue
            out.append(DecodedEvent(found[0], to_checksum_address(entry["address"]), dict(data["args"]),
                                    int(entry["logIndex"])))
        return out

    async def _view_of(self, record: TxRecord, receipt: dict[str, Any] | None = None) -> TxView:
        if receipt is None and record.block_number is not None:
            receipt = await self.network.run(self._receipt_or_none, record.tx_hash)
        if receipt is None:
            return TxView(record=record)
        latest = await self.network.run(lambda: self.network.w3.eth.block_number)
        return TxView(record=record, events=self.decode_events(receipt), receipt=receipt,
                      confirmations=int(latest) - int(receipt["blockNumber"]) + 1)

    def _receipt_or_none(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return dict(self.network.w3.eth.get_transaction_receipt(HexBytes(tx_hash)))
        except Exception:  # noqa: BLE001 - not found / not mined
            return None

    async def get_transaction(self, tx_hash: str) -> TxView:
        h = tx_hash.strip().lower()
        if len(h) != 66 or not h.startswith("0x"):
            raise InvalidArgument("tx_hash must be a 0x-prefixed 32-byte hex string", field="tx_hash")
        try:
            bytes.fromhex(h[2:])
        except ValueError:
            raise InvalidArgument("tx_hash must be hex", field="tx_hash") from None
        record = await run_db(self.repo.get_tx, h)
        if record is None:
            raise NotFound(f"transaction {h} is not a platform transaction")
        if record.status == "pending":
            await self.tm.reconcile_pending()
            record = await run_db(self.repo.get_tx, h) or record
        return await self._view_of(record)

    async def list_transactions(self, *, asset_id: str, token_id: int, address: str, page: int,
                                per_page: int) -> tuple[list[TxView], int, int, int]:
        page = max(page or 1, 1)
        per_page = min(max(per_page or 20, 1), 100)
        result = await run_db(
            self.repo.list_txs,
            asset_id=parse_asset_id(asset_id) if asset_id else None,
            token_id=token_id or None,
            address=parse_address(address, "address") if address else None,
            offset=(page - 1) * per_page, limit=per_page,
        )
        return [TxView(record=r) for r in result.items], result.total, page, per_page

    # --- transactions: writes ---------------------------------------------------------------
    async def _send(self, req: TxRequest) -> tuple[Outcome, TxView]:
        try:
            outcome = await self.tm.send(req)
        except DomainError as exc:
            raise _clear(exc) from exc
        record = await run_db(self.repo.get_tx, outcome.tx_hash)
        assert record is not None
        view = await self._view_of(record, outcome.receipt)
        return outcome, view

    async def mint(self, asset_id: str, owner: str, uri: str, co_creators: list[tuple[str, int]],
                   royalty_bps: int) -> MintResult:
        asset = parse_asset_id(asset_id)
        owner_addr = parse_address(owner, "owner_address")
        if len(uri) > MAX_URI_LENGTH:
            raise InvalidArgument(f"token_uri is longer than {MAX_URI_LENGTH} characters", field="token_uri")
        if not co_creators:
            raise InvalidArgument("at least one co-creator is required", field="co_creators")
        if len(co_creators) > MAX_CO_CREATORS:
            raise InvalidArgument(f"at most {MAX_CO_CREATORS} co-creators", field="co_creators")
        creators = [(parse_address(a, "co_creators.address"), int(bps)) for a, bps in co_creators]
        if len({a for a, _ in creators}) != len(creators):
            raise InvalidArgument("co-creator addresses must be distinct", field="co_creators")
        if any(bps <= 0 for _, bps in creators):
            raise InvalidArgument("every co-creator share must be positive", field="co_creators")
        total = sum(bps for _, bps in creators)
        if total != TOTAL_SHARES_BPS:
            raise InvalidArgument(f"co-creator shares must sum to 10000 bps, got {total}", field="co_creators")
        if not 0 <= royalty_bps <= MAX_ROYALTY_BPS:
            raise InvalidArgument(f"royalty_bps must be within 0..{MAX_ROYALTY_BPS}", field="royalty_bps")

        async with self._serialized(f"mint:{asset}"):
            existing = await self._existing_mint(asset)
            if existing is not None:
                return existing
            data = self.token.encode_abi("mint", args=[
                owner_addr, asset.bytes, uri, [a for a, _ in creators], [b for _, b in creators], royalty_bps])
            req = TxRequest(type="mint", to=self.token.address, data=data, asset_id=asset, counterparty=owner_addr,
                            details={"token_uri": uri, "royalty_bps": royalty_bps,
                                     "co_creators": [[a, b] for a, b in creators]})
            outcome, view = await self._send(req)
            if not outcome.succeeded:
                existing = await self._existing_mint(asset)
                if existing is not None:
                    return existing
                raise FailedPrecondition(f"mint transaction {outcome.tx_hash} reverted")
            minted = next(e for e in view.events if e.name == "AssetMinted")
            token_id = int(minted.args["tokenId"])
            await run_db(self.repo.update_tx, outcome.tx_hash, token_id=token_id)
            view.record.token_id = token_id
            return MintResult(token_id, self.token.address, view, already_minted=False)

    async def _existing_mint(self, asset: uuid.UUID) -> MintResult | None:
        try:
            token_id = int(await self._view(self.token.functions.tokenOfAsset(asset.bytes)))
        except NotFound:
            return None
        record = await run_db(self.repo.find_asset_tx, asset, "mint")
        if record is None:
            # Our own mint may be mined but still recorded as pending (an earlier wait timed out).
            await self.tm.reconcile_pending()
            record = await run_db(self.repo.find_asset_tx, asset, "mint")
        if record is None:
            raise Conflict(f"asset {asset} is already minted as token {token_id} by another signer")
        return MintResult(token_id, self.token.address, await self._view_of(record), already_minted=True)

    async def list_token(self, token_id: int, price_wei: str) -> tuple[TxView, tuple[str, int]]:
        price = parse_wei(price_wei, "price_wei")
        asset = await self._asset_of(token_id)
        owner = to_checksum_address(await self._view(self.token.functions.ownerOf(token_id)))
        data = self.market.encode_abi("listFor", args=[token_id, price])
        async with self._serialized(f"token:{token_id}"):
            outcome, view = await self._send(TxRequest(type="list", to=self.market.address, data=data,
                                                       asset_id=asset, token_id=token_id, counterparty=owner,
                                                       amount_wei=price))
        self._raise_if_failed(view, outcome)
        return view, (owner, price)

    async def unlist_token(self, token_id: int) -> TxView:
        asset = await self._asset_of(token_id)
        data = self.market.encode_abi("unlist", args=[token_id])
        async with self._serialized(f"token:{token_id}"):
            outcome, view = await self._send(TxRequest(type="unlist", to=self.market.address, data=data,
                                                       asset_id=asset, token_id=token_id))
        self._raise_if_failed(view, outcome)
        return view

    async def transfer_token(self, token_id: int, to: str) -> TxView:
        to_addr = parse_address(to, "to_address")
        asset = await self._asset_of(token_id)
        data = self.market.encode_abi("transferFor", args=[token_id, to_addr])
        async with self._serialized(f"token:{token_id}"):
            outcome, view = await self._send(TxRequest(type="transfer", to=self.market.address, data=data,
                                                       asset_id=asset, token_id=token_id, counterparty=to_addr))
        self._raise_if_failed(view, outcome)
        return view

    @staticmethod
    def _raise_if_failed(view: TxView, outcome: Outcome | None = None) -> None:
        if view.record.status != "failed":
            return
        if outcome is not None and outcome.revert is not None:
            raise _revert_to_error(outcome.revert)
        raise FailedPrecondition(f"transaction {view.record.tx_hash} failed: {view.record.error or 'reverted'}")

    async def buy(self, token_id: int, recipient: str, price_wei: str, idempotency_key: str,
                  asset_id: str = "") -> BuyResult:
        key = (idempotency_key or "").strip()
        if not key or len(key) > 200:
            raise InvalidArgument("idempotency_key is required (1..200 characters)", field="idempotency_key")
        to_addr = parse_address(recipient, "recipient_address")
        price = parse_wei(price_wei, "price_wei")
        request_hash = hashlib.sha256(f"{token_id}|{to_addr}|{price}".encode()).hexdigest()
        async with self._serialized(f"buy:{key}"):
            prior = await self._prior_attempt(key, request_hash, "purchase")
            if prior is not None:
                return self._buy_result(prior)
            asset = await self._asset_of(token_id)
            if asset_id and parse_asset_id(asset_id) != asset:
                raise InvalidArgument(f"token {token_id} belongs to asset {asset}, not {asset_id}", field="asset_id")
            data = self.market.encode_abi("buyFor", args=[token_id, to_addr])
            req = TxRequest(type="buy", to=self.market.address, data=data, value=price, asset_id=asset,
                            token_id=token_id, counterparty=to_addr, amount_wei=price, idempotency_key=key,
                            request_hash=request_hash)
            # One write per token at a time: a second buyer's estimate then sees the sale and
            # fails cleanly with NotListed instead of paying gas for a revert.
            async with self._serialized(f"token:{token_id}"):
                outcome, view = await self._send(req)
            self._raise_if_failed(view, outcome)
            return self._buy_result(view)

    async def _prior_attempt(self, key: str, request_hash: str, what: str) -> TxView | None:
        """The outcome of an earlier request with this idempotency key, or None to go ahead.

        An earlier attempt that never reached a block (rejected, or dropped in a crash) moved
        no money, so the key is released for a new attempt; its record stays for audit.
        Otherwise: same key, different request is ALREADY_EXISTS; one still in flight is awaited.
        """
        prior = await run_db(self.repo.get_by_idempotency_key, key)
        if prior is None:
            return None
        if prior.status == "failed" and prior.block_number is None:
            await run_db(self.repo.update_tx, prior.tx_hash, idempotency_key=None)
            return None
        if prior.request_hash != request_hash:
            raise Conflict(f"idempotency_key was already used for a different {what}")
        record = prior
        if prior.status in ("pending", "replaced"):
            sent = Sent(TxRequest(type=prior.type, to=prior.to_address, data="0x"), prior.nonce, prior.gas_limit,
                        int(prior.max_fee_per_gas), int(prior.max_priority_fee_per_gas), [prior.tx_hash],
                        time.monotonic())
            if prior.replaced_by:
                sent.hashes.append(prior.replaced_by)
            outcome = await self.tm.wait(sent)
            record = await run_db(self.repo.get_tx, outcome.tx_hash) or prior
        view = await self._view_of(record)
        self._raise_if_failed(view)
        return view

    @staticmethod
    def _buy_result(view: TxView) -> BuyResult:
        payouts: list[tuple[str, int, str]] = []
        seller, royalty = "", 0
        for e in view.events:
            if e.name == "SellerCredited":
                seller = to_checksum_address(e.args["seller"])
                payouts.append((seller, int(e.args["amount"]), "seller"))
            elif e.name == "RoyaltyCredited":
                payouts.append((to_checksum_address(e.args["coCreator"]), int(e.args["amount"]), "royalty"))
            elif e.name == "Sold":
                royalty = int(e.args["royalty"])
        return BuyResult(tx=view, payouts=payouts, seller=seller, royalty=royalty)

    async def withdraw(self, payees: list[str], idempotency_key: str = "") -> tuple[TxView, list[tuple[str, int, bool]]]:
        """Pay each payee its pending balance; with a key, a retry returns the same withdrawal."""
        if not payees:
            raise InvalidArgument("at least one payee is required", field="payees")
        if len(payees) > MAX_WITHDRAW_BATCH:
            raise InvalidArgument(f"at most {MAX_WITHDRAW_BATCH} payees per withdrawal", field="payees")
        key = idempotency_key.strip()
        if len(key) > 200:
            raise InvalidArgument("idempotency_key is at most 200 characters", field="idempotency_key")
        addrs = list(dict.fromkeys(parse_address(p, "payees") for p in payees))
        request_hash = hashlib.sha256(("withdraw|" + ",".join(addrs)).encode()).hexdigest()
        async with self._serialized(f"withdraw:{key}" if key else "withdraw"):
            prior = await self._prior_attempt(key, request_hash, "withdrawal") if key else None
            if prior is not None:
                return prior, self._withdrawal_results(prior)
            pending = [int(await self._view(self.market.functions.pendingWithdrawal(a))) for a in addrs]
            if not any(pending):
                raise FailedPrecondition("no payee has a pending balance to withdraw")
            data = self.market.encode_abi("withdrawFor", args=[addrs])
            outcome, view = await self._send(TxRequest(
                type="withdraw", to=self.market.address, data=data, amount_wei=sum(pending),
                counterparty=addrs[0] if len(addrs) == 1 else None, details={"payees": addrs},
                idempotency_key=key or None, request_hash=request_hash))
        self._raise_if_failed(view, outcome)
        results = self._withdrawal_results(view)
        withdrawn = sum(amount for _, amount, ok in results if ok)
        if withdrawn != int(view.record.amount_wei):
            await run_db(self.repo.update_tx, view.record.tx_hash, amount_wei=Decimal(withdrawn))
            view.record.amount_wei = Decimal(withdrawn)
        return view, results

    @staticmethod
    def _withdrawal_results(view: TxView) -> list[tuple[str, int, bool]]:
        return [(to_checksum_address(e.args["payee"]), int(e.args["amount"]), e.name == "Withdrawn")
                for e in view.events if e.name in ("Withdrawn", "WithdrawalFailed")]


def event_args_json(args: dict[str, Any]) -> str:
    """Event arguments as JSON: integers as decimal strings, bytes as hex."""
    def conv(v: Any) -> Any:
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


def wei_str(value: Decimal | int | None) -> str:
    """Wei as a decimal string (NUMERIC values carry no exponent)."""
    if value is None:
        return "0"
    try:
        return str(int(value))
    except (InvalidOperation, ValueError):
        return "0"
