// Drives the npm socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4; package.json's
// "socket.io-client-v2" alias) through one named scenario against an openline server run
// with --allow-eio3. argv[2] is JSON: {scenario, url, transports, ...scenario fields}.
// Prints ONE JSON line of results (binary values as {"bin": [...]}) and exits; gives up on
// its own after options.timeout ms. A 2.x client's auth is its `query` option: it goes on
// every Engine.IO request and, for a namespace other than "/", in the CONNECT packet.
import io from "socket.io-client-v2";
import { io as io4 } from "socket.io-client";
import { scenario, show } from "./common.mjs";

const { opts, limit: LIMIT, sockets, finish, run } = scenario();

function once(emitter, event, ms = LIMIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

// socket.emit(event, ...args) with an ack: resolves with the ack's arguments
function ask(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), LIMIT);
    socket.emit(event, ...args, (...reply) => { clearTimeout(timer); resolve(reply); });
  });
}

// A 2.x socket for namespace `ns` with `query`; records its events from the start and,
// with the default transports, the polling→websocket upgrade.
function open(ns, query, o = {}) {
  const options = { forceNew: true, reconnection: false, ...(o.client ?? {}) };
  if (query) options.query = query;
  const transports = o.transports === undefined ? opts.transports : o.transports;
  if (transports) options.transports = transports;
  const socket = io(opts.url + ns, options);
  sockets.push(socket);
  socket.log = [];
  const onevent = socket.onevent;
  socket.onevent = function (packet) { socket.log.push((packet.data || [])[0]); onevent.call(this, packet); };
  socket.on("connect", () => socket.log.push("connect"));
  socket.on("error", () => socket.log.push("error"));
  socket.upgraded = new Promise((resolve) => {
    socket.io.on("open", () => {
      const engine = socket.io.engine;
      socket.first = engine.transport.name;
      if (engine.transport.name === "websocket" || !engine.upgrades.length) resolve(false);
      else engine.once("upgrade", () => resolve(true));
    });
  });
  return socket;
}

// connected, and upgraded when the transports allow it: then what the transport was
async function connected(ns, query, o = {}) {
  const socket = open(ns, query, o);
  await once(socket, "connect");
  const upgraded = await socket.upgraded;
  socket.info = { first: socket.first, upgraded, transport: socket.io.engine.transport.name };
  return socket;
}

const bytes = (...b) => Buffer.from(b);

const scenarios = {
  // "/" (the echo plugin): joined without a CONNECT of the client's; send, an ack, binary
  async root() {
    const socket = await connected("/", opts.query);
    const idIsEngineId = socket.id === socket.io.engine.id;
    const message = once(socket, "message");
    socket.send({ text: "héllo ☎ 😀" });
    const [echoed] = await message;
    const acked = await ask(socket, "echo", 1, "two", null, { three: [3] });
    const binary = await ask(socket, "echo", bytes(1, 2, 3), { nested: new Uint8Array([4, 5]).buffer }, "x");
    return { ...socket.info, idIsEngineId, message: echoed, acked, binary: show(binary), log: socket.log };
  },
  // "/test" (tests/plugins/probe.py): query as auth, connect before the handler's emit, the
  // server's sid is the client's id, binary both ways, and the client's disconnect
  async probe() {
    const observer = await connected("/test", { observer: "1" }, { transports: ["websocket"] });
    const socket = open("/test", opts.query);
    const [welcome] = await once(socket, "welcome");
    if (!socket.connected) await once(socket, "connect");
    const upgraded = await socket.upgraded;
    const info = { first: socket.first, upgraded, transport: socket.io.engine.transport.name };
    const [room] = await ask(socket, "join", "r1");
    const [members] = await ask(socket, "members", room);
    const [types] = await ask(socket, "types", bytes(1, 2, 3), new Uint8Array([4, 5, 6]), new Uint8Array([0, 255, 7]).buffer, "s");
    const back = await ask(socket, "binary", bytes(9), { nested: bytes(104, 105) }, [bytes(), "x"]);
    const id = socket.id;
    const engineId = socket.io.engine.id;
    socket.close();
    let reason = null;
    for (let i = 0; i < 200 && reason == null; i++) {
      [reason] = await ask(observer, "reason", id);
      if (reason == null) await new Promise((r) => setTimeout(r, 10));
    }
    return { ...info, welcome, log: socket.log, idIsNamespaceAndEngineId: id === `/test#${engineId}`,
             membersAreTheId: members.length === 1 && members[0] === id, types, back: show(back), reason };
  },
  // "/chat": two 2.x clients and a 4.x client in one room; a message is broadcast to the
  // others, a leave is announced
  async chat() {
    const ann = await connected("/chat", { nickname: "ann", room: "lobby" });
    const bob = await connected("/chat", { nickname: "bob", room: "lobby" });
    const cy = io4(opts.url + "/chat", { forceNew: true, reconnection: false, auth: { nickname: "cy", room: "lobby" } });
    sockets.push(cy);
    await once(cy, "connect");
    const [who] = await ask(ann, "who", "lobby");
    const toBob = once(bob, "message");
    const toCy = once(cy, "message");
    const [sent] = await ask(ann, "message", "hi ☎");
    const [[atBob], [atCy]] = await Promise.all([toBob, toCy]);
    const strip = (m) => ({ ...m, ts: typeof m.ts });
    const left = once(ann, "presence");
    bob.close();
    const [presence] = await left;
    return { who, sent: sent.map(strip), atBob: strip(atBob), atCy: strip(atCy), presence,
             transports: [ann.info.transport, bob.info.transport] };
  },
  // refusals: a connect handler's reason and an unknown namespace, each an "error" event
  async refused() {
    const refused = open("/test", { refuse: "members only, sorry" });
    const [reason] = await once(refused, "error");
    const nowhere = open("/nowhere");
    const [invalid] = await once(nowhere, "error");
    const chat = open("/chat");
    const [nickname] = await once(chat, "error");
    return { reason, invalid, nickname, connected: [refused.connected, nowhere.connected, chat.connected] };
  },
  // a server without --allow-eio3: the client cannot open its Engine.IO session
  async unsupported() {
    const socket = open("/", null);
    const [err] = await once(socket, "connect_error");
    return { message: err.message, description: String(err.description && (err.description.message || err.description)),
             connected: socket.connected };
  },
  // pings answered for opts.cycles pong events, then the client stops pinging (its own
  // timer too): the server closes the session pingInterval + pingTimeout after its last ping
  async heartbeat() {
    const socket = await connected("/", null);
    const engine = socket.io.engine;
    let pongs = 0;
    let lastPing = null;
    engine.on("ping", () => { lastPing = Date.now(); });
    await new Promise((resolve) => engine.on("pong", () => { if (++pongs === opts.cycles) resolve(); }));
    engine.ping = () => {};
    engine.onHeartbeat = () => {};
    clearTimeout(engine.pingTimeoutTimer);
    clearTimeout(engine.pingIntervalTimer);
    const [reason] = await once(socket, "disconnect");
    return { pongs, reason, transport: engine.transport.name, pingInterval: engine.pingInterval,
             pingTimeout: engine.pingTimeout, closedAfter: Date.now() - lastPing };
  },
};

await run(scenarios);
