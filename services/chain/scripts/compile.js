#!/usr/bin/env node
/*
 * Compile the chain service's Solidity contracts with the npm `solc` package (solcjs) and
 * write one JSON artifact per contract (abi, bytecode, deployedBytecode, compiler settings).
 *
 *   node services/chain/scripts/compile.js [--out DIR]
 *
 * Default output: services/chain/src/chain_service/contracts/build/ (committed). The test
 * suite recompiles into a temporary directory and fails when the committed files differ.
 * Source names are relative (no absolute paths), so the output is identical on every machine.
 */
"use strict";

const fs = require("fs");
const path = require("path");

const serviceDir = path.resolve(__dirname, "..");
const repoRoot = path.resolve(serviceDir, "..", "..");
const contractsDir = path.join(serviceDir, "src", "chain_service", "contracts");
const nodeModules = path.join(repoRoot, "node_modules");
const solc = require(path.join(nodeModules, "solc"));

// Cancun: OpenZeppelin 5.x uses MCOPY. py-evm (Prague), anvil, hardhat 3 and current public
// chains run it.
const EVM_VERSION = "cancun";

function parseArgs(argv) {
  let out = path.join(contractsDir, "build");
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out") out = path.resolve(argv[++i]);
  }
  return { out };
}

function listSources(dir, prefix) {
  const sources = {};
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (entry.name === "build") continue;
      Object.assign(sources, listSources(path.join(dir, entry.name), rel));
    } else if (entry.name.endsWith(".sol")) {
      sources[rel] = { content: fs.readFileSync(path.join(dir, entry.name), "utf8") };
    }
  }
  return sources;
}

function findImports(importPath) {
  const candidates = [path.join(nodeModules, importPath), path.join(contractsDir, importPath)];
  for (const file of candidates) {
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `import not found: ${importPath}` };
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  const settings = {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: EVM_VERSION,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  };
  const input = { language: "Solidity", sources: listSources(contractsDir, ""), settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage}\n`);
  if (errors.length > 0) process.exit(1);

  fs.mkdirSync(out, { recursive: true });
  const written = [];
  for (const sourceName of Object.keys(input.sources)) {
    for (const [name, contract] of Object.entries(output.contracts[sourceName] || {})) {
      const artifact = {
        contractName: name,
        sourceName,
        compiler: { version: solc.version(), evmVersion: EVM_VERSION, optimizer: settings.optimizer },
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
      };
      fs.writeFileSync(path.join(out, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
      written.push(name);
    }
  }
  process.stderr.write(`compiled ${written.join(", ")} into ${path.relative(process.cwd(), out) || "."}\n`);
}

main();
