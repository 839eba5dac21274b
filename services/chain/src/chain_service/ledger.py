"""The platform's contracts on one chain: deploy-or-locate at start, the view calls and
call data of IPAssetToken and Marketplace, receipts and their decoded events.

Every web3 call runs on the network's executor (`Network.run`), never on the event loop;
a view call that reverts becomes the typed error `domain.revert_to_error` names.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any, cast

from eth_typing import ABIEvent, ChecksumAddress
from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from ipheron_libs.db import run_db
from ipheron_libs.errors import FailedPrecondition, NotFound
from web3.contract import Contract

from chain_service import domain
from chain_service.config import ChainSettings
from chain_service.contracts import Artifact, decode_revert, load_artifact, target_evm_version
from chain_service.domain import DecodedEvent, Listing, MintOrder, Receipt, Share
from chain_service.network import Network
from chain_service.repository import ChainRepository
from chain_service.txmanager import ContractRevert, TransactionManager, TxRequest, node_error

log = logging.getLogger("ipheron.chain.ledger")

_EIP1271_ABI = [{"type": "function", "name": "isValidSignature", "stateMutability": "view",
                 "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
                 "outputs": [{"name": "", "type": "bytes4"}]}]


class Ledger:
    """IPAssetToken and Marketplace bound on one network; build it with `Ledger.deploy_or_locate`."""

    def __init__(self, network: Network, token: Contract, market: Contract, artifacts: Sequence[Artifact]) -> None:
        self.network = network
        self.token = token
        self.market = market
        self._events: dict[bytes, tuple[str, dict[str, Any]]] = {}
        for artifact in artifacts:
            for item in artifact.abi:
                if item.get("type") == "event":
                    self._events[event_abi_to_log_topic(cast(ABIEvent, item))] = (item["name"], item)

    # --- start-up -------------------------------------------------------------------
    @classmethod
    async def deploy_or_locate(cls, network: Network, repo: ChainRepository, tm: TransactionManager,
                               settings: ChainSettings, chain_id: int) -> Ledger:
        """Use the configured addresses, else a stored deployment of the same code that still
        has code on chain, else deploy; then make sure the token points at the marketplace."""
        token_art, market_art = load_artifact("IPAssetToken"), load_artifact("Marketplace")
        if settings.token_address and settings.marketplace_address:
            token_addr = domain.parse_address(settings.token_address, "CHAIN_TOKEN_ADDRESS")
            market_addr = domain.parse_address(settings.marketplace_address, "CHAIN_MARKETPLACE_ADDRESS")
            if not (await has_code(network, token_addr) and await has_code(network, market_addr)):
                raise FailedPrecondition("configured contract addresses hold no code on this chain")
        else:
            token_addr = await _locate_or_deploy(network, repo, tm, chain_id, token_art, token_art.code_hash,
                                                 [tm.address])
            market_addr = await _locate_or_deploy(network, repo, tm, chain_id, market_art,
                                                  domain.marketplace_identity(market_art.code_hash, token_addr),
                                                  [token_addr, tm.address])
        w3 = network.w3
        token = w3.eth.contract(address=token_addr, abi=token_art.abi)
        market = w3.eth.contract(address=market_addr, abi=market_art.abi)
        ledger = cls(network, token, market, [token_art, market_art])
        await ledger.check_code()
        wired = await network.run(token.functions.marketplace().call)
        if to_checksum_address(wired) != market_addr:
            data = token.encode_abi("setMarketplace", args=[market_addr])
            await tm.send(TxRequest(type="admin", to=token_addr, data=data, details={"call": "setMarketplace"}))
        log.info("contracts on chain %d: IPAssetToken %s, Marketplace %s", chain_id, token_addr, market_addr)
        return ledger

    # --- view calls -----------------------------------------------------------------
    async def _view(self, fn: Any) -> Any:
        """Call a view function; contract errors become typed errors."""
        try:
            return await self.network.run(fn.call)
        except Exception as exc:
            rev = decode_revert(exc)
            if rev is not None and rev.name != "UnknownError":
                raise domain.revert_to_error(rev) from exc
            error = node_error(exc)
            if isinstance(error, ContractRevert) and error.revert is not None:
                error = domain.revert_to_error(error.revert)
            raise error from exc

    async def check_code(self) -> None:
        """Start-up check that the node runs the deployed code: a view call on each contract.
        Refuses (FailedPrecondition naming the contract and the likely cause) otherwise."""
        token, market = self.token, self.market
        checks: list[tuple[str, Contract, str, Any, Any]] = [
            ("IPAssetToken", token, "name()", token.functions.name(), None),
            ("IPAssetToken", token, "supportsInterface(ERC-721)",
             token.functions.supportsInterface(bytes.fromhex("80ac58cd")), True),
            ("Marketplace", market, "token()", market.functions.token(), token.address),
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

    async def listing(self, token_id: int) -> Listing | None:
        seller, price = await self._view(self.market.functions.listingOf(token_id))
        return None if int(seller, 16) == 0 else Listing(to_checksum_address(seller), int(price))

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

    def list_data(self, token_id: int, price_wei: int) -> str:
        return self.market.encode_abi("listFor", args=[token_id, price_wei])

    def unlist_data(self, token_id: int) -> str:
        return self.market.encode_abi("unlist", args=[token_id])

    def transfer_data(self, token_id: int, to: str) -> str:
        return self.market.encode_abi("transferFor", args=[token_id, to])

    def buy_data(self, token_id: int, recipient: str) -> str:
        return self.market.encode_abi("buyFor", args=[token_id, recipient])

    def withdraw_data(self, payees: Sequence[str]) -> str:
        return self.market.encode_abi("withdrawFor", args=[list(payees)])

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
        known = {self.token.address, self.market.address}
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
    code = await network.run(network.w3.eth.get_code, to_checksum_address(address))
    return len(code) > 0


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
