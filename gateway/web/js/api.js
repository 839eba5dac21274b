// The REST API under /api/v1: the session's tokens, exact JSON (wei integers as BigInt),
// and problem+json answers turned into sentences a person can act on.

const API = "/api/v1";
const REFRESH_KEY = "ipheron.refresh";

export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.status = status;
    this.problem = problem || {};
  }
}

// JSON.parse keeps integers beyond 2^53 exact (the prepared transaction's `value` is wei).
export function parseJson(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === "number" && !Number.isSafeInteger(value) && context && /^\d+$/.test(context.source)) {
      return BigInt(context.source);
    }
    return value;
  });
}

const session = { access: null, expiresAt: 0, user: null, listeners: new Set() };

export function currentUser() { return session.user; }
export function accessToken() { return session.access; }
export function onSession(fn) { session.listeners.add(fn); }
function changed() { for (const fn of session.listeners) fn(session.user); }

export function setSession(tokens, user) {
  session.access = tokens.access_token;
  session.expiresAt = Date.now() + (tokens.expires_in - 30) * 1000;
  if (tokens.refresh_token) localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  if (user) session.user = user;
  changed();
}

export function clearSession() {
  session.access = null; session.user = null; session.expiresAt = 0;
  localStorage.removeItem(REFRESH_KEY);
  changed();
}

// The refresh token (kept across reloads) buys a new access token; a refused one ends the session.
export async function refresh() {
  const token = localStorage.getItem(REFRESH_KEY);
  if (!token) return false;
  try {
    const tokens = await request("POST", "/auth/refresh", { body: { refresh_token: token }, auth: false });
    session.access = tokens.access_token;
    session.expiresAt = Date.now() + (tokens.expires_in - 30) * 1000;
    localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
    if (!session.user) session.user = await request("GET", "/users/me");
    changed();
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 400 || err.status === 422) clearSession();
    return false;
  }
}

export async function signOut() {
  const token = localStorage.getItem(REFRESH_KEY);
  if (token) {
    try { await request("POST", "/auth/logout", { body: { refresh_token: token }, auth: false }); } catch { /* gone anyway */ }
  }
  clearSession();
}

function describe(status, p) {
  const detail = p.detail ? ` (${p.detail})` : "";
  if (p.errors && p.errors.length && (status === 400 || status === 422)) {
    return "Please check: " + p.errors.map((e) => `${e.field.replace(/^body\./, "")} — ${e.message}`).join("; ");
  }
  switch (status) {
    case 401: return "You need to sign in (again) with your wallet to do this.";
    case 402: return `Your wallet does not hold enough ETH: this needs ${p.required ?? "?"} ETH and the wallet has ` +
      `${p.available ?? "?"} ETH (short by ${p.shortfall ?? "?"} ETH).`;
    case 403: return "This is not allowed for your account" + detail + ".";
    case 404: return "That was not found — it may have been removed" + detail + ".";
    case 409: return "That conflicts with the current state" + detail + ". Reload and try again.";
    case 413: return "That is too large" + detail + ".";
    case 429: return "Too many requests: please wait a moment and try again.";
    case 503: case 504: return "A service is not answering right now; please try again shortly.";
    default: return status >= 500 ? "Something went wrong on our side; please try again." : (p.detail || p.title || `Request failed (${status}).`);
  }
}

export async function request(method, path, { body, query, headers = {}, auth = true, raw } = {}) {
  if (auth && session.access && Date.now() > session.expiresAt) await refresh();
  const url = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const h = { Accept: "application/json", ...headers };
  if (auth && session.access) h.Authorization = `Bearer ${session.access}`;
  let payload = raw;
  if (body !== undefined) { h["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let resp;
  try {
    resp = await fetch(url, { method, headers: h, body: payload });
  } catch {
    throw new ApiError(0, {}, "The server cannot be reached. Check your connection and try again.");
  }
  if (resp.status === 401 && auth && session.access && path !== "/auth/refresh" && (await refresh())) {
    return request(method, path, { body, query, headers, auth, raw });
  }
  const text = resp.status === 204 ? "" : await resp.text();
  const data = text ? (() => { try { return parseJson(text); } catch { return {}; } })() : null;
  if (!resp.ok) throw new ApiError(resp.status, data, describe(resp.status, data || {}));
  return data;
}

// A file upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/files`);
    if (session.access) xhr.setRequestHeader("Authorization", `Bearer ${session.access}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, {}, "The upload failed: the server cannot be reached."));
    xhr.onload = () => {
      let data = {};
      try { data = parseJson(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data, describe(xhr.status, data)));
    };
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function idempotencyKey(prefix) { return `${prefix}-${crypto.randomUUID()}`; }
