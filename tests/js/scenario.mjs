// Drives the npm socket.io-client through one named scenario against an openline server.
// argv[2] is JSON: {scenario, url, namespace, transports, parser, auth, ...scenario fields}.
// Prints ONE JSON line of results (binary values as {"bin": [...]}, undefined as
// {"undefined": true}) and exits; gives up on its own after options.timeout ms.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { scenario, show } from "./common.mjs";

const { opts, limit: LIMIT, sockets, finish, run } = scenario();


function once(emitter, event, ms = LIMIT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

// A socket for `o` (defaults: opts). Records the event order from the start, and with
// the default transports waits until the polling→websocket upgrade has happened.
function open(o = {}) {
  const o2 = { ...opts, ...o };
  const options = { forceNew: true, reconnection: false, auth: o2.auth ?? {}, ...(o2.client ?? {}) };
  if (o2.transports) options.transports = o2.transports;
  if (o2.parser === "msgpack") options.parser = msgpackParser;
  const socket = io(o2.url + (o2.namespace ?? "/"), options);
  sockets.push(socket);
  socket.log = [];
  socket.onAny((event) => socket.log.push(event));
  socket.on("connect", () => socket.log.push("connect"));
  socket.upgraded = new Promise((resolve) => {
    socket.io.on("open", () => {
      const engine = socket.io.engine;
      socket.firstTransport = engine.transport.name;
      if (engine.transport.name === "websocket") resolve(false);
      else engine.once("upgrade", () => resolve(true));
    });
  });
  return socket;
}

async function connected(o = {}) {
  const socket = open(o);
  await once(socket, "connect");
  const wantUpgrade = !(o.transports ?? opts.transports);
  const upgraded = wantUpgrade ? await socket.upgraded : false;
  socket.transportInfo = { first: socket.firstTransport, upgraded, transport: socket.io.engine.transport.name };
  return socket;
}

const scenarios = {
  // auth reaches on_connect; an emit from inside on_connect arrives after "connect"
  async connect() {
    const socket = open();
    const [welcome] = await once(socket, "welcome");
    if (!socket.connected) await once(socket, "connect");
    const upgraded = opts.transports ? false : await socket.upgraded;
    return { welcome, log: socket.log, id: typeof socket.id, first: socket.firstTransport, upgraded,
             transport: socket.io.engine.transport.name };
  },
  async connect_error() {
    const socket = open();
    const [err] = await once(socket, "connect_error");
    return { message: err.message, data: err.data ?? null, connected: socket.connected };
  },
  // socket.send is the "message" event; "echo" acks all its arguments
  async echo() {
    const socket = await connected();
    socket.send(opts.payload);
    const [message] = await once(socket, "message");
    const acked = await new Promise((resolve) => socket.emit("echo", ...opts.args, (...a) => resolve(a)));
    return { ...socket.transportInfo, message, acked: show(acked) };
  },
  async binary() {
    const socket = await connected();
    const sent = [Buffer.from([1, 2, 3]), new Uint8Array([4, 5, 6]), new Uint8Array([0, 255, 7]).buffer,
                  undefined, { nested: Buffer.from("hi") }];
    const types = await socket.emitWithAck("types", ...sent);
    const back = await new Promise((resolve) => socket.emit("binary", ...sent, (...a) => resolve(a)));
    return { ...socket.transportInfo, types, back: show(back) };
  },
  // a crash / EventError answers with "error", and the connection keeps working
  async errors() {
    const socket = await connected();
    const results = {};
    for (const [event, arg] of opts.events) {
      const got = once(socket, "error");
      if (arg === undefined) socket.emit(event); else socket.emit(event, arg);
      [results[event]] = await got;
    }
    const after = await socket.timeout(LIMIT).emitWithAck(opts.after ?? "echo", ...(opts.afterArgs ?? ["still", "here"]));
    return { ...socket.transportInfo, errors: results, after, connected: socket.connected };
  },
  // the server disconnects us: reason "io server disconnect", and no reconnection
  async kick() {
    const socket = open({ client: { reconnection: true, reconnectionDelay: 20, reconnectionDelayMax: 20 } });
    await once(socket, "connect");
    let attempts = 0;
    socket.io.on("reconnect_attempt", () => attempts++);
    socket.emit("kick");
    const [reason] = await once(socket, "disconnect");
    // absence of a reconnect can only be seen by waiting; 20 ms delay, so 30x margin
    await new Promise((r) => setTimeout(r, opts.quiet ?? 600));
    return { reason, attempts, active: socket.active, connected: socket.connected };
  },
  // the server calls us with an ack (we answer) and with a timeout (we stay silent)
  async call() {
    const socket = await connected();
    socket.on("ask", (data, cb) => cb({ got: data, from: "js" }));
    socket.on("ignore", () => {});
    socket.on("askbin", (data, cb) => cb(Buffer.from([9, 8, 0]), new Uint8Array([7]).buffer));
    const answered = await socket.emitWithAck("call_client", "ask", { n: 1 }, 5);
    const binary = show(await socket.emitWithAck("call_client", "askbin", "x", 5));
    const silent = await socket.emitWithAck("call_client", "ignore", { n: 2 }, opts.callTimeout ?? 0.3);
    return { ...socket.transportInfo, answered, binary, silent };
  },
  // every socket (one per entry of opts.parsers) joins opts.room; the first broadcasts
  async room() {
    const socks = [];
    for (const parser of opts.parsers ?? [opts.parser]) socks.push(await connected({ parser }));
    for (const s of socks) await s.emitWithAck("join", opts.room);
    const [sender, ...others] = socks;
    const arrivals = others.map((s) => once(s, "broadcast"));
    const payload = opts.binary ? { bytes: Buffer.from([0, 1, 254]), plain: opts.payload } : opts.payload;
    const acked = await sender.emitWithAck("broadcast", opts.room, payload);
    const received = (await Promise.all(arrivals)).map(([p]) => show(p));
    // the server writes in order: a broadcast to the sender would precede this ack
    await sender.emitWithAck("echo", "sync");
    return { acked, received, senderLog: sender.log, transports: socks.map((s) => s.transportInfo.transport) };
  },
  // many events right after connect, while polling upgrades to websocket: none lost,
  // the server handles them in order and the acks come back in order
  async burst() {
    const socket = open();
    await once(socket, "connect");
    const n = opts.count ?? 200;
    const acks = [];
    const all = [];
    for (let i = 0; i < n; i++) {
      socket.emit("slow", String(i), 0);
      all.push(new Promise((resolve) => socket.emit("echo", i, (v) => { acks.push(v); resolve(); })));
    }
    await Promise.all(all);
    const order = await socket.emitWithAck("order");
    const upgraded = opts.transports ? false : await socket.upgraded;
    return { inOrder: order.join(",") === [...Array(n).keys()].join(","),
             acksInOrder: acks.join(",") === [...Array(n).keys()].join(","), count: acks.length,
             upgraded, transport: socket.io.engine.transport.name };
  },
  // socket.disconnect(): the server's on_disconnect gets "client disconnect"
  async leave() {
    const observer = await connected({ transports: ["websocket"] });
    const socket = await connected();
    const sid = socket.id;
    socket.disconnect();
    let reason = null;
    for (let i = 0; i < 200 && reason == null; i++) {
      reason = await observer.emitWithAck("reason", sid);
      if (reason == null) await new Promise((r) => setTimeout(r, 10));
    }
    return { reason, transport: socket.transportInfo.transport };
  },
  // two namespaces over one connection (one Manager); a kick from one leaves the other
  async multiplex() {
    const first = open({ namespace: "/test", client: { forceNew: false } });
    const second = open({ namespace: "/shaped", client: { forceNew: false } });
    await Promise.all([once(first, "connect"), once(second, "connect")]);
    const shared = first.io === second.io;
    first.emit("kick");
    const [reason] = await once(first, "disconnect");
    const check = await second.timeout(LIMIT).emitWithAck("check");
    return { shared, reason, check, secondConnected: second.connected };
  },
};

await run(scenarios);
