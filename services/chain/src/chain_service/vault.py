"""The StakingVault on one chain: its EIP-712 quotes (pure), deploy-or-locate at start, its view
calls (read in one executor hop each) and its call data, as ledger.py does for the marketplace.

Quotes: the staking service's quote key signs `StakeQuote` (domain "IPheronStakingVault" "1",
chain id, vault address); `quote_hash` equals the contract's `hashQuote`. The reward
arithmetic (`reservation`, `accrued`, `unstake_payout`) is the contract's, integer for integer,
so a preview answers exactly what the call will pay at a given block time.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_typing import ABIEvent, ChecksumAddress
from eth_utils import event_abi_to_log_topic, function_signature_to_4byte_selector, keccak, to_checksum_address
from ipheron_libs import typed_data as eip712_types
from ipheron_libs.errors import FailedPrecondition, InvalidArgument
from web3.contract import Contract

from chain_service import domain, orders
from chain_service.config import ChainSettings
from chain_service.contracts import Artifact, decode_revert, load_artifact, target_evm_version
from chain_service.domain import DecodedEvent
from chain_service.network import Network
from chain_service.repository import ChainRepository
from chain_service.txmanager import TransactionManager, TxRequest

log = logging.getLogger("ipheron.chain.vault")

DOMAIN_NAME = "IPheronStakingVault"
DOMAIN_VERSION = "1"
BPS = 10_000
YEAR_S = 365 * 86_400
MAX_DURATION_S = 100 * YEAR_S
MAX_QUOTE_JSON = 4096
MAX_APR_BPS = 2**32 - 1
MAX_TOKEN_ID = 2**64 - 1
QUOTE_FIELDS = ("staker", "tokenId", "amount", "aprBps", "duration", "expiry", "nonce")
STAKE_QUOTE_TYPE: list[dict[str, str]] = eip712_types.STAKE_QUOTE_TYPE
# getStake's tuple: staker, start, end, closed, tokenId, amount, aprBps, reward, claimed, nonce, quoteHash.
STAKE_TUPLE = "(address,uint64,uint64,bool,uint256,uint256,uint256,uint256,uint256,uint256,bytes32)"
# Gas offered for vault calls on the embedded chain instead of estimating (measured: a stake by
# a new staker ~314,000, the vault's very first stake ~365,000; claim ~80,000, unstake ~95,000,
# fund ~36,000; test_vault_service proves the bounds suffice; unused gas is not paid).
VAULT_GAS = {"stake": 450_000, "claim": 120_000, "unstake": 150_000, "fund": 80_000}


# ---------------------------------------------------------------- quotes (pure)


@dataclass(frozen=True)
class StakeQuote:
    staker: ChecksumAddress
    token_id: int
    amount: int
    apr_bps: int
    duration: int
    expiry: int
    nonce: int

    def message(self) -> dict[str, str]:
        """The EIP-712 message (field names as the Solidity struct; numbers as decimal strings)."""
        return {"staker": to_checksum_address(self.staker), "tokenId": str(self.token_id), "amount": str(self.amount),
                "aprBps": str(self.apr_bps), "duration": str(self.duration), "expiry": str(self.expiry),
                "nonce": str(self.nonce)}

    def as_tuple(self) -> tuple[str, int, int, int, int, int, int]:
        return (to_checksum_address(self.staker), self.token_id, self.amount, self.apr_bps, self.duration,
                self.expiry, self.nonce)


def vault_domain(chain_id: int, vault: str) -> dict[str, str | int]:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id,
            "verifyingContract": to_checksum_address(vault)}


def typed_data(quote: StakeQuote, chain_id: int, vault: str) -> dict[str, Any]:
    """The document the quote key signs, in `eth_signTypedData_v4` form."""
    return {
        "types": {"EIP712Domain": [dict(f) for f in orders.EIP712_DOMAIN_TYPE],
                  "StakeQuote": [dict(f) for f in STAKE_QUOTE_TYPE]},
        "primaryType": "StakeQuote",
        "domain": vault_domain(chain_id, vault),
        "message": quote.message(),
    }


def quote_hash(quote: StakeQuote, chain_id: int, vault: str) -> bytes:
    """The quote's EIP-712 digest (= StakingVault.hashQuote)."""
    separator = orders.domain_separator(vault_domain(chain_id, vault))
    return keccak(b"\x19\x01" + separator + orders.hash_struct("StakeQuote", quote.message(),
                                                               {"StakeQuote": STAKE_QUOTE_TYPE}))


def _quote_int(message: Mapping[str, object], name: str) -> int:
    value = message[name]
    if isinstance(value, bool):
        raise InvalidArgument(f"quote.{name} must be a whole number", field=f"quote.{name}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        number = int(value)
    else:
        raise InvalidArgument(f"quote.{name} must be a whole number (decimal string or integer)",
                              field=f"quote.{name}")
    if not 0 <= number <= domain.UINT256_MAX:
        raise InvalidArgument(f"quote.{name} is out of the uint256 range", field=f"quote.{name}")
    return number


def parse_quote(quote_json: str) -> StakeQuote:
    """A quote's EIP-712 message parsed strictly: a JSON object with exactly the seven fields,
    the staker a valid address, numbers uint256, amount > 0, 0 < duration <= 100 years.
    Every refusal is INVALID_ARGUMENT naming the field."""
    message = domain.parse_message(quote_json, "quote", QUOTE_FIELDS, MAX_QUOTE_JSON)
    staker_raw = message["staker"]
    if not isinstance(staker_raw, str):
        raise InvalidArgument("quote.staker is not an address", field="quote.staker")
    staker = domain.parse_address(staker_raw, "quote.staker")
    nums = {f: _quote_int(message, f) for f in QUOTE_FIELDS if f != "staker"}
    if nums["amount"] == 0:
        raise InvalidArgument("quote.amount must be greater than zero", field="quote.amount")
    if not 0 < nums["duration"] <= MAX_DURATION_S:
        raise InvalidArgument(f"quote.duration must be between 1 and {MAX_DURATION_S} seconds",
                              field="quote.duration")
    # The wire carries apr_bps as uint32 and token ids as uint64 (VaultStake).
    if nums["aprBps"] > MAX_APR_BPS:
        raise InvalidArgument(f"quote.aprBps must be at most {MAX_APR_BPS}", field="quote.aprBps")
    if nums["tokenId"] > MAX_TOKEN_ID:
        raise InvalidArgument(f"quote.tokenId must be at most {MAX_TOKEN_ID}", field="quote.tokenId")
    return StakeQuote(staker=staker, token_id=nums["tokenId"], amount=nums["amount"], apr_bps=nums["aprBps"],
                      duration=nums["duration"], expiry=nums["expiry"], nonce=nums["nonce"])


# ---------------------------------------------------------------- the contract's arithmetic (pure)


def reservation(amount: int, apr_bps: int, duration: int) -> int:
    """ceil(amount × aprBps × duration / (10,000 × 365 days)): what stake() reserves (= the reward)."""
    numerator = amount * apr_bps * duration
    return 0 if numerator == 0 else (numerator - 1) // (BPS * YEAR_S) + 1


def accrued(reward: int, start: int, end: int, at: int) -> int:
    """floor(reward × min(at − start, duration) / duration)."""
    duration = end - start
    elapsed = duration if at >= end else max(at - start, 0)
    return reward * elapsed // duration


def penalty(amount: int, penalty_bps: int) -> int:
    return amount * penalty_bps // BPS


@dataclass(frozen=True)
class VaultState:
    """The vault's figures at one block."""

    address: ChecksumAddress
    quote_signer: ChecksumAddress
    penalty_bps: int
    pool_free: int
    pool_reserved: int
    total_principal: int
    balance: int
    stake_count: int
    block_number: int
    block_time: int


@dataclass(frozen=True)
class StakeOnChain:
    """One stake as the vault holds it, with what has accrued at `at` (the head block's time)."""

    stake_id: int
    staker: ChecksumAddress
    start: int
    end: int
    closed: bool
    token_id: int
    amount: int
    apr_bps: int
    reward: int
    claimed: int
    nonce: int
    quote_hash: bytes
    accrued: int
    at: int


@dataclass(frozen=True)
class ActionPreview:
    """What claim/unstake pays if mined at `at`."""

    payout: int
    early: bool
    penalty: int


def preview(stake: StakeOnChain, action: str, penalty_bps: int, at: int) -> ActionPreview:
    """The contract's claim/unstake arithmetic at block time `at`; refuses what would revert
    (closed stake, nothing to claim) with FAILED_PRECONDITION."""
    if stake.closed:
        raise FailedPrecondition(f"stake {stake.stake_id} is closed")
    if action == "claim":
        unclaimed = accrued(stake.reward, stake.start, stake.end, at) - stake.claimed
        if unclaimed <= 0:
            raise FailedPrecondition(f"stake {stake.stake_id} has nothing accrued unclaimed yet")
        return ActionPreview(unclaimed, False, 0)
    early = at < stake.end
    earned = accrued(stake.reward, stake.start, stake.end, at) if early else stake.reward
    cut = penalty(stake.amount, penalty_bps) if early else 0
    return ActionPreview(stake.amount + earned - stake.claimed - cut, early, cut)


@dataclass(frozen=True)
class QuoteReading:
    """What PrepareStake checks a quote against, read at the head: the vault's quote signer,
    whether the staker used the nonce, the free pool, and the earliest time of the next block."""

    quote_signer: ChecksumAddress
    nonce_used: bool
    pool_free: int
    next_block_time: int


def stake_decision(quote: StakeQuote, signature_valid: bool, reading: QuoteReading) -> None:
    """Refuse (FAILED_PRECONDITION, naming why) a quote stake() would refuse in the next block:
    not signed by the vault's quote signer, expired, or its nonce already used."""
    if not signature_valid:
        raise FailedPrecondition(f"the quote is not signed by the vault's quote signer ({reading.quote_signer})")
    if reading.next_block_time > quote.expiry:
        raise FailedPrecondition(f"the quote expired at {quote.expiry} (unix time; the next block is at "
                                 f"{reading.next_block_time} or later)")
    if reading.nonce_used:
        raise FailedPrecondition(f"quote nonce {quote.nonce} of {quote.staker} was already used")


MAX_FUND_KEY = 128


def parse_fund_key(value: str) -> str:
    """FundVault's idempotency key: 1..128 printable characters (stored under a "vault_fund:" prefix)."""
    key = (value or "").strip()
    if not key or len(key) > MAX_FUND_KEY or not key.isprintable():
        raise InvalidArgument(f"idempotency_key is required (1..{MAX_FUND_KEY} printable characters)",
                              field="idempotency_key")
    return f"vault_fund:{key}"


def fund_request_hash(amount: int) -> str:
    return hashlib.sha256(f"vault_fund|{amount}".encode()).hexdigest()


def fund_decision(env: str) -> None:
    """The platform signer funds the pool outside production only (there an operator funds
    it from its own wallet: PrepareFundVault)."""
    if env == "production":
        raise FailedPrecondition("the platform signer does not fund the vault in production: "
                                 "fund it from a wallet (PrepareFundVault)")


# ---------------------------------------------------------------- the contract on chain


class Vault:
    """The StakingVault bound on one network; build it with `Vault.deploy_or_locate`."""

    def __init__(self, network: Network, contract: Contract, artifact: Artifact, penalty_bps: int) -> None:
        self.network = network
        self.contract = contract
        self.artifact = artifact
        self.penalty_bps = penalty_bps
        self._separator: bytes | None = None
        self._events: dict[bytes, ABIEvent] = {
            event_abi_to_log_topic(cast(ABIEvent, item)): cast(ABIEvent, item)
            for item in artifact.abi if item.get("type") == "event"}

    @property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.contract.address)

    @classmethod
    async def deploy_or_locate(cls, network: Network, repo: ChainRepository, tm: TransactionManager,
                               settings: ChainSettings, chain_id: int, timelock: str) -> Vault:
        """The configured CHAIN_VAULT_ADDRESS, else a stored deployment of the same code and
        constructor arguments that still has code, else deploy (owner = the timelock); on the
        embedded chain outside production a fresh deployment's pool is funded from the platform
        signer with CHAIN_VAULT_INITIAL_POOL_WEI. Then the start-up view-call check."""
        from chain_service.ledger import _locate_or_deploy, has_code

        art = load_artifact("StakingVault")
        signer = domain.parse_address(settings.effective_vault_quote_signer, "CHAIN_VAULT_QUOTE_SIGNER")
        if settings.vault_address:
            address = domain.parse_address(settings.vault_address, "CHAIN_VAULT_ADDRESS")
            if not await has_code(network, address):
                raise FailedPrecondition(f"CHAIN_VAULT_ADDRESS {address} holds no code on this chain")
        else:
            identity = domain.deployment_identity(art.code_hash, timelock, signer, str(settings.vault_penalty_bps))
            address = await _locate_or_deploy(network, repo, tm, chain_id, art, identity,
                                              [timelock, signer, settings.vault_penalty_bps])
        contract = network.w3.eth.contract(address=address, abi=art.abi)
        vault = cls(network, contract, art, settings.vault_penalty_bps)
        penalty_bps = await vault.check_code(timelock, signer)
        vault.penalty_bps = penalty_bps
        initial = settings.effective_vault_initial_pool_wei
        if initial > 0 and not settings.vault_address:
            state = await vault.state()
            if state.pool_free + state.pool_reserved == 0 and state.stake_count == 0:
                outcome = await tm.send(TxRequest(type="vault_fund", to=address, data=vault.fund_data(),
                                                  value=initial, counterparty=address, amount_wei=initial,
                                                  details={"call": "vault.fund() at deployment"}),
                                        gas=VAULT_GAS["fund"])
                if not outcome.succeeded:
                    raise FailedPrecondition(f"funding the vault's pool at deployment failed: {outcome.revert}")
        log.info("StakingVault on chain %d at %s (quote signer %s, penalty %d bps)", chain_id, address, signer,
                 penalty_bps)
        return vault

    async def check_code(self, timelock: str, expected_signer: str | None = None) -> int:
        """Start-up check that the node runs the vault: owner(), quoteSigner(), penaltyBps(); the
        penalty it answers. The owner must be the platform's timelock."""
        evm = target_evm_version()

        def read() -> tuple[str, str, int]:
            (owner,) = self.view("owner()", [], ["address"])
            (signer,) = self.view("quoteSigner()", [], ["address"])
            (bps,) = self.view("penaltyBps()", [], ["uint16"])
            return to_checksum_address(owner), to_checksum_address(signer), int(bps)

        try:
            owner, signer, bps = await self.network.run(read)
        except Exception as exc:  # noqa: BLE001 - any failure means the node cannot run our code
            raise domain.code_check_error("StakingVault", self.address, "owner()/quoteSigner()/penaltyBps()",
                                          str(exc), evm) from exc
        if owner != to_checksum_address(timelock):
            raise FailedPrecondition(f"StakingVault at {self.address} is owned by {owner}, not the platform's "
                                     f"timelock {timelock}")
        if expected_signer is not None and signer != expected_signer:
            # Rotated through the timelock (setQuoteSigner): the staking service must sign with the new key.
            log.warning("StakingVault at %s accepts quotes of %s, not of CHAIN_VAULT_QUOTE_SIGNER %s", self.address,
                        signer, expected_signer)
        return bps

    # --- reads (call on the chain thread) ---------------------------------------------
    def view(self, signature: str, args: Sequence[Any], out_types: Sequence[str],
             block: int | str = "latest") -> tuple[Any, ...]:
        in_types = signature[signature.index("(") + 1:-1]
        data = function_signature_to_4byte_selector(signature) + (
            abi_encode(_split(in_types), list(args)) if in_types else b"")
        return tuple(abi_decode(list(out_types), self.network.call_raw(self.address, data, block)))

    def _state(self, block: int | str = "latest") -> VaultState:
        w3 = self.network.w3
        number = int(w3.eth.block_number) if block == "latest" else int(block)
        at: int | str = number if block != "latest" else "latest"
        (signer,) = self.view("quoteSigner()", [], ["address"], at)
        (free,) = self.view("poolFree()", [], ["uint256"], at)
        (reserved,) = self.view("poolReserved()", [], ["uint256"], at)
        (principal,) = self.view("totalPrincipal()", [], ["uint256"], at)
        (count,) = self.view("stakeCount()", [], ["uint256"], at)
        balance = int(w3.eth.get_balance(self.address, number))
        timestamp = int(w3.eth.get_block(number)["timestamp"])
        return VaultState(self.address, to_checksum_address(signer), self.penalty_bps, int(free), int(reserved),
                          int(principal), balance, int(count), number, timestamp)

    async def state(self, block: int | None = None) -> VaultState:
        return await self.network.run(self._state, "latest" if block is None else block)

    def _stake(self, stake_id: int, block: int | str = "latest") -> StakeOnChain | None:
        try:
            (raw,) = self.view("getStake(uint256)", [stake_id], [STAKE_TUPLE], block)
        except Exception as exc:  # noqa: BLE001 - UnknownStake is None; anything else is raised
            rev = decode_revert(exc)
            if rev is not None and rev.name == "UnknownStake":
                return None
            raise
        at = self.network.head_timestamp() if block == "latest" else \
            int(self.network.w3.eth.get_block(int(block))["timestamp"])
        staker, start, end, closed, token_id, amount, apr, reward, claimed, nonce, qhash = raw
        earned = int(claimed) if closed else accrued(int(reward), int(start), int(end), at)
        return StakeOnChain(stake_id, to_checksum_address(staker), int(start), int(end), bool(closed), int(token_id),
                            int(amount), int(apr), int(reward), int(claimed), int(nonce), bytes(qhash), earned, at)

    async def stake(self, stake_id: int) -> StakeOnChain | None:
        return await self.network.run(self._stake, stake_id)

    async def stakes_at(self, stake_ids: Sequence[int], block: int) -> dict[int, StakeOnChain | None]:
        def read() -> dict[int, StakeOnChain | None]:
            return {i: self._stake(i, block) for i in stake_ids}

        return await self.network.run(read)

    async def quote_reading(self, quote: StakeQuote) -> QuoteReading:
        """quoteSigner, nonceUsed, poolFree and the next block's earliest time, in one executor hop."""
        def read() -> QuoteReading:
            (signer,) = self.view("quoteSigner()", [], ["address"])
            (used,) = self.view("nonceUsed(address,uint256)", [quote.staker, quote.nonce], ["bool"])
            (free,) = self.view("poolFree()", [], ["uint256"])
            head = self.network.head_timestamp()
            # The next block is stamped no earlier than the head + 1 s, nor before the clock.
            return QuoteReading(to_checksum_address(signer), bool(used), int(free), max(head + 1, int(time.time())))

        return await self.network.run(read)

    def decode_events(self, receipt: Mapping[str, Any]) -> tuple[DecodedEvent, ...]:
        """The vault's events in a receipt (other contracts' logs are skipped)."""
        from web3._utils.events import get_event_data

        out: list[DecodedEvent] = []
        for entry in receipt.get("logs", []):
            if to_checksum_address(entry["address"]) != self.address or not entry["topics"]:
                continue
            found = self._events.get(bytes(entry["topics"][0]))
            if found is None:
                continue
            try:
                data = get_event_data(self.network.w3.codec, found, entry)
            except Exception:  # noqa: BLE001, S112 - same topic, other shape: skip rather than fail a read
                continue
            out.append(DecodedEvent(str(found["name"]), self.address, dict(data["args"]), int(entry["logIndex"])))
        return tuple(out)

    async def nonce_used(self, staker: str, nonce: int) -> bool:
        return bool((await self.network.run(self.view, "nonceUsed(address,uint256)",
                                            [to_checksum_address(staker), nonce], ["bool"]))[0])

    def separator(self, chain_id: int) -> bytes:
        if self._separator is None:
            self._separator = orders.domain_separator(vault_domain(chain_id, self.address))
        return self._separator

    def quote_hash(self, quote: StakeQuote, chain_id: int) -> bytes:
        return keccak(b"\x19\x01" + self.separator(chain_id) + orders.hash_struct(
            "StakeQuote", quote.message(), {"StakeQuote": STAKE_QUOTE_TYPE}))

    # --- call data --------------------------------------------------------------------
    def stake_data(self, quote: StakeQuote, signature: bytes) -> str:
        return self.contract.encode_abi("stake", args=[quote.as_tuple(), signature])

    def claim_data(self, stake_id: int) -> str:
        return self.contract.encode_abi("claim", args=[stake_id])

    def unstake_data(self, stake_id: int) -> str:
        return self.contract.encode_abi("unstake", args=[stake_id])

    def fund_data(self) -> str:
        return self.contract.encode_abi("fund", args=[])


def _split(types: str) -> list[str]:
    """Split "a,(b,c),d" at its top-level commas."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(types):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(types[start:i])
            start = i + 1
    out.append(types[start:])
    return out
