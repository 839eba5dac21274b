// WS /ws: one socket for the page; rooms are (re)subscribed after every reconnect, the
// server's pings are answered, and the user's room follows the session's access token.

import { accessToken, currentUser } from "./api.js";

const rooms = new Map(); // room -> Set(handler)
let socket = null;
let retry = 1000;
let stateListener = () => {};

export function onState(fn) { stateListener = fn; }

function send(doc) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(doc));
}

function subscribeOnServer(room) {
  if (room.startsWith("user:")) {
    if (!accessToken()) return;
    send({ op: "subscribe", room, token: accessToken() });
  } else {
    send({ op: "subscribe", room });
  }
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  socket = new WebSocket(url);
  socket.onopen = () => { retry = 1000; stateListener(true); for (const room of rooms.keys()) subscribeOnServer(room); };
  socket.onmessage = (msg) => {
    let doc;
    try { doc = JSON.parse(msg.data); } catch { return; }
    if (doc.type === "ping") { send({ op: "pong" }); return; }
    if (doc.type === "error" && doc.code === "token_expired") {
      const user = currentUser();
      if (user && accessToken()) subscribeOnServer(`user:${user.id}`);
      return;
    }
    if (doc.type !== "event") return;
    for (const fn of rooms.get(doc.room) || []) fn(doc);
  };
  socket.onclose = () => {
    stateListener(false);
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  };
}

export function subscribe(room, handler) {
  if (!socket) connect();
  let set = rooms.get(room);
  if (!set) { set = new Set(); rooms.set(room, set); subscribeOnServer(room); }
  set.add(handler);
  return () => {
    set.delete(handler);
    if (!set.size) { rooms.delete(room); send({ op: "unsubscribe", room }); }
  };
}

// After sign-in (or a refreshed token) the user's room can be joined.
export function resubscribeUser() {
  for (const room of rooms.keys()) if (room.startsWith("user:")) subscribeOnServer(room);
}
