// Register an asset: the form checks what the API checks (shares summing to 100, price,
// royalty), the file is uploaded with progress, the agents suggest a price and
// collaborators, the mint is followed, then the owner signs the listing in the wallet.

import { currentUser, request, upload } from "../api.js";
import { eth, field, h, notice, progress, replace, until } from "../dom.js";
import { listForSale } from "./asset.js";
import { TYPES } from "./market.js";

const PRICE = /^\d{1,7}(\.\d{1,18})?$/;
const PERCENT = /^\d{1,3}(\.\d{1,2})?$/;
const WALLET = /^0x[0-9a-fA-F]{40}$/;

// Hundredths of a percent, so "33.33" + "66.67" is exactly 100.
const hundredths = (p) => { const [i, f = ""] = p.split("."); return Number(i) * 100 + Number((f + "00").slice(0, 2)); };

export function validate(v) {
  const errors = {};
  if (!v.name.trim()) errors.name = "Give the asset a name.";
  else if (v.name.length > 200) errors.name = "At most 200 characters.";
  if (!PRICE.test(v.price)) errors.price = "A price in ETH such as 1.5 (up to 7 digits and 18 decimals).";
  if (!PERCENT.test(v.royalty_rate) || Number(v.royalty_rate) > 50) errors.royalty_rate = "A royalty from 0 to 50 percent.";
  if (!v.ipfs_hash) errors.file = "Upload the work's file first.";
  const shares = v.creators.map((c) => c.share_percent);
  if (shares.some((s) => !PERCENT.test(s) || hundredths(s) <= 0 || hundredths(s) > 10000)) errors.creators = "Each share is more than 0 and at most 100 percent.";
  else if (shares.reduce((a, s) => a + hundredths(s), 0) !== 10000) errors.creators = "The shares must add up to exactly 100 percent.";
  const others = v.creators.slice(1).map((c) => c.wallet);
  if (others.some((w) => !WALLET.test(w))) errors.creators = "Each co-creator needs a wallet address (0x followed by 40 hex digits).";
  else if (new Set(v.creators.map((c) => (c.wallet || c.user_id).toLowerCase())).size !== v.creators.length) errors.creators = "Each creator can appear only once.";
  if (v.creators.length > 10) errors.creators = "At most 10 creators.";
  return errors;
}

export async function render(main) {
  const me = currentUser();
  if (!me) { replace(main, h("h1", {}, "Create an asset"), h("p", {}, "Sign in with your wallet to register an asset.")); return; }
  const inputs = {
    name: h("input", { name: "name", required: true, maxlength: 200 }),
    asset_type: h("select", { name: "asset_type" }, TYPES.map((t) => h("option", { value: t }, t))),
    price: h("input", { name: "price", required: true, inputmode: "decimal", value: "1" }),
    royalty_rate: h("input", { name: "royalty_rate", required: true, inputmode: "decimal", value: "10" }),
    region: h("input", { name: "region", value: "Global", maxlength: 100 }),
    description: h("textarea", { name: "description", rows: 3, maxlength: 2000 }),
    utility: h("input", { name: "utility", placeholder: "e.g. streaming license, remix rights" }),
    file: h("input", { name: "file", type: "file", required: true }),
    myShare: h("input", { name: "my_share", required: true, inputmode: "decimal", value: "100" }),
  };
  const f = Object.fromEntries(Object.entries({ name: "Name", asset_type: "Type", price: "Price (ETH)", royalty_rate: "Royalty to co-creators (%)",
    region: "Region", description: "Description", utility: "Utility features (comma separated)", file: "The work's file (at most 4 MiB)",
    myShare: "Your share (%)" }).map(([k, label]) => [k, field(label, inputs[k])]));
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Upload progress", hidden: true });
  let cid = "";
  inputs.file.addEventListener("change", async () => {
    const file = inputs.file.files[0];
    if (!file) return;
    cid = "";
    f.file.setError("");
    bar.hidden = false;
    try {
      const out = await upload(file, (x) => { bar.value = x; });
      cid = out.cid;
      bar.value = 1;
      f.file.setError("");
      f.file.append(h("span", { class: "muted", id: "uploaded" }, `Uploaded: ${out.filename} (${out.size} bytes), CID ${out.cid}`));
    } catch (err) { f.file.setError(err.message); }
  });

  const rows = h("div", {});
  const addRow = (wallet = "", share = "") => {
    const w = h("input", { name: "co_wallet", required: true, value: wallet, placeholder: "0x…", "aria-label": "Co-creator wallet" });
    const s = h("input", { name: "co_share", required: true, value: share, inputmode: "decimal", "aria-label": "Co-creator share (%)" });
    const row = h("div", { class: "row co-creator" }, field("Co-creator wallet", w), field("Share (%)", s),
      h("button", { type: "button", class: "secondary", onclick: () => row.remove() }, "Remove"));
    rows.append(row);
  };
  const creatorsErr = h("p", { class: "field-error", "aria-live": "polite" });

  const suggestion = h("div", { "aria-live": "polite" });
  const suggest = h("button", { type: "button", class: "secondary" }, "Suggest a price");
  suggest.addEventListener("click", async () => {
    try {
      const s = await request("POST", "/ai/pricing", { body: { asset_type: inputs.asset_type.value, region: inputs.region.value || "Global",
        name: inputs.name.value || "untitled", description: inputs.description.value, co_creators: rows.children.length + 1,
        utility_features: splitList(inputs.utility.value) } });
      const use = h("button", { type: "button", class: "secondary", onclick: () => { inputs.price.value = s.suggested; } }, `Use ${s.suggested} ETH`);
      replace(suggestion, h("p", {}, `Suggested ${eth(s.suggested)} (${s.low}–${s.high}). `, use),
        h("ul", {}, s.rules.map((r) => h("li", {}, `${r.name}: ${r.explanation || r.value}`))));
    } catch (err) { notice(err.message); }
  });

  const collaborators = h("div", { "aria-live": "polite" });
  const findCollab = h("button", { type: "button", class: "secondary" }, "Suggest collaborators");
  findCollab.addEventListener("click", async () => {
    try {
      const out = await request("GET", "/ai/collaborators", { query: { user_id: me.id, limit: 5 } });
      replace(collaborators, out.collaborators.length ? h("ul", {}, await Promise.all(out.collaborators.map(async (c) => {
        const user = await request("GET", `/users/${c.candidate.user_id}`).catch(() => null);
        return h("li", {}, `${c.candidate.username} (${c.candidate.skills.join(", ") || "no skills listed"}; score ${c.score}) `,
          user ? h("button", { type: "button", class: "secondary", onclick: () => addRow(user.wallet_address, "") }, "Add") : null);
      }))) : h("p", { class: "muted" }, "No suggestions yet."));
    } catch (err) { notice(err.message); }
  });

  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true, "aria-labelledby": "create-h" },
    h("fieldset", {}, h("legend", {}, "The work"), f.name, f.asset_type, f.description, f.utility, f.region, f.file, bar),
    h("fieldset", {}, h("legend", {}, "Price and royalty"), f.price, suggest, suggestion, f.royalty_rate),
    h("fieldset", {}, h("legend", {}, "Creators and shares"), f.myShare, rows,
      h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: () => addRow() }, "Add a co-creator"), findCollab),
      collaborators, creatorsErr),
    h("button", { type: "submit" }, "Register and mint"), status);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    notice(null);
    const creators = [{ user_id: me.id, share_percent: inputs.myShare.value.trim() },
      ...[...rows.querySelectorAll(".co-creator")].map((r) => ({ wallet: r.querySelector("[name=co_wallet]").value.trim(),
        share_percent: r.querySelector("[name=co_share]").value.trim() }))];
    const body = { name: inputs.name.value.trim(), asset_type: inputs.asset_type.value, price: inputs.price.value.trim(),
      royalty_rate: inputs.royalty_rate.value.trim(), region: inputs.region.value.trim() || "Global",
      metadata: inputs.description.value ? { description: inputs.description.value } : {},
      utility_features: splitList(inputs.utility.value), creators, ipfs_hash: cid };
    const errors = validate(body);
    for (const k of ["name", "price", "royalty_rate", "file"]) f[k].setError(errors[k]);
    creatorsErr.textContent = errors.creators || "";
    if (Object.keys(errors).length) { form.querySelector("[aria-invalid=true]")?.focus(); return; }
    form.querySelector("[type=submit]").disabled = true;
    const steps = progress(["Register", "Mint the token", "Sign the listing in your wallet", "For sale"]);
    replace(status, steps.el);
    let at = 0;
    try {
      steps.at(at);
      let asset = await request("POST", "/assets", { body });
      steps.at(++at);
      asset = await until(() => request("GET", `/assets/${asset.id}`),
        (a) => (a.status === "active" && a.token_id) || ["failed", "archived"].includes(a.status) || (a.status === "pending_review" && a.risk_score !== null));
      if (asset.status !== "active") throw new Error(`The asset was not minted: it is ${asset.status.replace("_", " ")} (${asset.review_reasons.join("; ") || "no reason given"}).`);
      // The uploaded file becomes one of the asset's files (it is also its content hash).
      await request("POST", `/assets/${asset.id}/files`, { body: { cid } }).catch((err) => notice(`The file was not attached: ${err.message}`, "info"));
      steps.at(++at);
      await listForSale(asset, body.price);
      steps.done();
      status.append(h("p", { role: "status", id: "created" }, "Registered, minted and listed. ", h("a", { href: `#/asset/${asset.id}` }, "Open the asset page")));
    } catch (err) {
      steps.fail(at, err.message);
      notice(err.message);
      form.querySelector("[type=submit]").disabled = false;
    }
  });
  replace(main, h("h1", { id: "create-h" }, "Create an asset"), form);
}

function splitList(text) { return text.split(",").map((s) => s.trim()).filter(Boolean).slice(0, 20); }
