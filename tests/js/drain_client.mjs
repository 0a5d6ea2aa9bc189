// Many socket.io-client sockets that count what they get, driven line by line: the
// Python test writes one JSON command per line on stdin; this prints one JSON line per
// connect and disconnect as they happen, and a report of everything when asked.
//
//   {"op":"open","url":...,"namespace":"/rec","names":["ws0",...],"transports":[...],
//    "localAddress":"127.0.0.2","event":"tick","join":"room1","client":{...io() options}}
//       opens one socket per name; each counts the first argument of every `event`
//       (the publisher's sequence number) and, once connected and not recovered, emits
//       "join" with `join` (if given) and prints "joined" with the rooms it is in
//   {"op":"call","name":"ws0","event":"rooms","args":[]}  emit with an ack; prints
//       {"type":"ack","name","event","args"}
//   {"op":"report"}  prints {"type":"report","clients":{name: {...}}} (below)
//   {"op":"exit"}
//
// Lines (each with "t", Date.now()): {"type":"connect","name","sid","eio" (the Engine.IO
// session's id),"recovered","transport"}, {"type":"joined",
// "name","rooms"}, {"type":"disconnect","name","reason","description","status" (what the
// transport said, for a "transport error")}, {"type":"upgrade","name",
// "transport"}, {"type":"connect_error","name","message"}. A report gives, per socket:
// sids (one per connect), recovered (one flag per connect), reasons (one per
// disconnect), transports (at each connect), received (every sequence number, in
// arrival order).
import http from "node:http";
import { io } from "socket.io-client";
import { commands } from "./common.mjs";

const sockets = new Map();
const print = (line) => process.stdout.write(JSON.stringify({ ...line, t: Date.now() }) + "\n");

function open(cmd) {
  // xmlhttprequest-ssl opens a connection per poll unless given an agent; one agent per
  // socket pins its address (nginx hashes it: sticky polling) and keeps connections alive
  // as a browser does
  for (const name of cmd.names) {
    const agent = new http.Agent({ keepAlive: true, localAddress: cmd.localAddress });
    const options = { forceNew: true, agent, auth: cmd.auth ?? {}, ...(cmd.client ?? {}) };
    if (cmd.localAddress) options.localAddress = cmd.localAddress;
    if (cmd.transports) options.transports = cmd.transports;
    const socket = io(cmd.url + (cmd.namespace ?? "/"), options);
    const state = { sids: [], recovered: [], reasons: [], transports: [], received: [] };
    sockets.set(name, { socket, state });
    socket.on("connect", async () => {
      const transport = socket.io.engine.transport.name;
      state.sids.push(socket.id);
      state.recovered.push(socket.recovered);
      state.transports.push(transport);
      print({ type: "connect", name, sid: socket.id, eio: socket.io.engine.id, recovered: socket.recovered,
        transport });
      if (cmd.join && !socket.recovered) {
        try {
          const rooms = await socket.timeout(10000).emitWithAck("join", cmd.join);
          print({ type: "joined", name, rooms });
        } catch (err) {
          print({ type: "join_error", name, message: String(err && err.message || err) });
        }
      }
    });
    socket.io.on("open", () => {
      socket.io.engine.on("upgrade", (t) => print({ type: "upgrade", name, transport: t.name }));
    });
    socket.on("connect_error", (err) => print({ type: "connect_error", name, message: err.message }));
    socket.on("disconnect", (reason, details) => {
      state.reasons.push(reason);
      const description = details && (details.description?.message ?? String(details.description ?? ""));
      print({ type: "disconnect", name, reason, description, status: details?.context?.status });
    });
    socket.on(cmd.event ?? "tick", (seq) => state.received.push(seq));
  }
}

const ops = {
  open,
  async call(cmd) {
    const reply = await sockets.get(cmd.name).socket.timeout(10000).emitWithAck(cmd.event, ...(cmd.args ?? []));
    print({ type: "ack", name: cmd.name, event: cmd.event, args: [reply] });
  },
  report: () => print({ type: "report", clients: Object.fromEntries(
    [...sockets].map(([name, { state }]) => [name, state])) }),
  exit: () => {
    for (const { socket } of sockets.values()) socket.disconnect();
    process.exit(0);
  },
};

commands(ops, print);
