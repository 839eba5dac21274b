"""Helpers for the vault tests through ChainService: quotes signed by the development quote key
(as the staking service signs them), stakes and actions prepared by the service and signed by
the staker's own wallet (ipheron_libs.wallet), as a browser wallet would."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from chain_helpers import mined_receipt
from chain_service import vault
from chain_service.service import ChainService
from eth_account import Account
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_KEY
from ipheron_libs.wallet import Wallet

ETH = 10**18
DAY = 86_400
_nonces = itertools.count(int(time.time() * 1000))


def sign_quote(chain: ChainService, staker: str, amount: int, apr_bps: int = 1000, duration: int = 30 * DAY, *,
               expiry: int | None = None, nonce: int | None = None,
               key: str = DEV_QUOTE_SIGNER_KEY) -> tuple[vault.StakeQuote, str, str]:
    """(quote, quote_json, signature) signed with `key` (the development quote key by default)."""
    quote = vault.StakeQuote(staker=staker, token_id=7, amount=amount, apr_bps=apr_bps, duration=duration,
                             expiry=int(time.time()) + 3600 if expiry is None else expiry,
                             nonce=next(_nonces) if nonce is None else nonce)
    document = vault.typed_data(quote, chain.chain_id, chain.vault.address)
    signature = "0x" + bytes(Account.from_key(key).sign_typed_data(full_message=document).signature).hex()
    return quote, json.dumps(quote.message()), signature


async def funded_wallet(chain: ChainService, amount: int = 5 * ETH) -> Wallet:
    wallet = Wallet.create()
    await chain.faucet(wallet.address, str(amount))
    return wallet


async def sign_and_submit(chain: ChainService, wallet: Wallet, prepared: Any, type_: str) -> dict[str, Any]:
    """The wallet signs the prepared call; it is handed in and mined. Its receipt."""
    raw = wallet.sign_transaction(prepared.tx.as_json_rpc())
    submitted = await chain.submit_raw_transaction(raw, prepared.tx, type_)
    return await mined_receipt(chain, submitted.tx.record.tx_hash)


async def stake_as(chain: ChainService, wallet: Wallet, amount: int, apr_bps: int = 1000,
                   duration: int = 30 * DAY) -> tuple[int, dict[str, Any]]:
    """Open a stake through PrepareStake with the wallet's own ether: (stake id, receipt)."""
    _, quote_json, signature = sign_quote(chain, wallet.address, amount, apr_bps, duration)
    prepared = await chain.prepare_stake(quote_json, signature, wallet.address)
    assert prepared.pool_can_cover and prepared.call.funds.can_pay
    receipt = await sign_and_submit(chain, wallet, prepared.call, "stake")
    assert int(receipt["status"]) == 1, receipt
    opened = [e for e in chain.vault.decode_events(receipt) if e.name == "StakeOpened"]
    return opened[0].int_arg("stakeId"), receipt


# ---------------------------------------------------------------- the contract alone (no ChainService)

class VaultChain:
    """V2Chain (timelock, token, marketplace as production wires them) plus a StakingVault owned
    by the timelock, trusting the development quote key, penalty 1000 bps. Every transaction is
    signed by its sender's own key; reverts surface as `Reverted(name, args)`."""

    def __init__(self, penalty_bps: int = 1000) -> None:
        from v2_helpers import V2Chain

        self.c = V2Chain()
        c = self.c
        self.w3, self.accounts, self.platform, self.tester = c.w3, c.accounts, c.platform, c.tester
        self.chain_id = c.chain_id
        self.vault = c.deploy("StakingVault", c.c.timelock.address, Account.from_key(DEV_QUOTE_SIGNER_KEY).address,
                              penalty_bps)
        self._nonce = itertools.count(1)

    # --- quotes and calls ---------------------------------------------------------------
    def quote(self, staker: str, amount: int, apr_bps: int, duration: int, *, expiry: int | None = None,
              nonce: int | None = None, key: str = DEV_QUOTE_SIGNER_KEY) -> tuple[vault.StakeQuote, bytes]:
        q = vault.StakeQuote(staker=staker, token_id=3, amount=amount, apr_bps=apr_bps, duration=duration,
                             expiry=self.c.now() + 3600 if expiry is None else expiry,
                             nonce=next(self._nonce) if nonce is None else nonce)
        document = vault.typed_data(q, self.chain_id, self.vault.address)
        return q, bytes(Account.from_key(key).sign_typed_data(full_message=document).signature)

    def send(self, sender: Any, fn: str, *args: Any, value: int = 0, at: int | None = None,
             gas: int | None = None) -> dict[str, Any]:
        """Call the vault as `sender`. With `at`, the transaction's block is stamped exactly `at`
        (and sent with a fixed gas: the node's pre-check would run at the head's time)."""
        if at is not None:
            assert self.tester is not None
            self.tester.time_travel(at)
            gas = gas or 500_000
        return self.c.send(sender, self.vault, fn, *args, value=value, gas=gas)

    def stake(self, sender: Any, q: vault.StakeQuote, sig: bytes, *, value: int | None = None,
              at: int | None = None) -> tuple[int, dict[str, Any]]:
        receipt = self.send(sender, "stake", q.as_tuple(), sig, value=q.amount if value is None else value, at=at)
        (opened,) = self.events(receipt, "StakeOpened")
        return int(opened["stakeId"]), receipt

    def call(self, fn: str, *args: Any, sender: str | None = None, value: int = 0) -> Any:
        return self.c.call(self.vault, fn, *args, sender=sender, value=value)

    def events(self, receipt: dict[str, Any], name: str) -> list[dict[str, Any]]:
        return self.c.events(self.vault, receipt, name)

    def figures(self) -> tuple[int, int, int, int]:
        """(balance, totalPrincipal, poolFree, poolReserved)."""
        return (self.c.balance(self.vault.address), int(self.call("totalPrincipal")), int(self.call("poolFree")),
                int(self.call("poolReserved")))

    def get_stake(self, stake_id: int) -> dict[str, Any]:
        names = ("staker", "start", "end", "closed", "tokenId", "amount", "aprBps", "reward", "claimed", "nonce",
                 "quoteHash")
        return dict(zip(names, self.call("getStake", stake_id), strict=True))

    def fee(self, receipt: dict[str, Any]) -> int:
        return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])

    def block_time(self, receipt: dict[str, Any]) -> int:
        return int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
