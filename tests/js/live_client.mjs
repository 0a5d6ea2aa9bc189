// socket.io-client sockets driven line by line: the Python test writes one JSON command
// per line on stdin, this prints one JSON line per thing a socket saw (binary values as
// {"bin": [...]}), so a test can act between steps (drop a transport, emit from the
// server, reconnect) and assert what arrived, exactly and in order.
//
//   {"op":"open","name":"a","url":...,"namespace":"/rec","parser":"json"|"msgpack",
//    "transports":[...],"auth":{...},"client":{...more io() options}}
//   {"op":"emit","name":"a","event":"join","args":["r1"],"tag":"t1"}   (with an ack)
//   {"op":"drop","name":"a"}        close the Engine.IO transport: a network blip
//   {"op":"connect","name":"a"}     connect again (sends pid and offset when it has them)
//   {"op":"disconnect","name":"a"}  the client's own disconnect()
//   {"op":"exit"}
//
// Prints {"name","type":"connect","sid","recovered"} / "connect_error" {message} /
// "disconnect" {reason} / "event" {event,args} / "ack" {tag,args} / "error" {message}.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { commands, show } from "./common.mjs";

const sockets = new Map();
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

function open(cmd) {
  const options = { forceNew: true, reconnection: false, auth: cmd.auth ?? {}, ...(cmd.client ?? {}) };
  if (cmd.transports) options.transports = cmd.transports;
  if (cmd.parser === "msgpack") options.parser = msgpackParser;
  const socket = io(cmd.url + (cmd.namespace ?? "/"), options);
  const name = cmd.name;
  sockets.set(name, socket);
  socket.on("connect", () => print({ name, type: "connect", sid: socket.id, recovered: socket.recovered ?? null }));
  socket.on("connect_error", (err) => print({ name, type: "connect_error", message: err.message }));
  socket.on("disconnect", (reason) => print({ name, type: "disconnect", reason }));
  socket.onAny((event, ...args) => print({ name, type: "event", event, args: show(args) }));
}

const ops = {
  open,
  async emit(cmd) {
    const args = await sockets.get(cmd.name).timeout(10000).emitWithAck(cmd.event, ...(cmd.args ?? []));
    print({ name: cmd.name, type: "ack", tag: cmd.tag, args: show([args]) });
  },
  drop: (cmd) => sockets.get(cmd.name).io.engine.close(),
  connect: (cmd) => sockets.get(cmd.name).connect(),
  disconnect: (cmd) => sockets.get(cmd.name).disconnect(),
  exit: () => {
    for (const socket of sockets.values()) socket.disconnect();
    process.exit(0);
  },
};

commands(ops, print);
