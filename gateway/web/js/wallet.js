// The browser wallet (any EIP-1193 provider, e.g. MetaMask, at window.ethereum): sign-in
// (SIWE, personal_sign), EIP-712 listings (eth_signTypedData_v4) and the transactions the
// API prepares. The console never holds a key.

import { request, setSession } from "./api.js";

export class WalletError extends Error {}

function provider() {
  if (!window.ethereum || typeof window.ethereum.request !== "function") {
    throw new WalletError("No browser wallet found. Install a wallet such as MetaMask, then reload this page.");
  }
  return window.ethereum;
}

function walletMessage(err) {
  if (err && err.code === 4001) return "You declined the request in your wallet.";
  if (err && err.code === 4100) return "The wallet has not authorised this site: unlock it and try again.";
  return `The wallet refused: ${(err && err.message) || err}`;
}

async function ask(method, params) {
  try {
    return await provider().request({ method, params });
  } catch (err) {
    if (err instanceof WalletError) throw err;
    const e = new WalletError(walletMessage(err));
    e.code = err && err.code;
    throw e;
  }
}

export async function account() {
  const accounts = await ask("eth_requestAccounts", []);
  if (!accounts || !accounts.length) throw new WalletError("The wallet shared no account.");
  return accounts[0];
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Sign-In with Ethereum: the API's nonce message, signed by the wallet, exchanged for tokens.
export async function signIn() {
  const address = await account();
  const nonce = await request("POST", "/auth/nonce", { body: { address }, auth: false });
  const signature = await ask("personal_sign", [utf8Hex(nonce.message), address]);
  const login = await request("POST", "/auth/login", { body: { message: nonce.message, signature }, auth: false });
  setSession(login, login.user);
  return login.user;
}

export async function signTypedData(address, typedData) {
  return ask("eth_signTypedData_v4", [address, JSON.stringify(typedData, (k, v) => (typeof v === "bigint" ? v.toString() : v))]);
}

const hex = (n) => "0x" + BigInt(n).toString(16);

function rpcTx(tx) {
  return { from: tx.from, to: tx.to, data: tx.data, value: hex(tx.value), gas: hex(tx.gas), nonce: hex(tx.nonce),
    maxFeePerGas: hex(tx.maxFeePerGas), maxPriorityFeePerGas: hex(tx.maxPriorityFeePerGas), chainId: hex(tx.chainId),
    type: "0x2" };
}

// The wallet signs the prepared transaction. The API takes either the raw signed bytes
// (eth_signTransaction: the embedded development chain has no public node to send to) or
// the hash of one the wallet broadcast itself (eth_sendTransaction, e.g. MetaMask on a
// real network). Answers {raw_transaction} or {tx_hash}.
export async function signOrSend(tx) {
  const params = [rpcTx(tx)];
  try {
    return { raw_transaction: await ask("eth_signTransaction", params) };
  } catch (err) {
    if (err.code !== 4200 && err.code !== -32601 && err.code !== -32004) throw err;
  }
  return { tx_hash: await ask("eth_sendTransaction", params) };
}
