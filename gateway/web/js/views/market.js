// Browse and search: the API's filters, sorting and paging; cards update live.

import { request } from "../api.js";
import { eth, h, notice, replace } from "../dom.js";
import { subscribe } from "../live.js";

export const TYPES = ["art", "music", "video", "literature", "software", "design", "patent", "trademark", "other"];
const state = { q: "", asset_type: "", min_price: "", max_price: "", for_sale: "", sort: "-created", page: 1, per_page: 12 };

function select(name, label, options, value) {
  return h("label", {}, label, h("select", { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
}

export function card(a) {
  return h("li", { class: "card", "data-asset": a.id },
    h("h2", {}, h("a", { href: `#/asset/${a.id}` }, a.name)),
    h("p", { class: "muted" }, `${a.asset_type} · ${a.region}`),
    h("p", {}, h("strong", { "data-price": "" }, eth(a.price)), " ",
      a.listing && a.listing.state === "active" ? h("span", { class: "badge sale" }, "for sale") : h("span", { class: "badge" }, "not for sale"),
      a.status !== "active" ? h("span", { class: "badge warn" }, a.status.replace("_", " ")) : null));
}

export async function render(main) {
  const results = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Search assets" },
    h("label", {}, "Search", h("input", { name: "q", type: "search", value: state.q, maxlength: 200 })),
    select("asset_type", "Type", [["", "Any type"], ...TYPES.map((t) => [t, t])], state.asset_type),
    h("label", {}, "Min price (ETH)", h("input", { name: "min_price", inputmode: "decimal", value: state.min_price, pattern: "\\d{1,7}(\\.\\d{1,18})?" })),
    h("label", {}, "Max price (ETH)", h("input", { name: "max_price", inputmode: "decimal", value: state.max_price, pattern: "\\d{1,7}(\\.\\d{1,18})?" })),
    select("for_sale", "Availability", [["", "All"], ["true", "For sale"], ["false", "Not for sale"]], state.for_sale),
    select("sort", "Sort by", [["-created", "Newest"], ["created", "Oldest"], ["price", "Price: low to high"],
      ["-price", "Price: high to low"], ["name", "Name A–Z"], ["-name", "Name Z–A"]], state.sort),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    for (const [k, v] of new FormData(form)) state[k] = v;
    state.page = 1;
    load();
  });
  replace(main, h("h1", {}, "Marketplace"), form, results);

  async function load() {
    try {
      const page = await request("GET", "/assets", { query: { ...state } });
      const pages = Math.max(1, Math.ceil(page.total / page.per_page));
      const prev = h("button", { type: "button", class: "secondary", disabled: state.page <= 1,
        onclick: () => { state.page -= 1; load(); } }, "Previous");
      const next = h("button", { type: "button", class: "secondary", disabled: state.page >= pages,
        onclick: () => { state.page += 1; load(); } }, "Next");
      replace(results,
        page.items.length ? h("ul", { class: "grid" }, page.items.map(card)) : h("p", {}, "No assets match these filters."),
        h("div", { class: "pager" }, prev, h("span", {}, `Page ${page.page} of ${pages} · ${page.total} assets`), next));
    } catch (err) {
      notice(err.message);
      replace(results);
    }
  }
  await load();
  // A listing or a sale changes a card's price or badge: reload the page of results.
  let timer = null;
  const off = subscribe("market", (ev) => {
    if (!["asset.sold", "asset.updated", "asset.created"].includes(ev.event)) return;
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  });
  return () => { off(); clearTimeout(timer); };
}
