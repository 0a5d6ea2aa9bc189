// The npm socket.io-client against catch-all and pattern namespaces (tests/plugins/dynamic).
// argv[2] is JSON: {scenario, url, transports, parser, ...scenario fields}. Prints ONE JSON
// line of results and exits; gives up on its own after options.timeout ms.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { scenario, show } from "./common.mjs";

const { opts, limit: LIMIT, sockets, finish, run } = scenario();

function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${LIMIT} ms`)), LIMIT);
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}

// Sockets to one URL share a Manager (one connection) unless the namespace is open on it
// already: socket.io-client's own multiplexing, then a new Manager.
function open(namespace, auth = {}) {
  const options = { reconnection: false, auth };
  if (opts.transports) options.transports = opts.transports;
  if (opts.parser === "msgpack") options.parser = msgpackParser;
  const socket = io(opts.url + namespace, options);
  sockets.push(socket);
  socket.log = [];
  socket.onAny((event, data) => socket.log.push([event, data]));
  return socket;
}

const scenarios = {
  // "*" serves a namespace nobody declared: on_connect's emit and an event's ack name it
  async where() {
    const socket = open(opts.namespace, opts.auth);
    const [welcome] = await once(socket, "welcome");
    if (!socket.connected) await once(socket, "connect");
    const where = await socket.emitWithAck("where", ...(opts.args ?? []));
    return { welcome, where, transport: socket.io.engine.transport.name };
  },
  // rooms are per concrete namespace: a shout in /dyn-a reaches /dyn-a's members only
  async apart() {
    const a1 = open("/dyn-a"), a2 = open("/dyn-a-2"), b = open("/dyn-b");
    const other = open("/dyn-a");  // a second member of /dyn-a: its own Manager
    await Promise.all([a1, a2, b, other].map((s) => s.connected ? null : once(s, "connect")));
    const heard = once(other, "shout");
    const acked = await a1.emitWithAck("shout", "hello a");
    const [got] = await heard;
    // b's own shout is the first b hears: nothing of /dyn-a's came before it
    const own = once(b, "shout");
    await b.emitWithAck("shout", "hello b");
    await own;
    await a2.emitWithAck("where");
    const shouts = (s) => s.log.filter(([event]) => event === "shout").map(([, data]) => data);
    return { acked, got, a1: shouts(a1), a2: shouts(a2), b: shouts(b), other: shouts(other),
             shared: a1.io === a2.io && a1.io === b.io, apartFromOther: other.io !== a1.io };
  },
  // a pattern namespace: params and the session a connect hook saved
  async who() {
    const socket = open(opts.namespace, opts.auth);
    await once(socket, "connect");
    return { who: await socket.emitWithAck(opts.event ?? "who") };
  },
  // a connect hook refuses: connect_error carries the message and the data
  async refused() {
    const socket = open(opts.namespace, opts.auth);
    const [err] = await once(socket, "connect_error");
    return { message: err.message, data: err.data ?? null, connected: socket.connected };
  },
};

await run(scenarios);
