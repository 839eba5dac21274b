"""Compiled contract artifacts (committed under contracts/build) and revert decoding (into `domain.Revert`).

Reverts surface differently per provider (eth-tester puts the raw bytes in a message,
JSON-RPC nodes in `data`); `decode_revert` turns any of them into the custom error's name
and arguments, so callers can answer with a clear reason.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from chain_service.domain import Revert

BUILD_DIR = Path(__file__).parent / "contracts" / "build"
CONTRACT_NAMES = ("IPheronTimelock", "IPAssetTokenV2", "MarketplaceV2")


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    # The EVM fork the code was compiled for (the compile script's EVM_VERSION).
    evm_version: str = "unknown"

    @property
    def code_hash(self) -> str:
        """Identifies the compiled code, so a changed contract is redeployed, not reused."""
        return hashlib.sha256(self.bytecode.encode()).hexdigest()


@cache
def load_artifact(name: str) -> Artifact:
    """Read a compiled contract from the build directory."""
    data = json.loads((BUILD_DIR / f"{name}.json").read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"],
                    evm_version=str(data.get("compiler", {}).get("evmVersion", "unknown")))


def target_evm_version() -> str:
    """The EVM fork the platform's contracts were compiled for."""
    return load_artifact("IPAssetToken").evm_version


def _type_of(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_type_of(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["reason"], ["string"]),
        bytes.fromhex("4e487b71"): ("Panic", ["code"], ["uint256"]),
    }
    for path in sorted(BUILD_DIR.glob("*.json")):
        for item in json.loads(path.read_text())["abi"]:
            if item.get("type") != "error":
                continue
            types = [_type_of(p) for p in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], [p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"])], types)
    return table


_BYTES_REPR = re.compile(r"b(['\"]).*\1", re.DOTALL)
_HEX = re.compile(r"0x[0-9a-fA-F]{8,}")


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by a provider exception, when there are any."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        # ganache 7 puts the revert bytes in "result", hardhat/geth/anvil in "data".
        data = data.get("data") if data.get("data") not in (None, "0x") else data.get("result")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return bytes.fromhex(data[2:])
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, bytes | bytearray) and len(arg) >= 4:
            return bytes(arg)
        if isinstance(arg, str):
            m = _BYTES_REPR.search(arg)
            if m:
                try:
                    value = ast.literal_eval(m.group(0))
                except (ValueError, SyntaxError):
                    value = None
                if isinstance(value, bytes) and len(value) >= 4:
                    return value
            h = _HEX.search(arg)
            if h:
                return bytes.fromhex(h.group(0)[2:])
        if isinstance(arg, dict):
            for key in ("data", "result"):
                if isinstance(arg.get(key), str) and len(arg[key]) >= 10:
                    return revert_data(type("E", (Exception,), {})(arg[key]))
    return None


def decode_revert(exc: BaseException) -> Revert | None:
    """Decode a provider's revert exception into the contract's error, or None."""
    raw = revert_data(exc)
    if raw is None:
        return None
    entry = _error_table().get(raw[:4])
    if entry is None:
        return Revert(name="UnknownError", args={"data": raw})
    name, names, types = entry
    try:
        values = abi_decode(types, raw[4:])
    except Exception:  # noqa: BLE001 - malformed revert data is reported, not raised
        return Revert(name=name, args={})
    shown = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    return Revert(name=name, args=dict(zip(names, shown, strict=True)))
