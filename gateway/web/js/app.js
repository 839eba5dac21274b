// The console's shell: hash routes, the session bar, the live market feed.

import { clearSession, currentUser, onSession, refresh, signOut } from "./api.js";
import { h, notice, replace, short } from "./dom.js";
import { onState, resubscribeUser, subscribe } from "./live.js";
import { signIn } from "./wallet.js";
import * as market from "./views/market.js";
import * as asset from "./views/asset.js";
import * as create from "./views/create.js";
import * as portfolio from "./views/portfolio.js";
import * as analytics from "./views/analytics.js";
import * as tx from "./views/tx.js";

const routes = { market, asset, create, portfolio, analytics, tx };
const main = document.getElementById("main");
// Each render of a view gets a number; only the newest one is shown. A view draws into its
// own element inside main, so a render that finishes after the user moved on draws nowhere, and
// its subscriptions are ended at once. A view redraws itself (live data) through `redraw`,
// which renders it anew off-screen and swaps it in, ending the old render's subscriptions.
let showing = 0;
let cleanup = null;

async function show(view, params, quiet) {
  const mine = ++showing;
  const root = h("div", { class: "view" });
  const redraw = () => { if (showing === mine) show(view, params, true); };
  if (!quiet) {
    if (cleanup) { cleanup(); cleanup = null; }
    notice(null);
    replace(root, h("p", { class: "muted" }, "Loading…"));
    replace(main, root);
  }
  let done = null;
  try {
    done = (await view.render(root, params, redraw)) || null;
  } catch (err) {
    if (showing !== mine) return;
    if (quiet) { notice(err.message); showing = mine - 1; return; } // keep the page as it was
    replace(root, h("h1", {}, "Something went wrong"), h("p", {}, err.message));
  }
  if (showing !== mine) { if (done) done(); return; }
  if (quiet) {
    if (cleanup) cleanup();
    replace(main, root);
  }
  cleanup = done;
  if (!quiet) main.focus({ preventScroll: true });
}

function route() {
  const [name = "market", ...params] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const view = routes[name] || market;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  return show(view, params, false);
}

function showSession(user) {
  document.getElementById("who").textContent = user ? `Signed in as ${user.username || short(user.wallet_address)}` : "";
  document.getElementById("sign-in").hidden = !!user;
  document.getElementById("sign-out").hidden = !user;
  if (user) resubscribeUser();
}

document.getElementById("sign-in").addEventListener("click", async (e) => {
  e.target.disabled = true;
  try {
    await signIn();
    notice(null);
    route();
  } catch (err) {
    notice(err.message);
  } finally {
    e.target.disabled = false;
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  route();
});

// The wallet switched accounts: the session belonged to the old one.
if (window.ethereum && typeof window.ethereum.on === "function") {
  window.ethereum.on("accountsChanged", (accounts) => {
    const user = currentUser();
    if (user && (!accounts.length || accounts[0].toLowerCase() !== user.wallet_address.toLowerCase())) {
      clearSession();
      notice("Your wallet switched accounts, so you were signed out. Sign in again with the new account.", "info");
    }
  });
}

const feed = document.getElementById("live-feed");
const describe = {
  "asset.sold": (d) => `Sold: ${short(d.asset_id)} for ${d.price} ETH`,
  "asset.created": (d) => `New asset: ${d.name}`,
  "asset.updated": (d) => (d.listed === true && d.price ? `Listed at ${d.price} ETH` : `Updated: ${(d.changed || []).join(", ")}`),
  "stake.opened": (d) => `Stake of ${d.amount} ETH opened`,
  "stake.claimed": () => "Staking rewards claimed",
  "stake.closed": (d) => `Stake closed${d.early ? " early" : ""}`,
};
subscribe("market", (ev) => {
  const text = (describe[ev.event] || (() => ev.event))(ev.data);
  const link = ev.data.asset_id ? h("a", { href: `#/asset/${ev.data.asset_id}` }, text) : text;
  feed.prepend(h("li", { "data-event": ev.event }, link, " ", h("time", { class: "muted", datetime: ev.occurred_at },
    new Date(ev.occurred_at).toLocaleTimeString())));
  while (feed.children.length > 30) feed.lastChild.remove();
});
onState((on) => {
  const el = document.getElementById("live-state");
  el.textContent = on ? "connected" : "offline";
  el.classList.toggle("on", on);
});

onSession(showSession);
window.addEventListener("hashchange", route);
refresh().finally(() => { showSession(currentUser()); route(); });
