// Small DOM helpers. Text always goes in as text (never as HTML), so nothing an API or
// another user wrote can run as script in this page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) { el.replaceChildren(); append(el, children); return el; }

export function notice(message, kind = "error") {
  const el = document.getElementById("notice");
  if (!message) { el.hidden = true; return; }
  el.className = `notice ${kind}`;
  el.textContent = message;
  el.hidden = false;
}

export const short = (addr) => (addr && addr.length > 14 ? `${addr.slice(0, 6)}…${addr.slice(-4)}` : addr || "");

// "0.485000000000000000" -> "0.485 ETH": the API's decimals are exact; only the zeros go.
export const eth = (amount) => `${String(amount).includes(".") ? String(amount).replace(/\.?0+$/, "") : amount} ETH`;

// A list of named steps whose marks follow a flow (purchase, mint, withdraw).
export function progress(labels) {
  const items = labels.map((l) => h("li", {}, l));
  const list = h("ol", { class: "steps", "aria-live": "polite" }, items);
  return {
    el: list,
    at(i) { items.forEach((li, j) => { li.className = j < i ? "done" : j === i ? "active" : ""; }); },
    done() { items.forEach((li) => { li.className = "done"; }); },
    fail(i, why) { items[i].className = "failed"; items[i].append(` — ${why}`); },
  };
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const err = h("span", { class: "field-error", id: `${id}-err`, "aria-live": "polite" });
  const note = hint ? h("span", { class: "muted", id: `${id}-hint` }, hint) : null;
  input.setAttribute("aria-describedby", hint ? `${id}-hint ${id}-err` : `${id}-err`);
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, note, err);
  wrap.setError = (msg) => { err.textContent = msg || ""; input.setAttribute("aria-invalid", msg ? "true" : "false"); };
  return wrap;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll `fn` until `done(value)` or the deadline; resolves the last value.
export async function until(fn, done, { interval = 500, timeout = 120000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error("This is taking longer than expected; reload the page later to see the result.");
    await sleep(interval);
  }
}
