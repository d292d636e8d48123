// The globalchat browser client: the line protocol (docs/protocol.md)
// over a WebSocket, one line per text frame.  Everything a user wrote is
// put on the page as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KINDS = /^(MSG|ACT|PRIV|JOIN|PART|QUIT|NICK|TOPIC|ROOM|WHO|INFO|HIST|OK|AUTH|ERROR)$/;
const MESSAGE_COMMANDS = ["me", "msg"];
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;

const state = {
  socket: null, name: "", password: "", loggedIn: false, resuming: false, left: false,
  lastId: 0, panes: new Map(), active: null, outbox: [], typedBeforeLogin: [],
  quietRooms: [], recall: [], recallAt: 0, retries: 0, sequence: 0, early: [], follow: null,
  prefix: Math.random().toString(36).slice(2, 8),
};

// -- panes: one per room and one per private conversation --------------

function pane(key, label, room) {
  let found = state.panes.get(key);
  if (!found) {
    const el = document.createElement("div");
    el.className = "pane";
    el.hidden = true;
    el.addEventListener("scroll", () => scrolled(found));
    $("log").append(el);
    found = { key, label, room, el, ids: new Set(), unread: 0, count: null, topic: "", asked: 0 };
    state.panes.set(key, found);
    drawSide();
  }
  return found;
}

const same = (a, b) => a.toLowerCase() === b.toLowerCase();
const roomPane = (room) => pane(room.toLowerCase(), room, true);
const privatePane = (who) => pane("@" + who.toLowerCase(), who, false);

function show(target) {
  state.active = target;
  target.unread = 0;
  for (const p of state.panes.values()) p.el.hidden = p !== target;
  $("title").textContent = target.label;
  $("topic").textContent = target.topic;
  $("chat").classList.remove("menu-open");
  for (const [kind, text] of state.early.splice(0)) note(kind, text);
  target.el.scrollTop = target.el.scrollHeight;
  drawSide();
}

function choose(target) {
  if (target.room && state.loggedIn) send("/join " + target.label, true);
  show(target);
}

function drawSide() {
  for (const [list, room] of [[$("rooms"), true], [$("people"), false]]) {
    list.replaceChildren();
    for (const p of state.panes.values()) {
      if (p.room !== room) continue;
      const item = document.createElement("li");
      item.className = p === state.active ? "active" : "";
      const label = document.createElement("span");
      label.textContent = p.label;
      item.append(label);
      const extra = document.createElement("span");
      if (p.count !== null) {
        const count = document.createElement("span");
        count.className = "count";
        count.textContent = p.count;
        extra.append(count);
      }
      if (p.unread) {
        const unread = document.createElement("span");
        unread.className = "unread";
        unread.textContent = p.unread;
        extra.append(unread);
      }
      item.append(extra);
      item.addEventListener("click", () => choose(p));
      list.append(item);
    }
  }
}

// -- lines on the page ---------------------------------------------------

function linkified(text) {
  const parts = [];
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, "");
    parts.push(text.slice(at, match.index));
    const link = document.createElement("a");
    link.href = new URL(url).href;
    link.textContent = url;
    link.rel = "noopener noreferrer nofollow";
    link.target = "_blank";
    parts.push(link);
    at = match.index + url.length;
  }
  parts.push(text.slice(at));
  return parts;
}

function stamp(when) {
  const el = document.createElement("time");
  el.dateTime = when.toISOString();
  el.title = when.toLocaleString();
  const today = new Date().toDateString() === when.toDateString();
  el.textContent = (today ? "" : when.toLocaleDateString() + " ") +
    when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return el;
}

// Put a line in a pane, in message id order, at most once per id.
function put(target, kind, who, text, when, id, old) {
  if (id !== null && target.ids.has(id)) return;
  const line = document.createElement("p");
  line.className = "line " + kind + (old ? " old" : "");
  line.append(stamp(when));
  if (who) {
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who;
    line.append(name);
  }
  line.append(...linkified(text));
  const el = target.el;
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  let before = null;
  if (id !== null) {
    target.ids.add(id);
    line.dataset.id = id;
    for (let node = el.lastElementChild; node; node = node.previousElementSibling) {
      if (node.dataset.id === undefined) continue;
      if (Number(node.dataset.id) < id) break;
      before = node;
    }
  }
  el.insertBefore(line, before);
  if (before) el.scrollTop += line.offsetHeight;
  else if (atBottom || target !== state.active) el.scrollTop = el.scrollHeight;
  if (target !== state.active && id !== null && kind.startsWith("message")) {
    target.unread += 1;
    drawSide();
  }
}

function note(kind, text) {
  if (state.active) put(state.active, kind, "", text, new Date(), null, false);
  else state.early.push([kind, text]);
}

// -- lines from the server -----------------------------------------------

function tagsOf(line) {
  const tags = {};
  if (!line.startsWith("@")) return [tags, line];
  const space = line.indexOf(" ");
  for (const item of line.slice(1, space).split(";")) {
    const eq = item.indexOf("=");
    if (eq === -1) tags[item] = "";
    else tags[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return [tags, line.slice(space + 1)];
}

const words = (text, count) => {
  const parts = text.split(" ");
  return [...parts.slice(0, count), parts.slice(count).join(" ")];
};

function received(raw) {
  let [tags, line] = tagsOf(raw);
  let when = new Date(), old = false;
  if (line.startsWith("HIST ")) {
    const [, time, rest] = words(line, 2);
    when = new Date(time);
    line = rest;
    old = true;
  }
  const id = /^\d+$/.test(tags.id || "") ? Number(tags.id) : null;
  if (id !== null) state.lastId = Math.max(state.lastId, id);
  if (tags.cid) state.outbox = state.outbox.filter((o) => o.cid !== tags.cid);
  const kind = line.split(" ", 1)[0];
  if (!state.loggedIn) return loginAnswer(kind, line);
  if (!KINDS.test(kind)) return note("info", line);
  handlers[kind](line, when, id, old);
}

const handlers = {
  MSG(line, when, id, old) {
    const [, room, rest] = words(line, 2);
    const [who, text] = words(rest, 1);
    put(roomPane(room), "message", who.slice(1, -1), text, when, id, old);
  },
  ACT(line, when, id, old) {
    const [, room, , who, text] = words(line, 4);
    put(roomPane(room), "message action", "* " + who, text, when, id, old);
  },
  PRIV(line, when, id, old) {
    const [, from, to, text] = words(line, 3);
    const sender = from.slice(1, -1), recipient = to.slice(1);
    const other = same(sender, state.name) ? recipient : sender;
    put(privatePane(other), "message", sender, text, when, id, old);
  },
  JOIN(line, when) {
    const [, room, who] = words(line, 2);
    const target = roomPane(room);
    if (same(who, state.name) && (!state.active || state.follow === target.key)) show(target);
    put(target, "event", "", `${who} joined`, when, null, false);
    refreshRooms();
  },
  PART(line, when) {
    const [, room, who, reason] = words(line, 3);
    const target = roomPane(room);
    if (!same(who, state.name)) {
      put(target, "event", "", `${who} left ${reason}`.trim(), when, null, false);
    } else {
      target.el.remove();
      state.panes.delete(target.key);
      const next = [...state.panes.values()].find((p) => p.room);
      if (state.active === target && next) choose(next);
    }
    refreshRooms();
  },
  QUIT(line, when) {
    const [, who, reason] = words(line, 2);
    note("event", `${who} quit ${reason}`.trim());
    refreshRooms();
  },
  NICK(line) {
    const [, before, after] = words(line, 2);
    if (same(before, state.name)) state.name = after;
    note("event", `${before} is now ${after}`);
  },
  TOPIC(line, when) {
    const [, room, who, text] = words(line, 3);
    const target = roomPane(room);
    target.topic = text;
    if (target === state.active) $("topic").textContent = text;
    if (who !== "-") put(target, "event", "", `${who} set the topic: ${text}`, when, null, false);
  },
  ROOM(line) {
    const [, room, count, topic] = words(line, 3);
    const known = state.panes.get(room.toLowerCase());
    if (known) {
      known.count = Number(count);
      known.topic = topic;
    }
    if (!state.quietRooms[0]) note("info", `${room} ${count} ${topic}`.trim());
    drawSide();
  },
  OK(line) {
    if (line === "OK /rooms") state.quietRooms.shift();
  },
  AUTH(line) { note("error", line); },
  WHO(line) { note("info", line.slice(4)); },
  INFO(line) { note("info", line.slice(5)); },
  ERROR(line) { note("error", line.slice(6)); },
};

let roomsTimer = null;
function refreshRooms() {
  clearTimeout(roomsTimer);
  roomsTimer = setTimeout(() => state.loggedIn && send("/rooms", true), 500);
}

// -- logging in, and in again ----------------------------------------------

function loginAnswer(kind, line) {
  if (kind === "AUTH") {
    if (state.password) return state.socket.send(state.password);
    return refused("this name needs its password");
  }
  if (kind === "ERROR") {
    const why = line.slice(6);
    // Our dropped connection may still hold the name for a moment.
    if (state.resuming && /taken|try again/.test(why)) return state.socket.close();
    return refused(why);
  }
  state.loggedIn = true;
  state.retries = 0;
  $("banner").hidden = true;
  $("login").hidden = true;
  $("chat").hidden = false;
  if (!state.resuming) {
    note("info", line);
  } else {
    for (const p of state.panes.values()) {
      if (p.room && p !== state.active) send("/join " + p.label, true);
    }
    if (state.active && state.active.room) send("/join " + state.active.label, true);
    for (const o of state.outbox) state.socket.send(`@id=${o.cid} ${o.text}`);
  }
  state.resuming = true;
  for (const text of state.typedBeforeLogin.splice(0)) send(text);
  $("line").focus();
  refreshRooms();
}

function refused(why) {
  state.left = true;
  state.socket.close();
  if (state.loggedIn || state.resuming) {
    banner(`The server refused to let you back in: ${why}. Reload the page to start again.`);
  } else {
    $("login-error").textContent = why;
    $("login").hidden = false;
  }
}

function banner(text) {
  $("banner").textContent = text;
  $("banner").hidden = false;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws`);
  state.socket = socket;
  state.loggedIn = false;
  socket.onopen = () => {
    socket.send(state.resuming ? `@resume=${state.lastId} ${state.name}` : `@tags ${state.name}`);
  };
  socket.onmessage = (event) => received(event.data);
  socket.onclose = (event) => {
    if (socket !== state.socket) return;
    state.loggedIn = false;
    if (state.left) return;
    if (!state.resuming) {
      $("login-error").textContent = "cannot reach the server" + (event.reason ? `: ${event.reason}` : "");
      return;
    }
    const delay = Math.min(30, 2 ** state.retries) * (0.8 + 0.4 * Math.random());
    state.retries += 1;
    banner(`Connection lost${event.reason ? ` (${event.reason})` : ""}. Reconnecting in ${delay.toFixed(0)} s…`);
    setTimeout(connect, delay * 1000);
  };
}

// -- what the user types -----------------------------------------------------

function isMessage(text) {
  if (!text.startsWith("/") || text.startsWith("//")) return true;
  return MESSAGE_COMMANDS.includes(text.slice(1).split(" ", 1)[0].toLowerCase());
}

// Send a line; one the server stores gets a client id, and is sent again
// with it after a reconnection until its stored copy comes back.
function send(text, quiet) {
  if (!state.loggedIn) {
    if (!quiet) state.typedBeforeLogin.push(text);
    return;
  }
  if (/^\/rooms\b/i.test(text)) state.quietRooms.push(Boolean(quiet));
  const joining = /^\/join\s+#?(\S+)/i.exec(text);
  if (joining && !quiet) {
    state.follow = "#" + joining[1].toLowerCase();
    const known = state.panes.get(state.follow);
    if (known) show(known);
  }
  if (/^\/quit\b/i.test(text)) state.left = true;
  if (!isMessage(text)) return state.socket.send(text);
  const cid = `${state.prefix}.${++state.sequence}`;
  state.outbox.push({ cid, text });
  state.socket.send(`@id=${cid} ${text}`);
}

function typed(text) {
  if (!text.trim()) return;
  state.recall.push(text);
  state.recallAt = state.recall.length;
  const target = state.active;
  if (target && !target.room && !text.startsWith("/")) text = `/msg ${target.label} ${text}`;
  send(text);
  if (state.left) banner("You left the chat. Reload the page to join again.");
}

// Near the top of a room: ask for older messages.
function scrolled(target) {
  if (!target.room || target.el.scrollTop > 0 || !state.loggedIn) return;
  const wanted = Math.min(1000, target.ids.size + 50);
  if (wanted <= target.asked) return;
  target.asked = wanted;
  send(`/history ${target.label} ${wanted}`, true);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.name = $("name").value.trim();
    state.password = $("password").value;
    state.left = false;
    $("login-error").textContent = "";
    connect();
  });
  $("say").addEventListener("submit", (event) => {
    event.preventDefault();
    typed($("line").value);
    $("line").value = "";
  });
  $("line").addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    const step = event.key === "ArrowUp" ? -1 : 1;
    state.recallAt = Math.max(0, Math.min(state.recall.length, state.recallAt + step));
    $("line").value = state.recall[state.recallAt] || "";
    event.preventDefault();
  });
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("join-name").value.trim().replace(/^#/, "");
    if (room) send(`/join ${room}`);
    $("join-name").value = "";
  });
  $("menu").addEventListener("click", () => $("chat").classList.toggle("menu-open"));
});
