// One asset: files, metadata, co-creators and shares, the agent's price suggestion with its
// rules, risk flags, provenance (each transaction linked), and buy / list / stake.

import { formatEther } from "/static/vendor/ethers.min.js";
import { currentUser, idempotencyKey, request } from "../api.js";
import { eth, field, h, notice, progress, replace, short, until } from "../dom.js";
import { subscribe } from "../live.js";
import { account, signOrSend, signTypedData } from "../wallet.js";

const bps = (percent) => BigInt(Math.round(Number(percent) * 100));

// What the marketplace contract pays out of one sale (services/chain/CONTRACTS.md): the
// ERC-2981 royalty split by shares (the rounding remainder to the first co-creator), the
// rest to the seller (less the platform fee while one is set).
export function split(priceWei, royaltyRate, creators) {
  const price = BigInt(priceWei);
  const royalty = (price * bps(royaltyRate)) / 10000n;
  const parts = creators.map((c) => (royalty * bps(c.share_percent)) / 10000n);
  const rest = royalty - parts.reduce((a, b) => a + b, 0n);
  if (parts.length) parts[0] += rest;
  return { price, royalty, seller: price - royalty, parts };
}

const txLink = (hash) => (hash ? h("a", { href: `#/tx/${hash}`, class: "mono" }, short(hash)) : "—");

function rules(list) {
  return h("ul", {}, (list || []).map((r) => h("li", {}, h("strong", {}, r.name), r.explanation ? ` — ${r.explanation}` : "",
    r.contribution ? h("span", { class: "muted" }, ` (${r.contribution})`) : "")));
}

export async function render(main, [id], redraw) {
  const [asset, provenance, suggestion] = await Promise.all([
    request("GET", `/assets/${id}`),
    request("GET", `/assets/${id}/provenance`).catch(() => ({ entries: [] })),
    request("GET", `/assets/${id}/price-suggestion`).catch(() => null),
  ]);
  const me = currentUser();
  const mine = me && asset.owner_user_id === me.id;
  const listing = asset.listing && asset.listing.state === "active" ? asset.listing : null;
  const meta = Object.entries(asset.metadata || {});

  const buyBox = h("section", { class: "card", "aria-labelledby": "buy-h" }, h("h2", { id: "buy-h" }, mine ? "Sell" : "Buy"));
  if (mine) ownerPanel(buyBox, asset, listing, suggestion);
  else if (!listing) buyBox.append(h("p", {}, "This asset is not for sale right now."));
  else if (!me) buyBox.append(h("p", {}, `For sale at ${eth(listing.price)}. Sign in with your wallet to buy it.`));
  else buyPanel(buyBox, asset, listing);

  replace(main,
    h("h1", {}, asset.name),
    h("p", {}, h("span", { class: "badge" }, asset.asset_type), " ",
      listing ? h("span", { class: "badge sale" }, `for sale · ${eth(listing.price)}`) : h("span", { class: "badge" }, "not for sale"), " ",
      asset.status !== "active" ? h("span", { class: "badge warn" }, asset.status.replace("_", " ")) : null),
    h("div", { class: "cols" },
      h("section", { class: "card", "aria-labelledby": "about-h" }, h("h2", { id: "about-h" }, "About"),
        h("p", {}, (asset.metadata && asset.metadata.description) || "No description."),
        h("dl", {},
          h("dt", {}, "Owner"), h("dd", { class: "mono" }, asset.owner_wallet),
          h("dt", {}, "Region"), h("dd", {}, asset.region),
          h("dt", {}, "Royalty to co-creators"), h("dd", {}, `${asset.royalty_rate} %`),
          h("dt", {}, "Token"), h("dd", {}, asset.token_id ? `#${asset.token_id}` : "not minted yet", " ", txLink(asset.mint_tx_hash)),
          h("dt", {}, "Content (IPFS)"), h("dd", {}, h("a", { class: "mono", href: `/api/v1/files/${asset.ipfs_hash}` }, asset.ipfs_hash)),
          asset.utility_features.length ? [h("dt", {}, "Utility"), h("dd", {}, asset.utility_features.join(", "))] : null),
        meta.length ? h("table", {}, h("caption", { class: "visually-hidden" }, "Metadata"),
          h("tbody", {}, meta.filter(([k]) => k !== "description").map(([k, v]) =>
            h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))))) : null,
        h("h3", {}, "Files"),
        (asset.file_cids || []).length
          ? h("ul", {}, asset.file_cids.map((cid) => h("li", {}, h("a", { href: `/api/v1/files/${cid}`, class: "mono" }, cid))))
          : h("p", { class: "muted" }, "No files attached.")),
      buyBox,
      h("section", { class: "card", "aria-labelledby": "creators-h" }, h("h2", { id: "creators-h" }, "Co-creators and shares"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Creator"), h("th", {}, "Wallet"), h("th", {}, "Share"))),
          h("tbody", {}, asset.creators.map((c) => h("tr", {}, h("td", {}, c.user_id), h("td", { class: "mono" }, short(c.wallet)),
            h("td", {}, `${c.share_percent} %`)))))),
      h("section", { class: "card", "aria-labelledby": "price-h" }, h("h2", { id: "price-h" }, "Price suggestion"),
        suggestion ? [h("p", {}, h("strong", {}, eth(suggestion.suggested)), ` (range ${suggestion.low}–${suggestion.high} ETH)`),
          h("p", { class: "muted" }, "The pricing agent's rules:"), rules(suggestion.rules)]
          : h("p", { class: "muted" }, "No suggestion available right now.")),
      h("section", { class: "card", "aria-labelledby": "risk-h" }, h("h2", { id: "risk-h" }, "Risk checks"),
        h("p", {}, asset.risk_score === null ? "Not scored yet." : `Risk score ${asset.risk_score} / 100`),
        asset.review_reasons.length ? h("ul", {}, asset.review_reasons.map((r) => h("li", {}, r))) : h("p", { class: "muted" }, "No flags.")),
      stakePanel(asset)),
    h("section", { "aria-labelledby": "prov-h" }, h("h2", { id: "prov-h" }, "Provenance"),
      provenance.entries.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["What", "From", "To", "Price", "Transaction", "When"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", { id: "provenance" }, provenance.entries.map((e) => h("tr", {}, h("td", {}, e.kind), h("td", { class: "mono" }, short(e.from_wallet)),
          h("td", { class: "mono" }, short(e.to_wallet)), h("td", {}, e.price ? eth(e.price) : "—"), h("td", {}, txLink(e.tx_hash)),
          h("td", {}, e.occurred_at ? new Date(e.occurred_at).toLocaleString() : "—")))))
        : h("p", { class: "muted" }, "No transactions yet.")));

  // Someone bought, listed or re-priced it: show the new state (unless a flow is under way here).
  let timer = null;
  const off = subscribe(`asset:${id}`, () => {
    if (main.querySelector("[data-busy]")) return;
    clearTimeout(timer);
    timer = setTimeout(redraw, 300);
  });
  return () => { off(); clearTimeout(timer); };
}

function buyPanel(box, asset, listing) {
  const s = split(listing.price_wei, asset.royalty_rate, asset.creators);
  box.append(
    h("p", {}, `Price: ${eth(listing.price)}. Your wallet pays it plus gas; the contract pays out:`),
    h("table", { "aria-label": "How the price is split" }, h("tbody", {},
      h("tr", {}, h("th", { scope: "row" }, "Seller"), h("td", { class: "mono" }, short(listing.seller_wallet)), h("td", {}, eth(formatEther(s.seller)))),
      asset.creators.map((c, i) => h("tr", {}, h("th", { scope: "row" }, `Royalty to co-creator (${c.share_percent} %)`),
        h("td", { class: "mono" }, short(c.wallet)), h("td", {}, eth(formatEther(s.parts[i]))))))),
    h("p", { class: "muted" }, "A platform fee, while one is set, comes out of the seller's part."));
  const steps = progress(["Prepare the purchase", "Sign in your wallet", "Hand in the signed payment", "Recorded on chain"]);
  const button = h("button", { type: "button", id: "buy" }, `Buy for ${eth(listing.price)}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    box.dataset.busy = "1";
    box.append(steps.el);
    let at = 0;
    try {
      steps.at(at);
      const p = await request("POST", `/assets/${asset.id}/purchase`, { body: {}, headers: { "Idempotency-Key": idempotencyKey("buy") } });
      steps.at(++at);
      const signed = await signOrSend(p.transaction);
      steps.at(++at);
      await request("POST", `/assets/${asset.id}/purchases/${p.id}/transaction`, { body: signed });
      steps.at(++at);
      // A long poll (Prefer: wait): the gateway answers as soon as the sale is recorded.
      const done = await until(() => request("GET", `/assets/${asset.id}/purchases/${p.id}`, { headers: { Prefer: "wait=20" } }),
        (x) => ["completed", "failed"].includes(x.state), { interval: 100 });
      if (done.state !== "completed") throw new Error(`The purchase failed: ${done.failure_reason || "the chain refused it"}.`);
      steps.done();
      box.append(h("p", { role: "status", id: "bought" }, "Purchased — the asset is yours. ", txLink(done.tx_hash)));
    } catch (err) {
      steps.fail(at, err.message);
      notice(err.message);
      button.disabled = false;
    } finally {
      delete box.dataset.busy;
    }
  });
  box.append(button);
}

export async function listForSale(asset, price, box) {
  const owner = await account();
  const { typed_data: doc } = await request("GET", `/assets/${asset.id}/listing/typed-data`, { query: { price } });
  const signature = await signTypedData(owner, doc);
  const out = await request("PUT", `/assets/${asset.id}/listing`, { body: { order: doc.message, signature } });
  if (box) box.append(h("p", { role: "status", id: "listed" }, `Listed at ${eth(out.listing.price)}.`));
  return out.listing;
}

function ownerPanel(box, asset, listing, suggestion) {
  if (asset.status !== "active" || !asset.token_id) {
    box.append(h("p", {}, "You can list it once it is minted."));
    return;
  }
  box.append(h("p", {}, listing ? `Listed at ${eth(listing.price)}.` : "You own it; it is not for sale."));
  const price = h("input", { name: "price", required: true, inputmode: "decimal", pattern: "\\d{1,7}(\\.\\d{1,18})?",
    value: listing ? listing.price : suggestion ? suggestion.suggested : asset.price });
  const form = h("form", { class: "row" }, field("Price (ETH)", price, suggestion ? `suggested ${suggestion.suggested}` : null),
    h("button", { type: "submit" }, listing ? "Change price" : "List for sale"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    box.dataset.busy = "1";
    try { await listForSale(asset, price.value, box); } catch (err) { notice(err.message); } finally { delete box.dataset.busy; }
  });
  box.append(form);
  if (listing) {
    box.append(h("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await request("DELETE", `/assets/${asset.id}/listing`);
        box.append(h("p", { role: "status" }, "Taken off sale. The signed order is void for the API; your wallet can also cancel it on chain."));
      } catch (err) { notice(err.message); }
    } }, "Take off sale"));
  }
}

function stakePanel(asset) {
  const box = h("section", { class: "card", "aria-labelledby": "stake-h" }, h("h2", { id: "stake-h" }, "Stake on this asset"));
  if (!currentUser() || asset.status !== "active" || !asset.token_id) {
    box.append(h("p", { class: "muted" }, currentUser() ? "Staking opens once the asset is minted." : "Sign in to stake."));
    return box;
  }
  const amount = h("input", { name: "amount", required: true, inputmode: "decimal", pattern: "\\d{1,7}(\\.\\d{1,18})?", value: "0.1" });
  const days = h("select", { name: "duration_days" }, [30, 90, 180, 365].map((d) => h("option", { value: d }, `${d} days`)));
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "row" }, field("Amount (ETH)", amount), field("Duration", days), h("button", { type: "submit" }, "Get a quote"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    try {
      const q = await request("GET", "/staking/quote", { query: { asset_id: asset.id, amount: amount.value, duration_days: days.value } });
      const go = h("button", { type: "button" }, `Stake ${amount.value} ETH at ${q.apr} % APR`);
      replace(out, h("p", {}, `Expected rewards ${eth(q.expected_rewards)}; leaving early costs ${Number(q.early_unstake_penalty_rate) * 100} % of the principal.`),
        h("ul", {}, q.apr_components.map((c) => h("li", {}, `${c.rule}: ${c.rate} — ${c.explanation}`))), go);
      go.addEventListener("click", async () => {
        go.disabled = true;
        box.dataset.busy = "1";
        const steps = progress(["Reserve the reward", "Sign in your wallet", "Hand in", "Active on chain"]);
        out.append(steps.el);
        let at = 0;
        try {
          steps.at(at);
          const opened = await request("POST", "/stakes", { body: { asset_id: asset.id, amount: amount.value, duration_days: Number(days.value) },
            headers: { "Idempotency-Key": idempotencyKey("stake") } });
          steps.at(++at);
          const signed = await signOrSend(opened.transaction || opened.stake.transaction);
          steps.at(++at);
          await request("POST", `/stakes/${opened.stake.id}/transaction`, { body: signed });
          steps.at(++at);
          const s = await until(() => request("GET", `/stakes/${opened.stake.id}`), (x) => x.status !== "pending");
          if (s.status !== "active") throw new Error(`The stake did not open: ${s.failure_reason || s.status}.`);
          steps.done();
          out.append(h("p", { role: "status", id: "staked" }, `Staked ${eth(s.amount)} until ${new Date(s.end_time).toLocaleDateString()}. `,
            h("a", { href: "#/portfolio" }, "See it in your portfolio")));
        } catch (err) { steps.fail(at, err.message); notice(err.message); go.disabled = false; } finally { delete box.dataset.busy; }
      });
    } catch (err) { notice(err.message); }
  });
  box.append(form, out);
  return box;
}

