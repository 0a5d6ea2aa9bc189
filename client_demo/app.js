// The openline demo page: one client at a time, socket.io or the browser's bare WebSocket.
// Form fields can be preset from the page's query string (?kind=websocket&nickname=ann&connect=1).

const $ = (id) => document.getElementById(id);
const READY_STATES = ["CONNECTING", "OPEN", "CLOSING", "CLOSED"];
// socket.io-client ships one build per parser; each defines the global `io`.
const BUNDLES = { json: "/vendor/socket.io.min.js", msgpack: "/vendor/socket.io.msgpack.min.js" };
const RETRY_CODES = new Set([1001, 1006, 1011, 1012, 1013]); // transient: worth a reconnect
const MAX_RETRIES = 5;
// the server's --path (server/demo.py puts it in the page): socket.io-client's path option
const ENGINE_PATH = document.querySelector('meta[name="openline-path"]')?.content || "/socket.io/";

let client = null; // { kind, close() , send(text) }
const loaded = {};

const pad = (n) => String(n).padStart(2, "0");

// Local wall-clock time, HH:MM:SS; the <time> element keeps the exact moment.
function stamp(element) {
  const now = new Date();
  element.dateTime = now.toISOString();
  element.textContent = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return element;
}

function show(text) {
  if (typeof text === "string") return text;
  if (text instanceof ArrayBuffer) return `<binary ${text.byteLength} bytes>`;
  return JSON.stringify(text, (k, v) =>
    v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? `<binary ${v.byteLength} bytes>` : v);
}

function log(dir, text) {
  const item = document.createElement("li");
  item.className = dir;
  item.dataset.dir = dir;
  item.innerHTML = `<time></time> <b></b> <span></span>`;
  stamp(item.querySelector("time"));
  item.querySelector("b").textContent = { in: "←", out: "→", info: "•", err: "!" }[dir];
  item.querySelector("span").textContent = text;
  $("log").prepend(item);
}

// An error goes to the Errors list and, once, to the log (its only line there).
function error(text) {
  const item = document.createElement("li");
  item.append(stamp(document.createElement("time")), ` ${text}`);
  $("errors").prepend(item);
  log("err", text);
}

// socket.io mode's argument: the text as JSON when it is JSON ("lobby" needs no quotes).
function argument(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function setState(state, text) {
  $("state").dataset.state = state;
  $("state").textContent = text;
  // Connect stays enabled: it replaces the current client with one made from the form.
  $("disconnect").disabled = state === "idle" || state === "closed";
  $("send").disabled = state !== "open";
}

function settings() {
  return {
    kind: document.querySelector("input[name=kind]:checked").value,
    namespace: $("namespace").value.trim() || "/",
    room: $("room").value.trim(),
    nickname: $("nickname").value.trim(),
    parser: $("parser").value,
    transport: $("transport").value,
    event: $("event").value.trim() || "message",
  };
}

// --- plain WebSocket: the seed's API, nothing else --------------------------------

function connectWebSocket(s, attempt = 0) {
  const query = new URLSearchParams();
  if (s.nickname) query.set("nickname", s.nickname);
  if (s.room) query.set("room", s.room);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}${s.namespace}${query.size ? "?" + query : ""}`;
  $("url").textContent = `new WebSocket('${url}')`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  let closedByUser = false;
  const ready = () => `readyState ${ws.readyState} (${READY_STATES[ws.readyState]})`;
  setState("connecting", ready());

  ws.onopen = () => {
    attempt = 0;
    setState("open", ready());
    log("info", "open");
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string" && e.data.startsWith('{"event":"error"')) {
      error(`error event: ${show(JSON.parse(e.data).data[0])}`);
    } else {
      log("in", show(e.data));
    }
  };
  // no line of its own: the close that always follows says what happened, with its code
  ws.onerror = () => {};
  ws.onclose = (e) => {
    setState("closed", `${ready()} · close code ${e.code}${e.reason ? ` · ${e.reason}` : ""}`);
    if (!closedByUser && e.code !== 1000) error(`close ${e.code}${e.reason ? ` ${e.reason}` : ""}`);
    if (!closedByUser && RETRY_CODES.has(e.code) && attempt < MAX_RETRIES) {
      const delay = 500 * 2 ** attempt;
      log("info", `reconnect attempt ${attempt + 1} in ${delay} ms`);
      setTimeout(() => {
        if (client && client.ws === ws) client = connectWebSocket(s, attempt + 1);
      }, delay);
    }
  };
  return {
    kind: "websocket",
    ws,
    send(text) {
      ws.send(text);
      log("out", text);
    },
    close() {
      closedByUser = true;
      ws.close(1000);
    },
  };
}

// --- socket.io --------------------------------------------------------------------

function loadBundle(parser) {
  loaded[parser] ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = BUNDLES[parser];
    script.onload = () => resolve(window.io);
    script.onerror = () => {
      delete loaded[parser];
      reject(new Error("socket.io-client is not installed"));
    };
    document.head.append(script);
  });
  return loaded[parser];
}

async function connectSocketIO(s) {
  let io;
  try {
    io = await loadBundle(s.parser);
  } catch (e) {
    error(`${e.message}: run \`make run\` (or \`npm ci\` in client_demo/)`);
    setState("idle", "not connected");
    return null;
  }
  const options = {
    forceNew: true,
    auth: { nickname: s.nickname, room: s.room || undefined },
    reconnectionAttempts: MAX_RETRIES,
  };
  if (s.transport !== "auto") options.transports = [s.transport];
  if (ENGINE_PATH !== "/socket.io/") options.path = ENGINE_PATH;
  $("url").textContent = `io('${location.origin}${s.namespace}', ${JSON.stringify(options)}) · ${s.parser}`;
  const socket = io(location.origin + s.namespace, options);
  const describe = () => {
    const engine = socket.io.engine;
    return socket.connected ? `connected · ${engine ? engine.transport.name : "?"} · ${s.parser}` : "disconnected";
  };
  setState("connecting", "connecting");

  // The engine may upgrade before the namespace's CONNECT ack: listen from its "open".
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    log("info", `engine open over ${engine.transport.name}`);
    engine.on("upgrade", (t) => {
      log("info", `upgraded to ${t.name}`);
      if (socket.connected) setState("open", describe());
    });
  });
  socket.on("connect", () => {
    setState("open", describe());
    log("info", `connected as ${socket.id} over ${socket.io.engine.transport.name}`);
  });
  socket.on("connect_error", (e) => {
    error(`connect_error: ${e.message}`);
    if (!socket.active) setState("closed", `refused · ${e.message}`);
  });
  socket.on("disconnect", (reason) => {
    setState(socket.active ? "connecting" : "closed", `disconnected · ${reason}`);
    log("info", `disconnect: ${reason}`);
  });
  socket.io.on("reconnect_attempt", (n) => log("info", `reconnect attempt ${n}`));
  socket.io.on("reconnect_failed", () => error("reconnect failed"));
  socket.onAny((event, ...args) => {
    if (event === "error") error(`error event: ${show(args[0])}`);
    else log("in", `${event} ${show(args.length === 1 ? args[0] : args)}`);
  });
  const acked = (event) => (...ack) => log("in", `ack of ${event}: ${show(ack.length === 1 ? ack[0] : ack)}`);
  return {
    kind: "socketio",
    socket,
    send(text) {
      const event = settings().event;
      if (text === "") {
        log("out", event);
        socket.emit(event, acked(event));
        return;
      }
      const arg = argument(text);
      log("out", `${event} ${show(arg)}`);
      socket.emit(event, arg, acked(event));
    },
    close() {
      socket.disconnect();
    },
  };
}

// --- the page -----------------------------------------------------------------------

async function connect(event) {
  event?.preventDefault();
  if (client) client.close();
  const s = settings();
  client = s.kind === "websocket" ? connectWebSocket(s) : await connectSocketIO(s);
}

function presetFromQuery() {
  const params = new URLSearchParams(location.search);
  const kind = params.get("kind");
  if (kind) document.querySelector(`input[name=kind][value=${CSS.escape(kind)}]`).checked = true;
  for (const id of ["namespace", "room", "nickname", "parser", "transport", "event"]) {
    if (params.has(id)) $(id).value = params.get(id);
  }
  return params.get("connect") === "1";
}

async function checkBundles() {
  const res = await fetch(BUNDLES.json, { method: "HEAD" }).catch(() => null);
  if (res && res.ok) return;
  const notice = $("bundle-notice");
  notice.textContent = "The socket.io client bundles are not installed: run `make run`, or " +
    "`npm ci` in client_demo/. Plain WebSocket mode works without them.";
  notice.hidden = false;
}

// The Admin UI link, when this server serves it (--admin): server/demo.py says so.
async function checkAdmin() {
  const res = await fetch("/demo/page.json").catch(() => null);
  const info = res && res.ok ? await res.json().catch(() => ({})) : {};
  $("admin-link").hidden = info.admin !== true;
}

function syncKind() {
  document.body.dataset.kind = settings().kind;
}

$("settings").addEventListener("submit", connect);
$("settings").addEventListener("change", syncKind);
$("disconnect").addEventListener("click", () => client?.close());
$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  // socket.io may send an event without an argument; a WebSocket frame needs text
  if (!client || (!text && client.kind !== "socketio")) return;
  client.send(text);
  $("text").value = "";
});

const autoconnect = presetFromQuery();
syncKind();
checkBundles();
checkAdmin();
if (autoconnect) connect();
