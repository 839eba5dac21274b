"""EIP-712 type lists that two services must spell identically: the chain service (which checks
and hashes them) and the staking service (which signs StakeQuotes). One definition, so a field
added to the contract's struct cannot drift between the signer and the verifier."""

from __future__ import annotations

EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
# StakingVault's `StakeQuote(address staker,uint256 tokenId,uint256 amount,uint256 aprBps,
# uint256 duration,uint256 expiry,uint256 nonce)`.
STAKE_QUOTE_TYPE: list[dict[str, str]] = [
    {"name": "staker", "type": "address"},
    {"name": "tokenId", "type": "uint256"},
    {"name": "amount", "type": "uint256"},
    {"name": "aprBps", "type": "uint256"},
    {"name": "duration", "type": "uint256"},
    {"name": "expiry", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]
