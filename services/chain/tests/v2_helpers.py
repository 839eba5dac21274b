"""A self-contained in-process EVM (py-evm through eth-tester) with the v2 contracts deployed the
way production wires them: an IPheronTimelock (platform key = proposer and executor, a real
delay, self-administered), IPAssetTokenV2 (platform key = minter only, timelock = admin) and
MarketplaceV2 (timelock = governor); the token's marketplace is set through the timelock
(schedule → wait the delay → execute). Every transaction is signed by its sender's own key,
as a wallet would, and reverts surface as `Reverted(name, args)` decoded from the ABIs.

Independent of ChainService on purpose: these tests prove the contracts alone."""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from chain_service import orders
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.logs import DISCARD

BUILD_DIR = os.path.join(os.path.dirname(__file__), "..", "src", "chain_service", "contracts", "build")
ZERO = "0x0000000000000000000000000000000000000000"
ZERO32 = b"\x00" * 32
TIMELOCK_DELAY = 3600
GAS = 3_000_000


def artifact(name: str) -> dict[str, Any]:
    with open(os.path.join(BUILD_DIR, f"{name}.json")) as f:
        return dict(json.load(f))


def _type_of(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in param["components"]) + ")" + param["type"][5:]
    return str(param["type"])


def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for file in sorted(os.listdir(BUILD_DIR)):
        for item in artifact(file[:-5])["abi"]:
            if item.get("type") == "error":
                types = [_type_of(p) for p in item["inputs"]]
                sel = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                table[sel] = (item["name"], [p["name"] for p in item["inputs"]], types)
    return table


ERRORS = _error_table()
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")
_BYTES_REPR = re.compile(r"b(['\"]).*\1", re.DOTALL)


class Reverted(Exception):  # noqa: N818 - reads as "the call reverted"
    def __init__(self, name: str, args: dict[str, Any]) -> None:
        super().__init__(f"{name}{args}")
        self.name = name
        self.args_ = args


def decode_revert(exc: BaseException) -> Reverted:
    data = getattr(exc, "data", None)
    raw: bytes | None = None
    if isinstance(data, str) and data.startswith("0x"):
        raw = bytes.fromhex(data[2:])
    else:
        for arg in exc.args:
            if isinstance(arg, bytes) and len(arg) >= 4:
                raw = arg
                break
            m = _BYTES_REPR.search(str(arg))
            if m:
                value = ast.literal_eval(m.group(0))
                if isinstance(value, bytes) and len(value) >= 4:
                    raw = value
                    break
            h = _HEX.search(str(arg))
            if h:
                raw = bytes.fromhex(h.group(0)[2:])
                break
    if raw is None or raw[:4] not in ERRORS:
        return Reverted("Unknown", {"exception": repr(exc)})
    name, names, types = ERRORS[raw[:4]]
    values = abi_decode(types, raw[4:])
    shown = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return Reverted(name, dict(zip(names, shown, strict=True)))


@dataclass
class Deployed:
    timelock: Contract
    token: Contract
    market: Contract


class V2Chain:
    """One in-process chain; accounts[0] is the platform key, the rest are users."""

    def __init__(self, w3: Web3 | None = None, accounts: list[LocalAccount] | None = None) -> None:
        """The in-process py-evm chain by default; or any JSON-RPC node `w3` whose funded `accounts` we hold."""
        self.tester: EthereumTester | None = None
        if w3 is None:
            backend = PyEVMBackend()
            self.tester = EthereumTester(backend)
            w3 = Web3(EthereumTesterProvider(self.tester))
            accounts = [Account.from_key(k.to_bytes()) for k in backend.account_keys]
        assert accounts is not None
        self.w3 = w3
        self.accounts: list[LocalAccount] = accounts
        self.platform = self.accounts[0]
        self.chain_id = int(self.w3.eth.chain_id)
        self._asset = 0
        self.c = self.deploy_v2()

    # ------------------------------------------------------------ transactions

    def deploy(self, name: str, *args: Any, sender: LocalAccount | None = None) -> Contract:
        art = artifact(name)
        factory = self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = self.send_data(sender or self.platform, None, factory.constructor(*args).data_in_transaction)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])

    def send_data(self, sender: LocalAccount, to: str | None, data: str, value: int = 0,
                  gas: int | None = None) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": sender.address, "data": data, "value": value}
        if to is not None:
            tx["to"] = to
        if gas is None:
            # One eth_call surfaces a revert with its reason (eth-tester's gas estimation would
            # execute the call ~20 times); the gas actually used is what the receipt reports.
            try:
                self.w3.eth.call(tx)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - the revert is what we report
                raise decode_revert(exc) from exc
            gas = GAS
        raw = self.sign(sender, to, data, value, gas)
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(raw)))
        if receipt["status"] != 1:
            raise Reverted("StatusZero", {"receipt": receipt})
        return receipt

    def sign(self, sender: LocalAccount, to: str | None, data: str, value: int, gas: int,
             nonce: int | None = None) -> bytes:
        base_fee = int(self.w3.eth.get_block("latest")["baseFeePerGas"])  # type: ignore[typeddict-item]
        tx: dict[str, Any] = {
            "type": 2, "chainId": self.chain_id, "value": value, "data": data, "gas": gas,
            "nonce": self.w3.eth.get_transaction_count(sender.address, "pending") if nonce is None else nonce,
            "maxPriorityFeePerGas": 10**9, "maxFeePerGas": 2 * base_fee + 10**9,
        }
        if to is not None:
            tx["to"] = to
        return bytes(sender.sign_transaction(tx).raw_transaction)

    def send(self, sender: LocalAccount, contract: Contract, fn: str, *args: Any, value: int = 0,
             gas: int | None = None) -> dict[str, Any]:
        return self.send_data(sender, contract.address, contract.encode_abi(fn, args=list(args)), value, gas)

    def call(self, contract: Contract, fn: str, *args: Any, sender: str | None = None, value: int = 0) -> Any:
        try:
            return contract.get_function_by_name(fn)(*args).call({"from": sender or self.platform.address,
                                                                   "value": value})
        except Exception as exc:  # noqa: BLE001
            raise decode_revert(exc) from exc

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])  # type: ignore[typeddict-item]

    def travel(self, seconds: int) -> None:
        """Move the head block's time forward by at least `seconds`."""
        target = self.now() + seconds
        if self.tester is not None:
            self.tester.time_travel(target)
            while self.now() < target:  # time_travel may land the head one second short
                self.tester.mine_blocks(1)
        else:  # a JSON-RPC development node (ganache, hardhat)
            self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def events(self, contract: Contract, receipt: dict[str, Any], name: str) -> list[dict[str, Any]]:
        return [dict(e["args"]) for e in contract.events[name]().process_receipt(receipt, errors=DISCARD)]

    # ------------------------------------------------------------ the v2 system

    def deploy_v2(self) -> Deployed:
        p = self.platform.address
        timelock = self.deploy("IPheronTimelock", TIMELOCK_DELAY, [p], [p], ZERO)
        token = self.deploy("IPAssetTokenV2", p, timelock.address)
        market = self.deploy("MarketplaceV2", token.address, timelock.address)
        d = Deployed(timelock, token, market)
        self.c = d
        self.govern(token, "setMarketplace", market.address)
        return d

    def schedule(self, target: Contract, fn: str, *args: Any, salt: bytes = ZERO32) -> tuple[str, str, bytes]:
        data = target.encode_abi(fn, args=list(args))
        self.send(self.platform, self.c.timelock, "schedule", target.address, 0, data, ZERO32, salt, TIMELOCK_DELAY)
        return target.address, data, salt

    def execute(self, op: tuple[str, str, bytes]) -> dict[str, Any]:
        target, data, salt = op
        return self.send(self.platform, self.c.timelock, "execute", target, 0, data, ZERO32, salt)

    def govern(self, target: Contract, fn: str, *args: Any) -> dict[str, Any]:
        """A wiring change the only way there is: schedule, wait the delay, execute."""
        op = self.schedule(target, fn, *args, salt=keccak(os.urandom(16)))
        self.travel(TIMELOCK_DELAY + 1)
        return self.execute(op)

    def mint(self, owner: str, creators: list[tuple[str, int]], royalty_bps: int = 1000) -> int:
        self._asset += 1
        asset = self._asset.to_bytes(16, "big")
        receipt = self.send(self.platform, self.c.token, "mint", owner, asset, f"ipfs://asset-{self._asset}",
                            [a for a, _ in creators], [s for _, s in creators], royalty_bps)
        return int(self.events(self.c.token, receipt, "AssetMinted")[0]["tokenId"])

    def order(self, seller: str, token_id: int, price: int, *, counter: int | None = None, salt: int | None = None,
              start: int | None = None, end: int | None = None) -> orders.Order:
        now = self.now()
        return orders.Order(
            token=self.c.token.address, token_id=token_id, seller=seller, price=price,
            counter=self.call(self.c.market, "counterOf", seller) if counter is None else counter,
            salt=int.from_bytes(os.urandom(32), "big") if salt is None else salt,
            start_time=now - 60 if start is None else start, end_time=now + 86_400 if end is None else end)

    def sign_order(self, signer: LocalAccount, order: orders.Order) -> bytes:
        """Sign the typed-data document exactly as a browser wallet would (eth_signTypedData_v4)."""
        document = orders.typed_data(order, self.chain_id, self.c.market.address)
        return bytes(signer.sign_message(encode_typed_data(full_message=document)).signature)

    def fulfill(self, buyer: LocalAccount, order: orders.Order, signature: bytes, value: int | None = None,
                recipient: str | None = None, gas: int | None = None) -> dict[str, Any]:
        value = order.price if value is None else value
        if recipient is None:
            return self.send(buyer, self.c.market, "fulfill", order.as_tuple(), signature, value=value, gas=gas)
        return self.send(buyer, self.c.market, "fulfillFor", order.as_tuple(), signature, recipient,
                         value=value, gas=gas)

    def pending(self, address: str) -> int:
        return int(self.call(self.c.market, "pendingWithdrawal", address))

    def owner_of(self, token_id: int) -> str:
        return str(self.call(self.c.token, "ownerOf", token_id))
