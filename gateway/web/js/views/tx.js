// One chain transaction (linked from provenance and the flows): status, parties, receipt.

import { h, replace } from "../dom.js";

export async function render(main, [hash]) {
  const { request } = await import("../api.js");
  const tx = await request("GET", `/chain/tx/${hash}`);
  const rows = [["Hash", tx.tx_hash], ["Type", tx.type], ["Status", tx.status], ["From", tx.from_address], ["To", tx.to_address],
    ["Block", tx.block_number], ["Gas used", tx.gas_used], ["Error", tx.error], ["Asset", tx.asset_id]];
  replace(main, h("h1", {}, "Transaction"), h("table", {}, h("tbody", {}, rows.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k),
      h("td", { class: "mono" }, k === "Asset" ? h("a", { href: `#/asset/${v}` }, v) : String(v)))))));
}
