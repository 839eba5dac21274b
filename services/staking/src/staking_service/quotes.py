"""The quote signer: EIP-712 StakeQuote documents signed with the staking service's quote key.

The vault (`StakingVault.stake`) accepts a stake only with a quote this key signed over its
domain ("IPheronStakingVault", "1", chain id, vault address), so the APR computed here is
fixed on chain. The document is the eth_signTypedData_v4 form, numbers as decimal strings;
its digest is what `StakingVault.hashQuote` answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address
from ipheron_libs import typed_data as eip712_types

from staking_service.domain import Quote, SignedQuote, VaultInfo, quote_message, unix

QUOTE_TYPES: dict[str, list[dict[str, str]]] = {"EIP712Domain": eip712_types.EIP712_DOMAIN_TYPE,
                                                 "StakeQuote": eip712_types.STAKE_QUOTE_TYPE}


class QuoteSigner:
    """Signs StakeQuotes; the key never leaves this object (and is never logged)."""

    def __init__(self, private_key: str) -> None:
        self._account = Account.from_key(private_key)

    @property
    def address(self) -> str:
        return str(self._account.address)

    def typed_data(self, vault: VaultInfo, message: dict[str, str]) -> dict[str, Any]:
        return {"types": QUOTE_TYPES, "primaryType": "StakeQuote",
                "domain": {"name": vault.domain_name, "version": vault.domain_version,
                           "chainId": str(vault.chain_id), "verifyingContract": vault.address},
                "message": message}

    def sign(self, vault: VaultInfo, *, staker: str, token_id: int, q: Quote, expires_at: datetime,
             nonce: int) -> SignedQuote:
        """The quote for `staker` signed over the vault's domain, with its digest."""
        message = quote_message(to_checksum_address(staker), token_id, q, unix(expires_at), nonce)
        document = self.typed_data(vault, message)
        signed = self._account.sign_typed_data(full_message=document)
        return SignedQuote(
            message=message, typed_data=document, signature="0x" + bytes(signed.signature).hex(),
            quote_hash="0x" + bytes(signed.message_hash).hex(), amount_wei=q.amount_wei, apr_bps=q.apr_bps,
            duration_seconds=q.duration_seconds, expires_at=expires_at, token_id=token_id,
            reservation_wei=q.reservation_wei, quote_signer=self.address, vault_address=vault.address)
