// The Node.js reference for `make bench`: socket.io 4.8 with the semantics of
// bench/plugins/openline_bench_ns.py on namespace /bench.
//   node node_server.js --port 0 [--parser json|msgpack] [--deflate]
// Prints "node listening on http://127.0.0.1:PORT" once it accepts connections.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", port: 0, parser: "json", deflate: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") opts.port = Number(argv[++i]);
    else if (a === "--host") opts.host = argv[++i];
    else if (a === "--parser") opts.parser = argv[++i];
    else if (a === "--deflate") opts.deflate = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error("--port must be 0..65535");
  if (!["json", "msgpack"].includes(opts.parser)) throw new Error("--parser must be json or msgpack");
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
    socket.on("stats", (ack) => {
      if (typeof ack === "function") ack({ clients });
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
