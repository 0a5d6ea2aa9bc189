// The Node.js reference for `make bench`: socket.io 4.8 with the semantics of
// bench/plugins/openline_bench_ns.py on namespace /bench.
//   node node_server.js --port 0 [--parser json|msgpack] [--deflate] [--recovery-window SECONDS]
// --recovery-window turns on connection state recovery, as openline's flag of that name:
// connectionStateRecovery: { maxDisconnectionDuration: SECONDS * 1000 } (off by default).
// The matrix group (bench/matrix.py) adds the events of the plugin's other answers
// (emit_sid, send_sid, room_skip, call, bg_all, bg_sids) and, on every path but
// /socket.io/, a plain `ws` server speaking openline's bridge envelope (README "Plain
// WebSocket clients") for echo, join and broadcast on the namespace of the path, /bench.
// Prints "node listening on http://127.0.0.1:PORT" once it accepts connections.
"use strict";
const http = require("http");
const v8 = require("v8");
const vm = require("vm");
const { Server } = require("socket.io");
const { WebSocketServer } = require("ws");

// A full collection on request (the "gc" event of the recovery memory scenario) without
// starting node with --expose-gc for every scenario.
let collect = null;
function fullGc() {
  if (collect === null) {
    v8.setFlagsFromString("--expose-gc");
    collect = vm.runInNewContext("gc");
  }
  collect();
}

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", port: 0, parser: "json", deflate: false, recoveryWindow: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") opts.port = Number(argv[++i]);
    else if (a === "--host") opts.host = argv[++i];
    else if (a === "--parser") opts.parser = argv[++i];
    else if (a === "--deflate") opts.deflate = true;
    else if (a === "--recovery-window") opts.recoveryWindow = Number(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error("--port must be 0..65535");
  if (!["json", "msgpack"].includes(opts.parser)) throw new Error("--parser must be json or msgpack");
  if (!(opts.recoveryWindow >= 0)) throw new Error("--recovery-window must be seconds >= 0 (0: off)");
  return opts;
}

// A loop outside any handler, as a background task: `count` rounds, one per loop turn.
function background(count, round) {
  let left = count;
  const step = () => { if (left-- > 0) { round(); setImmediate(step); } };
  setImmediate(step);
}

// Plain WebSocket clients on /bench with openline's bridge envelope: {"event": E, "data":
// [args] or one value, "id": N} in, {"ack": N, "data": [...]} and {"event": E, "data":
// [...]} out; echo acks its arguments, join (room) acks "ok", broadcast (room, payload)
// sends bcast to the room's members, the frame encoded once.
function bridge(httpServer) {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const rooms = new Map(); // room -> Set of ws
  httpServer.on("upgrade", (req, sock, head) => {
    if (req.url.startsWith("/socket.io/")) return;
    if (!req.url.startsWith("/bench")) { sock.destroy(); return; }
    wss.handleUpgrade(req, sock, head, (ws) => {
      const joined = new Set();
      ws.on("close", () => { for (const room of joined) rooms.get(room).delete(ws); });
      ws.on("message", (data, isBinary) => {
        if (isBinary) return;
        let msg;
        try { msg = JSON.parse(data); } catch { return; }
        if (msg === null || typeof msg !== "object" || typeof msg.event !== "string") return;
        const args = Array.isArray(msg.data) ? msg.data : msg.data === undefined ? [] : [msg.data];
        const ack = (...reply) => { if (msg.id !== undefined) ws.send(JSON.stringify({ ack: msg.id, data: reply })); };
        if (msg.event === "echo") ack(...args);
        else if (msg.event === "join") {
          if (!rooms.has(args[0])) rooms.set(args[0], new Set());
          rooms.get(args[0]).add(ws);
          joined.add(args[0]);
          ack("ok");
        } else if (msg.event === "broadcast") {
          const frame = JSON.stringify({ event: "bcast", data: [args[1]] });
          for (const member of rooms.get(args[0]) || []) member.send(frame);
        }
      });
    });
  });
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`node_server.js: ${err.message}`);
    process.exit(2);
  }
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    // perMessageDeflate is off by default in socket.io 4; --deflate turns it on so the
    // idle-memory scenario can compare both servers with compression negotiated.
    perMessageDeflate: opts.deflate ? { threshold: 1024 } : false,
    parser: opts.parser === "msgpack" ? require("socket.io-msgpack-parser") : undefined,
    connectionStateRecovery: opts.recoveryWindow
      ? { maxDisconnectionDuration: opts.recoveryWindow * 1000 } : undefined,
    destroyUpgrade: false, // other paths are the bridge's (below)
  });
  const nsp = io.of("/bench");
  let clients = 0;
  nsp.on("connection", (socket) => {
    clients++;
    socket.on("disconnect", () => { clients--; });
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
    });
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack("ok");
    });
    socket.on("broadcast", (room, payload) => {
      nsp.to(room).emit("bcast", payload);
    });
    // the matrix group: the same answers as the openline plugin's, the everyday Node way
    socket.on("emit_sid", (payload) => { socket.emit("echo", payload); });
    socket.on("send_sid", (payload) => { socket.send(payload); });
    socket.on("room_skip", (room, payload) => { socket.to(room).emit("echo", payload); });
    socket.on("call", async (payload, ack) => {
      const answer = await socket.timeout(30000).emitWithAck("ping", payload);
      if (typeof ack === "function") ack(answer);
    });
    socket.on("bg_all", (count, payload, ack) => {
      background(count, () => nsp.emit("tick", payload));
      if (typeof ack === "function") ack("ok");
    });
    socket.on("bg_sids", (count, payload, ack) => {
      background(count, () => { for (const id of nsp.sockets.keys()) nsp.to(id).emit("tick", payload); });
      if (typeof ack === "function") ack("ok");
    });
    socket.on("session", (data, ack) => {
      socket.data = data;
      if (typeof ack === "function") ack("ok");
    });
    socket.on("stats", (ack) => {
      // saved: the sockets kept for recovery (the SessionAwareAdapter's sessions)
      const sessions = nsp.adapter.sessions;
      if (typeof ack === "function") ack(sessions ? { clients, saved: sessions.size } : { clients });
    });
    socket.on("gc", (ack) => {
      fullGc();
      if (typeof ack === "function") ack(true);
    });
    socket.on("heap", (ack) => {
      // bytes the JS heap holds after a full collection
      fullGc();
      if (typeof ack === "function") ack(process.memoryUsage().heapUsed);
    });
  });
  bridge(httpServer);
  httpServer.listen(opts.port, opts.host, () => {
    const { port } = httpServer.address();
    console.log(`node listening on http://${opts.host}:${port}`);
  });
  const stop = () => { io.close(); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
