// socket.io-client sockets that answer (or ignore) the server's events with acks, for the
// cluster-wide broadcast-with-ack tests, driven by JSON lines on stdin:
//
//   {"op":"open","name":"a","url":...,"namespace":"/ops","auth":{...},"silent":false}
//   {"op":"exit"}
//
// Each event the server sends with an ack is acked with ["ack", name, ...its args] unless
// the socket is silent (then never). Prints {"name","type":"connect","sid"} /
// "connect_error" {message} / "disconnect" {reason} / "event" {event,args}.
import { io } from "socket.io-client";
import { commands, show } from "./common.mjs";

const sockets = new Map();
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const ops = {
  open(cmd) {
    const socket = io(cmd.url + (cmd.namespace ?? "/"),
                      { forceNew: true, reconnection: false, auth: cmd.auth ?? {} });
    const name = cmd.name;
    sockets.set(name, socket);
    socket.on("connect", () => print({ name, type: "connect", sid: socket.id }));
    socket.on("connect_error", (err) => print({ name, type: "connect_error", message: err.message }));
    socket.on("disconnect", (reason) => print({ name, type: "disconnect", reason }));
    socket.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      print({ name, type: "event", event, args: show(args) });
      if (ack && !cmd.silent) ack("ack", name, ...args);
    });
  },
  exit: () => {
    for (const socket of sockets.values()) socket.disconnect();
    process.exit(0);
  },
};

commands(ops, print);
