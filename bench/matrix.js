// The matrix scenarios of loadgen.js (issue #15): the ways a plugin answers, each driven the
// same way against openline (bench/plugins/openline_bench_ns.py) and Node
// (bench/node_server.js), both on /bench.
//   node loadgen.js --scenario matrix --pattern NAME [--mode closed|open|check] ...
// Rate patterns: closed loop (each client keeps --window requests in flight; a reply sends
// the next) or open loop (--rate requests/s across all clients, latency counted from when
// each was due). Fan-out patterns: members count deliveries of --count rounds.
// --mode check: one request (one round) against --clients 2, printing what came back,
// decoded, so tests can compare the two servers' answers.
"use strict";
const http = require("http");
const notepack = require("notepack.io");
const { RawClient } = require("./rawclient");
const { NSP, encodeEvent, isEvent, sourceAddress } = require("./frames");

const NESTED = { id: 12345, user: { name: "ann", roles: ["member", "mod"], profile: { age: 31, tz: "UTC" } },
  items: [{ k: "a", v: 1 }, { k: "b", v: 2.5 }, { k: "c", v: null }], ok: true, note: "x".repeat(32) };

// reply: what completes a request ("ack" or "event"); transport: websocket (bare-socket
// Socket.IO), polling (long-polling Socket.IO) or bridge (plain WebSocket envelope).
const RATE = {
  ack: { request: (p) => ["echo", p], id: true, reply: "ack" },
  emit_sid: { request: (p) => ["emit_sid", p], reply: "event" },
  send_sid: { request: (p) => ["send_sid", p], reply: "event" },
  room_skip: { request: (p, c) => ["room_skip", c.room, p], reply: "event", pairs: true },
  own_room: { request: (p, c) => ["broadcast", c.room, p], reply: "event", own: true },
  call: { request: (p) => ["call", p], id: true, reply: "ack" },
  binary: { request: (p) => ["echo", p], id: true, reply: "ack", payload: "binary" },
  nested: { request: (p) => ["echo", p], id: true, reply: "ack", payload: "nested" },
  poll_echo: { request: (p) => ["echo", p], id: true, reply: "ack", transport: "polling" },
  bridge_echo: { request: (p) => ["echo", p], id: true, reply: "ack", transport: "bridge" },
};
// trigger: what the sender emits per round (broadcast: --count of them) or once (bg_*)
const FANOUT = {
  shared_room: { own: true, room: "all" },
  bg_all: { background: "bg_all" },
  bg_sids: { background: "bg_sids" },
  poll_bcast: { room: "room", transport: "polling" },
  bridge_bcast: { room: "room", transport: "bridge" },
};
const PATTERNS = [...Object.keys(RATE), ...Object.keys(FANOUT)];

function payloadOf(o, kind) {
  if (kind === "binary") return Buffer.alloc(o.size, 0xab);
  if (kind === "nested") return NESTED;
  return "x".repeat(o.size);
}

// ---- framing ---------------------------------------------------------------------------

const sio = {
  // A Socket.IO event as the frames to write: JSON with a bytes argument is a 45x- header
  // plus one attachment (only the matrix's binary payload: one Buffer, as the last argument).
  encode(parser, args, id) {
    const buf = args.find((a) => Buffer.isBuffer(a));
    if (parser === "json" && buf) {
      const json = JSON.stringify(args.map((a) => (a === buf ? { _placeholder: true, num: 0 } : a)));
      return [`451-${NSP},${id === undefined ? "" : id}${json}`, buf];
    }
    return [encodeEvent(parser, args, id)];
  },
  // A frame the server sent, as {type: "event"|"ack"|"attachment"|null, id, data()}.
  decode(parser, binary, payload) {
    if (parser === "msgpack" || binary) {
      if (parser === "json") return { type: "attachment", data: () => payload };
      const pkt = notepack.decode(payload);
      const type = pkt.type === 2 ? "event" : pkt.type === 3 ? "ack" : null;
      return { type, id: pkt.id, data: () => pkt.data };
    }
    const t = payload[1];
    const type = t === 0x32 ? "event" : t === 0x33 ? "ack" : t === 0x35 || t === 0x36 ? "header" : null;
    const text = payload.toString();
    const open = text.indexOf("[");
    const head = text.slice(0, open);
    const id = head.slice(head.indexOf(",") + 1);
    return { type, id: id === "" ? undefined : Number(id), data: () => JSON.parse(text.slice(open)) };
  },
  ackFrame(parser, id, data) {
    if (parser === "json") return `43${NSP},${id}${JSON.stringify(data)}`;
    return notepack.encode({ type: 3, nsp: NSP, id, data });
  },
};

const bridgeFrames = {
  encode: (args, id) => [JSON.stringify(id === undefined ? { event: args[0], data: args.slice(1) }
    : { event: args[0], data: args.slice(1), id })],
  decode(binary, payload) {
    if (binary) return { type: "event", data: () => ["message", payload] };
    const msg = JSON.parse(payload.toString());
    if ("ack" in msg) return { type: "ack", id: msg.ack, data: () => msg.data };
    return { type: "event", data: () => [msg.event, ...msg.data] };
  },
};

// ---- clients ---------------------------------------------------------------------------

// A long-polling Socket.IO client: one GET always out, writes batched into one POST at a
// time (as socket.io-client does). Binary packets (msgpack) travel as "b<base64>".
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
class PollClient {
  constructor(o) {
    const url = new URL(o.url);
    this.o = o;
    this.host = url.hostname;
    this.port = Number(url.port);
    this.sid = null;
    this.queue = [];
    this.posting = false;
    this.closed = false;
    this.onFrame = null;
  }

  request(method, body) {
    const path = `/socket.io/?EIO=4&transport=polling${this.sid ? `&sid=${this.sid}` : ""}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.host, port: this.port, path, method, agent,
        headers: body === undefined ? {} : { "Content-Type": "text/plain;charset=UTF-8" } }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString())
          : reject(new Error(`${method} polling: HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.on("socket", (sock) => sock.setNoDelay(true));
      req.end(body);
    });
  }

  async open() {
    const open = await this.request("GET");
    this.sid = JSON.parse(open.slice(1)).sid;
    const connect = this.o.parser === "json" ? `40${NSP},` : notepack.encode({ type: 0, nsp: NSP });
    this.send(connect);
    for (;;) { // until the namespace CONNECT arrives
      const packets = await this.poll();
      if (packets.some(([binary, p]) => (binary ? notepack.decode(p).type === 0 : p[1] === 0x30))) break;
    }
    this.loop();
    return this;
  }

  async poll() {
    const body = await this.request("GET");
    const packets = [];
    for (const part of body.split("\x1e")) {
      if (part === "2") { this.send("3"); continue; }
      if (part[0] === "b") packets.push([true, Buffer.from(part.slice(1), "base64")]);
      else if (part[0] === "4") packets.push([false, Buffer.from(part)]);
    }
    return packets;
  }

  async loop() {
    while (!this.closed) {
      let packets;
      try { packets = await this.poll(); } catch { return; }
      for (const [binary, p] of packets) if (this.onFrame) this.onFrame(binary, p);
    }
  }

  send(data) {
    this.queue.push(typeof data === "string" ? data : "b" + data.toString("base64"));
    this.flush();
  }

  flush() {
    if (this.posting || !this.queue.length || this.closed) return;
    this.posting = true;
    const body = this.queue.join("\x1e");
    this.queue = [];
    this.request("POST", body).catch(() => {}).finally(() => { this.posting = false; this.flush(); });
  }

  close() {
    this.closed = true;
    this.request("POST", "1").catch(() => {});
  }
}

// One client of a pattern: write(args, id) and frames decoded for the pattern.
function wrap(o, raw, transport) {
  const c = { raw, room: null, fifo: [], head: 0 };
  if (transport === "bridge") {
    c.write = (args, id) => { for (const f of bridgeFrames.encode(args, id)) raw.send(f); };
    c.decode = (binary, payload) => bridgeFrames.decode(binary, payload);
  } else {
    c.write = (args, id) => { for (const f of sio.encode(o.parser, args, id)) raw.send(f); };
    c.decode = (binary, payload) => sio.decode(o.parser, binary, payload);
  }
  return c;
}

async function openClients(o, n, first, transport) {
  const clients = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const address = sourceAddress(o.run, first + i);
      const raw = transport === "polling" ? new PollClient(o)
        : transport === "bridge" ? new RawClient(o, address, NSP, true) : new RawClient(o, address);
      await raw.open();
      clients[i] = wrap(o, raw, transport);
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.concurrency, n) }, worker));
  return clients;
}

// Each client joins its rooms (acked calls), then its onFrame is cleared.
function joinAll(o, clients, roomsOf) {
  return Promise.all(clients.map((c, i) => new Promise((resolve, reject) => {
    const rooms = roomsOf(i);
    let left = rooms.length;
    if (!left) { resolve(); return; }
    const timer = setTimeout(() => reject(new Error("no ack for join")), o.timeout * 1000);
    c.raw.onFrame = (binary, payload) => {
      if (c.decode(binary, payload).type === "ack" && --left === 0) {
        clearTimeout(timer); c.raw.onFrame = null; resolve();
      }
    };
    rooms.forEach((room, k) => c.write(["join", room], 1000000 + k));
  })));
}

function closeClients(clients) {
  for (const c of clients) c.raw.close();
}

// Buffers as {"$hex": ...} so that a check's output is plain JSON.
function plain(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return { $hex: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

// ---- drivers ---------------------------------------------------------------------------

// h: loadgen.js's helpers (sleep, waitUntil, cpuMeter, latencySummary).
async function rate(o, h) {
  const spec = RATE[o.pattern];
  const transport = spec.transport || "websocket";
  const check = o.mode === "check";
  const clients = await openClients(o, check ? 2 : o.clients, 0, transport);
  if (spec.pairs) await joinAll(o, clients, (i) => [(clients[i].room = `pair-${i >> 1}`)]);
  if (spec.own) await joinAll(o, clients, (i) => [(clients[i].room = `own-${i}`), "all"]);
  const payload = payloadOf(o, spec.payload);
  // JSON bytes come back as a header then the attachment, which completes the reply
  const replyType = spec.payload === "binary" && o.parser === "json" ? "attachment" : spec.reply;
  const samples = [];
  const seen = [];
  let measuring = false;
  let stopping = false;
  let measureFrom = Infinity;
  let replies = 0;
  const send = (c, at) => {
    c.fifo.push(at === undefined ? performance.now() : at);
    c.write(spec.request(payload, c), spec.id ? (c.nextId = (c.nextId || 0) + 1) : undefined);
  };
  clients.forEach((r, i) => {
    const source = clients[spec.pairs ? i ^ 1 : i];
    r.raw.onFrame = (binary, frame) => {
      const f = r.decode(binary, frame);
      if (check && f.type !== "header") seen.push([i, f.type, plain(f.data())]);
      if (o.pattern === "call" && f.type === "event") { r.raw.send(sio.ackFrame(o.parser, f.id, [f.data()[1]])); return; }
      if (f.type !== replyType) return;
      const sentAt = source.fifo[source.head++];
      if (source.head > 4096) { source.fifo = source.fifo.slice(source.head); source.head = 0; }
      replies++;
      const now = performance.now();
      if (measuring || sentAt >= measureFrom) samples.push(now - sentAt);
      if (o.mode === "closed" && !stopping) send(source);
    };
  });
  const outstanding = () => clients.every((c) => c.fifo.length === c.head);
  let out;
  if (check) {
    send(clients[0]);
    await h.waitUntil(outstanding, o.timeout, "the reply");
    await h.sleep(100); // anything else the request caused
    out = { received: seen };
  } else if (o.mode === "closed") {
    for (const c of clients) for (let k = 0; k < o.window; k++) send(c);
    await h.sleep(o.warmup * 1000);
    const cpu = h.cpuMeter();
    const before = replies;
    measuring = true;
    const t0 = performance.now();
    await h.sleep(o.duration * 1000);
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const busy = cpu();
    stopping = true;
    out = { events_per_s: Math.round((replies - before) / elapsed), ...h.latencySummary(samples), loadgen_cpu: busy };
  } else { // open loop, as loadgen.js's latency
    const total = o.warmup + o.duration;
    const interval = 1000 / o.rate;
    const t0 = performance.now();
    measureFrom = t0 + o.warmup * 1000;
    let sent = 0;
    const cpu = h.cpuMeter();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const now = performance.now();
        const due = Math.min(Math.floor((now - t0) / interval), Math.floor(total * o.rate));
        while (sent < due) { send(clients[sent % clients.length], t0 + sent * interval); sent++; }
        if (now - t0 >= total * 1000) { clearInterval(timer); resolve(); }
      }, 1);
    });
    const busy = cpu();
    out = { offered_per_s: o.rate, ...h.latencySummary(samples), loadgen_cpu: busy };
  }
  await h.waitUntil(outstanding, 5, "outstanding replies").catch(() => {});
  out.lost = clients.reduce((n, c) => n + c.fifo.length - c.head, 0);
  closeClients(clients);
  return out;
}

// A delivery, read from the header only (frames.js isEvent; the bridge's JSON envelope)
function isDelivery(transport, binary, payload) {
  if (transport === "bridge") return binary || payload[2] === 0x65; // {"event"
  return isEvent(binary, payload);
}

async function fanout(o, h) {
  const spec = FANOUT[o.pattern];
  const transport = spec.transport || "websocket";
  const check = o.mode === "check";
  const members = await openClients(o, check ? 2 : o.clients, 1, transport);
  if (spec.own) await joinAll(o, members, (i) => [`own-${i}`, "all"]);
  else if (spec.room) await joinAll(o, members, () => [spec.room]);
  const [sender] = await openClients(o, 1, 0, transport === "polling" ? "websocket" : transport);
  // a background task's emits reach the sender too: it is in /bench
  const receivers = spec.background ? [...members, sender] : members;
  const payload = payloadOf(o, "plain");
  let delivered = 0;
  const seen = [];
  receivers.forEach((c, i) => {
    c.raw.onFrame = (binary, frame) => {
      if (!isDelivery(transport, binary, frame)) return;
      delivered++;
      if (check) seen.push([i, "event", plain(c.decode(binary, frame).data())]);
    };
  });
  const rounds = (count) => {
    if (spec.background) sender.write([spec.background, count, payload], 1);
    else for (let k = 0; k < count; k++) sender.write(["broadcast", spec.room, payload]);
  };
  rounds(1); // warm: both servers start the timed part with one round done
  await h.waitUntil(() => delivered >= receivers.length, o.timeout, "the warm-up round");
  if (check) {
    await h.sleep(100);
    closeClients(receivers.concat(spec.background ? [] : [sender]));
    return { received: seen };
  }
  delivered = 0;
  const expected = receivers.length * o.count;
  const cpu = h.cpuMeter();
  const t0 = performance.now();
  rounds(o.count);
  let error = null;
  await h.waitUntil(() => delivered >= expected, o.timeout, "deliveries").catch((e) => { error = e.message; });
  const elapsed = (performance.now() - t0) / 1000;
  const busy = cpu();
  closeClients(receivers.concat(spec.background ? [] : [sender]));
  if (error) throw new Error(`${error}: ${delivered} of ${expected} delivered`);
  return { deliveries_per_s: Math.round(delivered / elapsed), delivered, loadgen_cpu: busy };
}

// --pattern all (with --mode check): every pattern in turn, {received: {pattern: [...]}}.
async function matrix(o, h) {
  if (o.pattern === "all") {
    const received = {};
    for (const pattern of PATTERNS) received[pattern] = (await matrix({ ...o, pattern }, h)).received;
    return { received };
  }
  if (!PATTERNS.includes(o.pattern)) throw new Error(`--pattern must be one of ${PATTERNS.join(", ")}`);
  if (o.pattern in RATE) return rate(o, h);
  return fanout(o, h);
}

module.exports = { PATTERNS, RATE, FANOUT, NESTED, matrix };
