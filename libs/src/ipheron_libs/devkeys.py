"""Well-known development keys shared by two services, in one place.

The staking service signs stake quotes with its quote key (STAKING_QUOTE_SIGNER_KEY); the
chain service deploys the StakingVault trusting that key's address
(CHAIN_VAULT_QUOTE_SIGNER). In development and tests both default to this key, so the
two agree without configuration; production refuses it (each Settings class checks).
Nothing signed with it is worth anything: the key is public.
"""

from __future__ import annotations

# A fixed small scalar, like the chain signer's dev key (0x…01): obviously not a secret.
DEV_QUOTE_SIGNER_KEY = "0x" + "00" * 31 + "02"
# Its address (eth-account: Account.from_key(DEV_QUOTE_SIGNER_KEY).address).
DEV_QUOTE_SIGNER_ADDRESS = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
