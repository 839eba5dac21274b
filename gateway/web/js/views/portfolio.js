// My assets, purchases, earnings (sales and royalties credited on the marketplace, withdrawn
// by my own wallet), and stakes with rewards accruing live; claim and unstake.

import { formatEther } from "/static/vendor/ethers.min.js";
import { currentUser, request } from "../api.js";
import { eth, h, notice, progress, replace, short, until } from "../dom.js";
import { subscribe } from "../live.js";
import { signOrSend } from "../wallet.js";
import { card } from "./market.js";

const FINAL_TX = ["confirmed", "failed", "replaced"];

// Mirrors the vault: accrued = reservation × elapsed / duration, rounded down.
export function accruedWei(stake, now = Date.now()) {
  const start = Date.parse(stake.start_time), end = Date.parse(stake.end_time);
  if (!(end > start)) return 0n;
  const elapsed = BigInt(Math.max(0, Math.min(now, end) - start));
  return (BigInt(stake.reward_wei) * elapsed) / BigInt(end - start);
}

async function walletTx(prepared, handIn, steps, start) {
  let at = start;
  steps.at(at);
  const signed = await signOrSend(prepared);
  steps.at(++at);
  const hash = signed.tx_hash || (await handIn(signed)).tx_hash;
  steps.at(++at);
  const tx = await until(() => request("GET", `/chain/tx/${hash}`), (t) => FINAL_TX.includes(t.status));
  if (tx.status !== "confirmed") throw new Error(`The transaction ${tx.status}: ${tx.error || "see its details"}.`);
  return tx;
}

export async function render(main, _params, redraw) {
  const me = currentUser();
  if (!me) { replace(main, h("h1", {}, "Portfolio"), h("p", {}, "Sign in with your wallet to see your portfolio.")); return; }
  const [owned, created, bal, stakes, perf] = await Promise.all([
    request("GET", "/assets", { query: { owner: me.id, per_page: 50 } }),
    request("GET", "/assets", { query: { creator: me.id, per_page: 50 } }),
    request("GET", `/chain/balances/${me.wallet_address}`),
    request("GET", "/stakes", { query: { per_page: 50 } }),
    request("GET", `/analytics/creators/${me.id}/performance`).catch(() => null),
  ]);
  const createdIds = new Set(created.items.map((a) => a.id));
  const bought = owned.items.filter((a) => !createdIds.has(a.id));

  const earnings = h("section", { class: "card", "aria-labelledby": "earn-h" }, h("h2", { id: "earn-h" }, "Earnings"),
    h("div", { class: "stats" },
      h("div", {}, "Withdrawable", h("strong", { id: "withdrawable" }, eth(bal.pending_withdrawal_eth))),
      h("div", {}, "Wallet balance", h("strong", {}, eth(bal.native_balance_eth))),
      perf ? h("div", {}, "Sales of my works", h("strong", {}, perf.total_sales)) : null,
      perf ? h("div", {}, "My attributed volume", h("strong", {}, eth(perf.attributed_volume))) : null),
    h("p", { class: "muted" }, "Sales and royalties are credited on the marketplace contract; your own wallet withdraws them."));
  if (BigInt(bal.pending_withdrawal_wei) > 0n) {
    const button = h("button", { type: "button", id: "withdraw" }, `Withdraw ${eth(bal.pending_withdrawal_eth)}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      earnings.dataset.busy = "1";
      const steps = progress(["Prepare withdraw()", "Sign in your wallet", "Send", "Confirmed"]);
      earnings.append(steps.el);
      let at = 0;
      try {
        steps.at(at);
        const p = await request("POST", "/chain/withdraw", { body: {} });
        await walletTx(p.transaction, (signed) => request("POST", "/chain/withdraw/transaction", { body: signed }), steps, ++at);
        steps.done();
        earnings.append(h("p", { role: "status", id: "withdrawn" }, `Withdrawn ${eth(p.pending_withdrawal)} to your wallet.`));
        setTimeout(redraw, 1500);
      } catch (err) { steps.fail(at, err.message); notice(err.message); button.disabled = false; } finally { delete earnings.dataset.busy; }
    });
    earnings.append(button);
  }

  const tickers = [];
  const stakeRows = stakes.items.map((s) => {
    const accrued = h("td", { "data-accrued": s.id });
    if (s.status === "active") tickers.push(() => { accrued.textContent = eth(formatEther(accruedWei(s) - BigInt(s.claimed_wei))); });
    else accrued.textContent = eth(s.claimable_rewards);
    const act = h("td", {});
    if (s.status === "active") {
      for (const [what, label] of [["claim", "Claim"], ["unstake", "Unstake"]]) {
        act.append(h("button", { type: "button", class: "secondary", onclick: async (e) => {
          e.target.disabled = true;
          act.dataset.busy = "1";
          const steps = progress([`Prepare ${what}`, "Sign in your wallet", "Hand in", "Recorded"]);
          act.append(steps.el);
          let at = 0;
          try {
            const out = await request("POST", `/stakes/${s.id}/${what}`);
            steps.at(++at);
            const signed = await signOrSend(out.transaction);
            steps.at(++at);
            await request("POST", `/stakes/${s.id}/${what}/transaction`, { body: signed });
            steps.at(++at);
            const before = JSON.stringify([s.status, s.claimed_wei]);
            const after = await until(() => request("GET", `/stakes/${s.id}`), (x) => JSON.stringify([x.status, x.claimed_wei]) !== before);
            steps.done();
            // The page re-renders with the new figures; the notice stays above it.
            notice(what === "claim" ? `Claimed: ${eth(after.rewards_claimed)} of rewards paid to your wallet so far.`
              : `Unstaked: ${eth(after.payout || after.amount)} paid to your wallet.`, "info");
            setTimeout(redraw, 300);
          } catch (err) { steps.fail(at, err.message); notice(err.message); e.target.disabled = false; } finally { delete act.dataset.busy; }
        } }, label), " ");
      }
    }
    return h("tr", {}, h("td", {}, h("a", { href: `#/asset/${s.asset_id}` }, short(s.asset_id))), h("td", {}, eth(s.amount)),
      h("td", {}, `${s.apr} %`), h("td", {}, s.status), h("td", {}, new Date(s.end_time).toLocaleDateString()), accrued, act);
  });
  const tick = () => tickers.forEach((t) => t());
  tick();
  const interval = setInterval(tick, 1000);

  replace(main, h("h1", {}, "Portfolio"), earnings,
    h("section", { "aria-labelledby": "owned-h" }, h("h2", { id: "owned-h" }, "My works"),
      created.items.length ? h("ul", { class: "grid" }, created.items.map(card)) : h("p", { class: "muted" }, "You have not registered an asset yet.")),
    h("section", { "aria-labelledby": "bought-h" }, h("h2", { id: "bought-h" }, "Purchases"),
      bought.length ? h("ul", { class: "grid" }, bought.map(card)) : h("p", { class: "muted" }, "Nothing bought yet.")),
    h("section", { "aria-labelledby": "stakes-h" }, h("h2", { id: "stakes-h" }, "Stakes"),
      stakeRows.length ? h("table", {}, h("thead", {}, h("tr", {}, ["Asset", "Amount", "APR", "Status", "Ends", "Unclaimed rewards", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, stakeRows)) : h("p", { class: "muted" }, "No stakes. Stake on an asset from its page.")));

  let timer = null;
  const off = subscribe(`user:${me.id}`, () => {
    if (main.querySelector("[data-busy]")) return;
    clearTimeout(timer);
    timer = setTimeout(redraw, 500);
  });
  return () => { clearInterval(interval); off(); clearTimeout(timer); };
}
