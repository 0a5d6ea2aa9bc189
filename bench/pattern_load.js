// Load for the plugin patterns of bench/plugins/openline_patterns_ns.py (issue #15's profiles):
//   node pattern_load.js --url http://HOST:PORT --pattern P [--parser json|msgpack]
//     [--clients 100] [--window 10] [--duration 5] [--warmup 1] [--size 32] [--pid PID]
//     [--count 200] [--payload plain|binary|nested]
// Closed loop: each client keeps --window events in flight; an answer (ack, or the event the
// pattern sends back) sends the next one. room_skip: clients in pairs, each answer goes to the
// partner, which sends the next. bg_all / bg_sids: one client asks a background task to emit
// --count ticks (to all / to each sid) and the rest count deliveries.
// Prints one JSON line: rate (answers or deliveries per second), server CPU µs per answer.
"use strict";
const fs = require("fs");
const net = require("net");
const notepack = require("notepack.io");

const NSP = "/patterns";
const PATTERNS = ["ack", "emit_sid", "send_sid", "room_skip", "own_room", "via_task", "call",
  "bg_all", "bg_sids"];

function parseArgs(argv) {
  const o = { url: null, pattern: null, parser: "json", clients: 100, window: 10, duration: 5,
    warmup: 1, size: 32, pid: 0, count: 200, payload: "plain", timeout: 60 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`);
    o[key] = typeof o[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!PATTERNS.includes(o.pattern)) throw new Error(`--pattern: one of ${PATTERNS.join(", ")}`);
  return o;
}

function cpuTicks(pid) {
  if (!pid) return 0;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks (1/100 s)
}

function wsFrame(payload) {
  const binary = typeof payload !== "string";
  const body = binary ? payload : Buffer.from(payload);
  const op = binary ? 0x82 : 0x81;
  if (body.length < 126) return Buffer.concat([Buffer.from([op, 0x80 | body.length, 0, 0, 0, 0]), body]);
  const head = Buffer.from([op, 0x80 | 126, body.length >> 8, body.length & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([head, body]);
}

// --- Socket.IO packets on /patterns ------------------------------------------------------
function encode(o, type, args, id) {
  if (args === undefined) return [o.parser === "msgpack" ? notepack.encode({ type, nsp: NSP }) : `4${type}${NSP},`];
  if (o.parser === "msgpack") {
    const pkt = { type, nsp: NSP, data: args };
    if (id !== undefined) pkt.id = id;
    return [notepack.encode(pkt)];
  }
  const buffers = [];
  const walk = (v) => {
    if (Buffer.isBuffer(v)) { buffers.push(v); return { _placeholder: true, num: buffers.length - 1 }; }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") { const r = {}; for (const k in v) r[k] = walk(v[k]); return r; }
    return v;
  };
  const data = walk(args);
  const head = buffers.length ? `${type + 3}${buffers.length}-` : `${type}`;
  return [`4${head}${NSP},${id === undefined ? "" : id}${JSON.stringify(data)}`, ...buffers];
}

// "4<type>[N-]/patterns,<id>[...]": type, id (or null), the JSON text; attachments pending
function decodeText(s) {
  let i = 1;
  const type = s.charCodeAt(i++) - 48;
  let attachments = 0;
  const dash = s.indexOf("-", i);
  if (type === 5 || type === 6) { attachments = Number(s.slice(i, dash)); i = dash + 1; }
  if (s.startsWith(NSP + ",", i)) i += NSP.length + 1;
  let id = null;
  let j = i;
  while (j < s.length && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
  if (j > i) id = Number(s.slice(i, j));
  return { type: type === 5 ? 2 : type === 6 ? 3 : type, id, json: s.slice(j), attachments };
}

class Client {
  constructor(o, index, onPacket) {
    this.o = o;
    this.index = index;
    this.onPacket = onPacket; // (client, {type, id, data?}) after the namespace CONNECT
    this.nextId = 1;
    this.connected = false;
    this.waitingAttachments = 0;
  }

  open() {
    const url = new URL(this.o.url);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port),
        localAddress: `127.0.${1 + (this.index % 64)}.1` });
      this.socket = socket;
      this.resolve = resolve;
      socket.setNoDelay(true);
      socket.on("error", reject);
      socket.on("connect", () => socket.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n` +
        `Host: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
      let buf = Buffer.alloc(0);
      let upgraded = false;
      socket.on("data", (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        if (!upgraded) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          upgraded = true;
          buf = buf.subarray(end + 4);
        }
        while (buf.length >= 2) {
          let len = buf[1] & 0x7f;
          let at = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
          if (buf.length < at + len) return;
          const opcode = buf[0] & 0x0f;
          const payload = buf.subarray(at, at + len);
          buf = buf.subarray(at + len);
          this.frame(opcode, payload);
        }
      });
    });
  }

  frame(opcode, payload) {
    if (opcode === 0x1) {
      if (payload[0] === 0x32 && payload.length === 1) { this.socket.write(wsFrame("3")); return; }
      if (payload[0] === 0x30) { this.send(encode(this.o, 0, undefined)); return; }
      if (payload[0] !== 0x34) return;
      if (payload[1] === 0x30 && !this.connected) { this.connected = true; this.resolve(this); return; }
      const pkt = decodeText(payload.toString());
      if (pkt.attachments) { this.waitingAttachments = pkt.attachments; this.held = pkt; return; }
      this.onPacket(this, pkt);
    } else if (opcode === 0x2) {
      if (this.waitingAttachments) {
        if (--this.waitingAttachments === 0) this.onPacket(this, this.held);
        return;
      }
      const pkt = notepack.decode(payload);
      if (pkt.type === 0 && !this.connected) { this.connected = true; this.resolve(this); return; }
      this.onPacket(this, pkt);
    } else if (opcode === 0x8) {
      this.socket.destroy();
    }
  }

  send(frames) {
    this.socket.write(Buffer.concat(frames.map(wsFrame)));
  }

  emit(args, withAck) {
    const id = withAck ? this.nextId++ : undefined;
    this.send(encode(this.o, 2, args, id));
    return id;
  }

  ack(id, args) {
    this.send(encode(this.o, 3, args, id));
  }
}

function payloadOf(o) {
  if (o.payload === "binary") return Buffer.alloc(o.size, 7);
  if (o.payload === "nested") {
    return { user: { id: 42, name: "x".repeat(o.size), roles: ["a", "b"] },
      items: [{ k: 1, v: [1, 2, 3] }, { k: 2, v: { deep: { deeper: true } } }], ts: 1700000000000 };
  }
  return "x".repeat(o.size);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const payload = payloadOf(o);
  let answers = 0;
  let deliveries = 0;
  const clients = [];
  const next = (c) => {
    switch (o.pattern) {
      case "ack": c.emit(["ack", payload], true); break;
      case "emit_sid": c.emit(["emit_sid", payload], false); break;
      case "send_sid": c.emit(["send_sid", payload], false); break;
      case "via_task": c.emit(["via_task", payload], false); break;
      case "room_skip": c.emit(["room_skip", `pair-${c.index >> 1}`, payload], false); break;
      case "own_room": c.emit(["own_room", `own-${c.index}`, payload], false); break;
      case "call": c.emit(["call", payload], true); break;
      default: break;
    }
  };
  const onPacket = (c, pkt) => {
    if (pkt.type === 2) {
      if (o.pattern === "call") { c.ack(pkt.id, [payload]); return; }
      if (o.pattern === "bg_all" || o.pattern === "bg_sids") { deliveries++; return; }
      answers++;
      // room_skip: the partner got it; it sends the next one
      next(c);
      return;
    }
    if (pkt.type === 3) {
      if (c.waiter) { const w = c.waiter; c.waiter = null; w(); return; }
      answers++;
      next(c);
    }
  };
  for (let i = 0; i < o.clients; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(o.clients, i + 50); j++) batch.push(new Client(o, j, onPacket).open());
    clients.push(...await Promise.all(batch));
  }
  const ask = (c, args) => new Promise((resolve) => { c.waiter = resolve; c.emit(args, true); });
  if (o.pattern === "room_skip") await Promise.all(clients.map((c) => ask(c, ["join_pair", `pair-${c.index >> 1}`])));
  if (o.pattern === "own_room") await Promise.all(clients.map((c) => ask(c, ["join_own", `own-${c.index}`])));
  const out = { ok: true, pattern: o.pattern, parser: o.parser, payload: o.payload, clients: o.clients };
  if (o.pattern === "bg_all" || o.pattern === "bg_sids") {
    const expected = o.count * o.clients;
    const t0 = performance.now();
    const cpu0 = cpuTicks(o.pid);
    await ask(clients[0], [o.pattern, o.count, payload]);
    while (deliveries < expected && performance.now() - t0 < o.timeout * 1000) {
      await new Promise((r) => setTimeout(r, 2));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuTicks(o.pid) - cpu0) / 100;
    out.rate = Math.round(deliveries / seconds);
    out.cpu_us = o.pid ? Number((cpu * 1e6 / deliveries).toFixed(2)) : null;
    out.busy = o.pid ? Number((cpu / seconds).toFixed(2)) : null;
    out.complete = deliveries === expected;
  } else {
    for (const c of clients) for (let k = 0; k < o.window; k++) next(c);
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    const a0 = answers;
    const cpu0 = cpuTicks(o.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, o.duration * 1000));
    const n = answers - a0;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuTicks(o.pid) - cpu0) / 100;
    out.rate = Math.round(n / seconds);
    out.cpu_us = o.pid ? Number((cpu * 1e6 / n).toFixed(2)) : null;
    out.busy = o.pid ? Number((cpu / seconds).toFixed(2)) : null;
  }
  console.log(JSON.stringify(out));
  for (const c of clients) c.socket.destroy();
  process.exit(0);
}

main().catch((err) => { console.log(JSON.stringify({ ok: false, error: String(err) })); process.exit(1); });
