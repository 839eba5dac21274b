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
