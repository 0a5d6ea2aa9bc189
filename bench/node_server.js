// The Node.js reference for `make bench`: socket.io 4.8 with the semantics of
// bench/plugins/openline_bench_ns.py on namespace /bench.
//   node node_server.js --port 0 [--parser json|msgpack] [--deflate] [--recovery-window SECONDS]
// --recovery-window turns on connection state recovery, as openline's flag of that name:
// connectionStateRecovery: { maxDisconnectionDuration: SECONDS * 1000 } (off by default).
// Prints "node listening on http://127.0.0.1:PORT" once it accepts connections.
"use strict";
const http = require("http");
const v8 = require("v8");
const vm = require("vm");
const { Server } = require("socket.io");

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
  httpServer.listen(opts.port, opts.host, () => {
    const { port } = httpServer.address();
    console.log(`node listening on http://${opts.host}:${port}`);
  });
  const stop = () => { io.close(); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
