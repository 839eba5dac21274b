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

/*
 * EVM target: Shanghai, the widest-supported target our contracts compile for.
 *
 * Cancun bytecode (MCOPY, which solc emits for every memory copy when targeting Cancun) fails
 * with "invalid opcode" on pre-Cancun nodes such as ganache 7.9, so the contracts are compiled
 * for Shanghai: PUSH0 is the newest opcode used, which py-evm, hardhat, anvil, ganache >= 7.8
 * and every public chain run. Paris would only additionally drop PUSH0, which nothing we
 * target lacks. Nothing in our contracts needs a newer opcode: ReentrancyGuard uses ordinary
 * storage (not ReentrancyGuardTransient / TSTORE).
 *
 * OpenZeppelin 5.7 has inline-assembly `mcopy` in a few files. Our imports reach exactly one:
 * utils/Bytes.sol, imported by utils/Strings.sol (ERC721's tokenURI helpers), where only
 * `Bytes.equal` is used — none of its mcopy functions survive into our bytecode. So that solc
 * accepts the file for a pre-Cancun target, `findImports` serves OpenZeppelin sources with each
 * `mcopy(dst, src, len)` statement rewritten to a byte-wise Yul memmove with the same result
 * (exactly `len` bytes, overlap-safe, still `pure`). The rewrite fails loudly on any `mcopy` it
 * cannot parse. SignatureChecker (whose ERC-1271 path WOULD run the rewritten
 * copy) is deliberately not imported: MarketplaceV2 verifies signatures with plain Solidity
 * (ECDSA.tryRecover + an IERC1271 staticcall), the implementation OpenZeppelin 5.0 shipped.
 */
const EVM_VERSION = "shanghai";
const PRE_CANCUN = ["homestead", "tangerineWhistle", "spuriousDragon", "byzantium", "constantinople",
  "petersburg", "istanbul", "berlin", "london", "paris", "shanghai"].includes(EVM_VERSION);

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

/** Split "a, f(b, c), d" at its top-level commas. */
function splitArgs(text) {
  const args = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  args.push(text.slice(start).trim());
  return args;
}

/** Rewrite each `mcopy(dst, src, len)` statement to an identity-precompile copy (see EVM target). */
function withoutMcopy(importPath, contents) {
  const rewritten = contents.replace(/^(\s*)mcopy\((.*)\)\s*$/gm, (line, indent, inner) => {
    const args = splitArgs(inner);
    if (args.length !== 3) throw new Error(`${importPath}: cannot rewrite "${line.trim()}"`);
    const [dst, src, len] = args;
    // A byte-wise memmove (pure, overlap-safe in both directions, writes exactly `len` bytes).
    return `${indent}{ let cpD_ := ${dst} let cpS_ := ${src} let cpN_ := ${len} switch gt(cpD_, cpS_) `
      + "case 0 { for { let cpI_ := 0 } lt(cpI_, cpN_) { cpI_ := add(cpI_, 1) } "
      + "{ mstore8(add(cpD_, cpI_), byte(0, mload(add(cpS_, cpI_)))) } } "
      + "default { for { let cpI_ := cpN_ } gt(cpI_, 0) { cpI_ := sub(cpI_, 1) } "
      + "{ mstore8(add(cpD_, sub(cpI_, 1)), byte(0, mload(add(cpS_, sub(cpI_, 1))))) } } } // mcopy, pre-Cancun";
  });
  if (/\bmcopy\s*\(/.test(rewritten.replace(/\/\/.*$/gm, ""))) {
    throw new Error(`${importPath}: an mcopy is left after the pre-Cancun rewrite`);
  }
  return rewritten;
}

function findImports(importPath) {
  const candidates = [path.join(nodeModules, importPath), path.join(contractsDir, importPath)];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const contents = fs.readFileSync(file, "utf8");
    const rewrite = PRE_CANCUN && importPath.startsWith("@openzeppelin/") && contents.includes("mcopy");
    return { contents: rewrite ? withoutMcopy(importPath, contents) : contents };
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
