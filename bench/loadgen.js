// The load generator of `make bench`: WebSocket clients (ws) speaking raw Engine.IO v4 /
// Socket.IO v5 frames, so that neither a client library nor its parser is measured.
//   node loadgen.js --scenario echo --url http://127.0.0.1:PORT [options]
// Prints one JSON line with the figures (or {"ok": false, "error": ...}) and exits.
"use strict";
const fs = require("fs");
const WebSocket = require("ws");
const notepack = require("notepack.io");
const { RawClient } = require("./rawclient");
const { NSP, encodeConnect, encodeEvent, isAck, isEvent, jsonAckId, sourceAddress } = require("./frames");

const matrix = require("./matrix");

const SCENARIOS = ["echo", "latency", "broadcast", "conns", "sessions", "matrix"];
const USAGE = `usage: node loadgen.js --scenario ${SCENARIOS.join("|")} --url http://HOST:PORT
  --parser json|msgpack   Socket.IO framing (default json)
  --clients N             WebSocket clients (echo/latency 100, broadcast 1000, conns/sessions 5000)
  --window N              echo: events in flight per client (10)
  --size N                payload bytes (32)
  --duration S            echo/latency: measured seconds (5)
  --warmup S              echo/latency: seconds before measuring (1)
  --rate N                latency: events/s offered across all clients (required)
  --count N               broadcast: broadcasts to send (200)
  --concurrency N         connects in flight (100; openline's listen backlog is 128)
  --pid PID               server process: its CPU use is reported; conns/sessions sample its VmRSS
  --disconnect            conns: then close all clients at once and time the server
  --prime N               conns/sessions: connect and drop N clients before measuring (0)
  --rooms N               sessions: rooms each client joins before it drops (3)
  --rounds N              sessions: times N fresh clients connect and drop for VmRSS (2),
                          then once more for the server's heap
  --pattern NAME          matrix: ${matrix.PATTERNS.join(", ")} (all: with --mode check)
  --mode closed|open|check  matrix: closed loop (--window in flight per client), open loop
                          (--rate/s, latency from when each was due) or one request, printed
  --deflate               offer permessage-deflate (off by default)
  --run N                 run number: picks the 127.x.y.1 source addresses (0)
  --timeout S             bound on any one phase (60)`;

function parseArgs(argv) {
  const o = {
    scenario: null, url: null, parser: "json", clients: null, window: 10, size: 32,
    duration: 5, warmup: 1, rate: null, count: 200, concurrency: 100, pid: null, prime: 0,
    disconnect: false, deflate: false, run: 0, timeout: 60, rooms: 3, rounds: 2,
    pattern: null, mode: "closed",
  };
  const numeric = new Set(["clients", "window", "size", "duration", "warmup", "rate", "count",
    "concurrency", "pid", "run", "timeout", "prime", "rooms", "rounds"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return { help: true };
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === "disconnect" || key === "deflate") { o[key] = true; continue; }
    if (!(key in o)) throw new Error(`unknown option ${a}`);
    const value = argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (numeric.has(key)) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a} must be a non-negative number, got ${value}`);
      o[key] = n;
    } else {
      o[key] = value;
    }
  }
  if (!SCENARIOS.includes(o.scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(", ")}`);
  if (!o.url || !/^https?:\/\//.test(o.url)) throw new Error("--url must be http://HOST:PORT");
  if (!["json", "msgpack"].includes(o.parser)) throw new Error("--parser must be json or msgpack");
  if (o.scenario === "latency" && !o.rate) throw new Error("--rate is required for latency");
  if (o.scenario === "matrix") {
    const all = o.pattern === "all" && o.mode === "check"; // every pattern, one request each
    if (!all && !matrix.PATTERNS.includes(o.pattern)) throw new Error(`--pattern must be one of ${matrix.PATTERNS.join(", ")}`);
    if (!["closed", "open", "check"].includes(o.mode)) throw new Error("--mode must be closed, open or check");
    if (o.mode === "open" && !o.rate) throw new Error("--rate is required for --mode open");
  }
  if ((o.scenario === "conns" || o.scenario === "sessions") && !o.pid) {
    throw new Error(`--pid is required for ${o.scenario}`);
  }
  if (o.clients === null) {
    const fan = o.scenario === "matrix" && matrix.FANOUT[o.pattern] !== undefined;
    o.clients = { echo: 100, latency: 100, broadcast: 1000, conns: 5000, sessions: 5000, matrix: fan ? 1000 : 100 }[o.scenario];
  }
  o.wsUrl = o.url.replace(/^http/, "ws").replace(/\/$/, "") + "/socket.io/?EIO=4&transport=websocket";
  return o;
}

// ---- one client ------------------------------------------------------------------------

class Client {
  constructor(o, index) {
    this.o = o;
    this.index = index;
    this.ws = null;
    this.nextId = 0;
    this.pending = new Map(); // ack id -> send time (ms)
    this.onAck = null; // (sentAt, data) => void
    this.connected = false;
    this.closed = false;
  }

  open() {
    const o = this.o;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(o.wsUrl, {
        perMessageDeflate: o.deflate,
        localAddress: sourceAddress(o.run, this.index),
        skipUTF8Validation: true,
      });
      this.ws = ws;
      const fail = (err) => {
        clearTimeout(timer);
        if (!this.connected) { this.connected = null; ws.terminate(); reject(err); }
      };
      const timer = setTimeout(() => fail(new Error("connect timed out")), o.timeout * 1000);
      ws.on("error", (err) => fail(err));
      ws.on("close", () => { this.closed = true; fail(new Error("closed while connecting")); });
      ws.on("message", (data, isBinary) => {
        if (isBinary) return this.binary(data, resolve, timer);
        const t = data[0];
        if (t === 0x32 && data.length === 1) { ws.send("3"); return; } // ping -> pong
        if (t === 0x30) { ws.send(encodeConnect(o.parser)); return; } // Engine.IO open
        if (t !== 0x34) return;
        const s = data[1];
        if (s === 0x33) { this.ack(jsonAckId(data), data); return; }
        if (s === 0x30) { clearTimeout(timer); this.connected = true; resolve(this); return; }
        if (s === 0x34) fail(new Error(`connect_error ${data.toString()}`));
      });
    });
  }

  binary(data, resolve, timer) {
    const pkt = notepack.decode(data);
    if (pkt.type === 3) this.ack(pkt.id, pkt.data);
    else if (pkt.type === 0) { clearTimeout(timer); this.connected = true; resolve(this); }
    else if (pkt.type === 4) { this.ws.terminate(); }
  }

  ack(id, data) {
    const sentAt = this.pending.get(id);
    if (sentAt === undefined) return;
    this.pending.delete(id);
    if (this.onAck) this.onAck(sentAt, data);
  }

  emit(args, sentAt) {
    const id = this.nextId++;
    this.pending.set(id, sentAt === undefined ? performance.now() : sentAt);
    this.ws.send(encodeEvent(this.o.parser, args, id));
  }

  emitNoAck(args) {
    this.ws.send(encodeEvent(this.o.parser, args));
  }

  call(args, timeoutS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${args[0]}`)), timeoutS * 1000);
      const before = this.onAck;
      this.onAck = (sentAt, data) => {
        clearTimeout(timer);
        this.onAck = before;
        resolve(this.o.parser === "json" ? JSON.parse(data.toString().slice(data.indexOf(0x5b))) : data);
      };
      this.emit(args);
    });
  }
}

async function openMany(o, n, firstIndex, raw = false) {
  const clients = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const index = firstIndex + i;
      const client = raw ? new RawClient(o, sourceAddress(o.run, index)) : new Client(o, index);
      clients[i] = await client.open();
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.concurrency, n) }, worker));
  return clients;
}

function closeAll(clients) {
  for (const c of clients) {
    if (c instanceof RawClient) c.close();
    else if (c && c.ws) c.ws.terminate();
  }
}

// ---- measurements ----------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencySummary(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), samples: sorted.length };
}

function round(x, digits = 3) {
  return x === null ? null : Number(x.toFixed(digits));
}

function vmRssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

// CPU time of a process in ms from /proc/<pid>/stat (utime + stime, in clock ticks of
// 10 ms on Linux), or null when it cannot be read.
function processCpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

// Busy fractions over a phase: the load generator's (near 1.0 means the figure may be
// ours) and, given --pid, the server's (near 1.0 means the server is the limit).
let serverPid = null;
let lastServerCpu = null;
function cpuMeter() {
  const c0 = process.cpuUsage();
  const s0 = serverPid ? processCpuMs(serverPid) : null;
  const t0 = performance.now();
  return () => {
    const c = process.cpuUsage(c0);
    const wall = performance.now() - t0;
    const s1 = serverPid ? processCpuMs(serverPid) : null;
    lastServerCpu = s0 !== null && s1 !== null ? round((s1 - s0) / wall, 2) : null;
    return round((c.user + c.system) / 1000 / wall, 2);
  };
}

function waitUntil(cond, timeoutS, what) {
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + timeoutS * 1000;
    const tick = () => {
      if (cond()) return resolve();
      if (performance.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 2);
    };
    tick();
  });
}

// ---- scenarios -------------------------------------------------------------------------

async function echo(o) {
  const clients = await openMany(o, o.clients, 0, !o.deflate);
  const payload = "x".repeat(o.size);
  const samples = [];
  let measuring = false;
  let stopping = false;
  let acked = 0;
  for (const c of clients) {
    c.onAck = (sentAt) => {
      if (measuring) { acked++; samples.push(performance.now() - sentAt); }
      if (!stopping) c.emit(["echo", payload]);
    };
  }
  for (const c of clients) for (let k = 0; k < o.window; k++) c.emit(["echo", payload]);
  await sleep(o.warmup * 1000);
  const cpu = cpuMeter();
  measuring = true;
  const t0 = performance.now();
  await sleep(o.duration * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const busy = cpu();
  stopping = true;
  await waitUntil(() => clients.every((c) => c.pending.size === 0), o.timeout, "outstanding acks").catch(() => {});
  closeAll(clients);
  return { events_per_s: Math.round(acked / elapsed), ...latencySummary(samples), loadgen_cpu: busy };
}

async function latency(o) {
  const clients = await openMany(o, o.clients, 0, !o.deflate);
  const payload = "x".repeat(o.size);
  const samples = [];
  let measureFrom = Infinity;
  for (const c of clients) {
    c.onAck = (sentAt) => { if (sentAt >= measureFrom) samples.push(performance.now() - sentAt); };
  }
  // Open loop: events are due at fixed times whatever the server does, and latency is
  // counted from when each was due, so a stalled server cannot hide its backlog.
  const total = o.warmup + o.duration;
  const interval = 1000 / o.rate;
  const t0 = performance.now();
  measureFrom = t0 + o.warmup * 1000;
  let sent = 0;
  const cpu = cpuMeter();
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(Math.floor((now - t0) / interval), Math.floor(total * o.rate));
      while (sent < due) {
        clients[sent % clients.length].emit(["echo", payload], t0 + sent * interval);
        sent++;
      }
      if (now - t0 >= total * 1000) { clearInterval(timer); resolve(); }
    }, 1);
  });
  const busy = cpu();
  await waitUntil(() => clients.every((c) => c.pending.size === 0), 5, "outstanding acks").catch(() => {});
  const lost = clients.reduce((n, c) => n + c.pending.size, 0);
  closeAll(clients);
  return { offered_per_s: o.rate, ...latencySummary(samples), lost, loadgen_cpu: busy };
}

function joinRoom(o, client, room) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no ack for join")), o.timeout * 1000);
    client.onFrame = (binary, payload) => {
      if (isAck(binary, payload)) { clearTimeout(timer); client.onFrame = null; resolve(); }
    };
    client.send(encodeEvent(o.parser, ["join", room], 1));
  });
}

async function broadcast(o) {
  const members = await openMany(o, o.clients, 1, true);
  await Promise.all(members.map((c) => joinRoom(o, c, "room")));
  let delivered = 0;
  const count = (binary, payload) => { if (isEvent(binary, payload)) delivered++; };
  for (const c of members) c.onFrame = count;
  const [sender] = await openMany(o, 1, 0);
  const payload = "x".repeat(o.size);
  // One broadcast first, so both servers start the timed part warm.
  sender.emitNoAck(["broadcast", "room", payload]);
  await waitUntil(() => delivered >= o.clients, o.timeout, "warm-up broadcast");
  delivered = 0;
  const expected = o.clients * o.count;
  const cpu = cpuMeter();
  const t0 = performance.now();
  for (let k = 0; k < o.count; k++) sender.emitNoAck(["broadcast", "room", payload]);
  let error = null;
  await waitUntil(() => delivered >= expected, o.timeout, "broadcast deliveries").catch((e) => { error = e.message; });
  const elapsed = (performance.now() - t0) / 1000;
  const busy = cpu();
  closeAll(members);
  closeAll([sender]);
  if (error) throw new Error(`${error}: ${delivered} of ${expected} delivered`);
  return { deliveries_per_s: Math.round(delivered / elapsed), delivered, loadgen_cpu: busy };
}

async function stableRss(pid) {
  // Settle: read VmRSS until two reads 200 ms apart agree within 0.5% (at most 2 s).
  let last = vmRssKb(pid);
  for (let k = 0; k < 10; k++) {
    await sleep(200);
    const now = vmRssKb(pid);
    if (Math.abs(now - last) <= last * 0.005) return now;
    last = now;
  }
  return last;
}

async function serverCount(o, probe) {
  return (await probe.call(["stats"], o.timeout))[0].clients;
}

async function conns(o) {
  const [probe] = await openMany(o, 1, 0);
  if (o.prime) {
    // Connect and drop some clients first, so a JIT-compiled server (Node) is measured
    // warm, as a server that has been up for a while is.
    closeAll(await openMany(o, o.prime, 1 + o.clients, !o.deflate));
    for (const deadline = performance.now() + o.timeout * 1000; (await serverCount(o, probe)) > 1;) {
      if (performance.now() > deadline) throw new Error("primed clients still connected");
      await sleep(5);
    }
  }
  const rss0 = await stableRss(o.pid);
  const cpu = cpuMeter();
  const t0 = performance.now();
  // Bare-socket clients unless permessage-deflate is offered (see rawclient.js).
  const clients = await openMany(o, o.clients, 1, !o.deflate);
  const connectS = (performance.now() - t0) / 1000;
  const busy = cpu();
  const rss1 = await stableRss(o.pid);
  const result = {
    clients: o.clients,
    connects_per_s: Math.round(o.clients / connectS),
    rss_before_kb: rss0,
    rss_after_kb: rss1,
    kb_per_conn: round((rss1 - rss0) / o.clients, 2),
    loadgen_cpu: busy,
  };
  if (o.disconnect) {
    const before = (await probe.call(["stats"], o.timeout));
    const counted = before[0].clients;
    if (counted !== o.clients + 1) throw new Error(`server counts ${counted} clients, expected ${o.clients + 1}`);
    const meter = cpuMeter();
    const t1 = performance.now();
    closeAll(clients);
    let remaining = counted;
    const deadline = t1 + o.timeout * 1000;
    while (remaining > 1) {
      if (performance.now() > deadline) throw new Error(`${remaining - 1} clients still connected after ${o.timeout}s`);
      await sleep(5);
      remaining = (await probe.call(["stats"], o.timeout))[0].clients;
    }
    const seconds = (performance.now() - t1) / 1000;
    result.disconnect_s = round(seconds);
    result.us_per_disconnect = round((seconds * 1e6) / o.clients, 1);
    result.us_per_disconnect_loadgen_cpu = meter();
    result.us_per_disconnect_server_cpu = lastServerCpu;
  } else {
    closeAll(clients);
  }
  closeAll([probe]);
  return result;
}

// The rooms and session data of client i in the sessions scenario: one room all share, a
// group of about 100, its own; a session as small as a user id, a role and a timestamp.
function roomsOf(o, i) {
  return ["all", `group-${i % 50}`, `user-${i}`, ...Array.from({ length: Math.max(0, o.rooms - 3) },
    (_, k) => `extra-${k}-${i % 10}`)].slice(0, o.rooms);
}

// Send each of `calls` (event arguments) with an ack id and wait for all the acks.
function callAll(o, client, calls) {
  return new Promise((resolve, reject) => {
    let left = calls.length;
    const timer = setTimeout(() => reject(new Error(`${left} of ${calls.length} acks missing`)), o.timeout * 1000);
    client.onFrame = (binary, payload) => {
      if (isAck(binary, payload) && --left === 0) { clearTimeout(timer); client.onFrame = null; resolve(); }
    };
    calls.forEach((args, k) => client.send(encodeEvent(o.parser, args, k + 1)));
  });
}

async function openSessions(o, n, firstIndex) {
  const clients = await openMany(o, n, firstIndex, true);
  await Promise.all(clients.map((c, k) => {
    const i = firstIndex + k;
    const session = { user: `user-${i}`, role: "member", since: 1764620000000 + i };
    return callAll(o, c, [...roomsOf(o, i).map((room) => ["join", room]), ["session", session]]);
  }));
  return clients;
}

async function waitForClients(o, probe, count, what) {
  const deadline = performance.now() + o.timeout * 1000;
  for (;;) {
    const stats = (await probe.call(["stats"], o.timeout))[0];
    if (stats.clients <= count) return stats;
    if (performance.now() > deadline) throw new Error(`${stats.clients - count} ${what} still connected after ${o.timeout}s`);
    await sleep(20);
  }
}

async function settledRss(o, probe) {
  await probe.call(["gc"], o.timeout);
  return stableRss(o.pid);
}

// Connection state recovery's memory: clients that join rooms and set session data, then
// drop at once (no Socket.IO or WebSocket close: a transport close, which both servers
// save for recovery). VmRSS after the drop and a full collection, minus before connecting
// (the first round); then, as later rounds of fresh clients reuse the memory the dropped
// connections left, VmRSS growth per round over the sessions saved in it (the marginal
// cost of a saved session; about 0 with recovery off); last, one more round measured by
// the server's heap after a full collection (V8's heapUsed; openline's tracemalloc, which
// only this round runs under), where the dropped connections leave nothing.
async function sessions(o) {
  const [probe] = await openMany(o, 1, 0);
  if (o.prime) {
    closeAll(await openSessions(o, o.prime, 1 + (o.rounds + 1) * o.clients));
    await waitForClients(o, probe, 1, "primed clients");
  }
  const savedCount = async () => (await probe.call(["stats"], o.timeout))[0].saved;
  const saved0 = await savedCount();
  const rss0 = await settledRss(o, probe);
  const rounds = [];
  let busy = null;
  for (let r = 0; r < Math.max(1, o.rounds); r++) {
    const clients = await openSessions(o, o.clients, 1 + r * o.clients);
    const connected = r === 0 ? await settledRss(o, probe) : null;
    const cpu = cpuMeter();
    closeAll(clients);
    await waitForClients(o, probe, 1, "dropped clients");
    if (r === 0) busy = cpu();
    rounds.push({ connected, dropped: await settledRss(o, probe), saved: await savedCount() });
  }
  const heap0 = (await probe.call(["heap"], o.timeout))[0];
  const heapClients = await openSessions(o, o.clients, 1 + rounds.length * o.clients);
  closeAll(heapClients);
  await waitForClients(o, probe, 1, "dropped clients");
  const heap1 = (await probe.call(["heap"], o.timeout))[0];
  const heapSaved = saved0 === undefined ? null : (await savedCount()) - rounds[rounds.length - 1].saved;
  closeAll([probe]);
  const [first] = rounds;
  const last = rounds[rounds.length - 1];
  const saved = saved0 === undefined ? null : first.saved - saved0;
  const later = saved0 === undefined ? null : last.saved - first.saved;
  const result = {
    clients: o.clients, rooms: o.rooms, rounds: rounds.length, saved,
    rss_before_kb: rss0, rss_connected_kb: first.connected, rss_dropped_kb: first.dropped,
    rss_last_dropped_kb: last.dropped, saved_later: later,
    kb_per_conn: round((first.connected - rss0) / o.clients, 2),
    kb_per_dropped: round((first.dropped - rss0) / o.clients, 2),
    kb_per_saved: saved ? round((first.dropped - rss0) / saved, 2) : null,
    heap_before_b: heap0, heap_dropped_b: heap1, saved_heap_round: heapSaved,
    heap_kb_per_client: round((heap1 - heap0) / 1024 / o.clients, 2),
    heap_kb_per_saved: heapSaved ? round((heap1 - heap0) / 1024 / heapSaved, 2) : null,
    loadgen_cpu: busy,
  };
  if (rounds.length > 1) {
    const clientsLater = (rounds.length - 1) * o.clients;
    result.kb_later_per_client = round((last.dropped - first.dropped) / clientsLater, 2);
    result.kb_later_per_saved = later ? round((last.dropped - first.dropped) / later, 2) : null;
  }
  return result;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`loadgen.js: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (o.help) { console.log(USAGE); return; }
  const helpers = { sleep, waitUntil, cpuMeter, latencySummary };
  const run = { echo, latency, broadcast, conns, sessions, matrix: (opts) => matrix.matrix(opts, helpers) }[o.scenario];
  let out;
  try {
    serverPid = o.pid;
    out = { ok: true, scenario: o.scenario, parser: o.parser, ...(o.pattern ? { pattern: o.pattern } : {}),
      ...(await run(o)), server_cpu: lastServerCpu };
  } catch (err) {
    out = { ok: false, scenario: o.scenario, parser: o.parser, error: err.message };
  }
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(out.ok ? 0 : 1));
}

main();
