// Test-only JSON-RPC development node for the chain service (`hardhat node`).
// Cancun, like the contracts' compile target (OpenZeppelin 5 uses MCOPY).
module.exports = { networks: { hardhat: { chainId: 31337, hardfork: "cancun" } } };
