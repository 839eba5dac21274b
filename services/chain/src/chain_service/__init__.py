"""IPheron chain service: the only component that talks to the blockchain."""

import os

# py-evm hashes every trie node with keccak. eth-hash's automatic choice is pycryptodome (first on
# its list), ~4.5 µs a call here against ~0.9 µs for pysha3's C extension; with the deferred block
# tries (network.py) this halved an embedded fulfill's CPU (28.7 → 14.8 ms, bench/RESULTS.md).
# Set before the first hash: eth-hash picks its backend on first use.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
