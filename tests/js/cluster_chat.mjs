// One npm socket.io-client in /chat on one openline node, talking to someone elsewhere.
// argv[2] is JSON: {url, nickname, room, text, transports?, parser?, timeout?}.
// Connects with auth {nickname, room} (and, by default, waits for the polling→websocket
// upgrade), says `text` in `room`, then waits for the first message from anyone else.
// Prints ONE JSON line: {acked, received, transport, upgraded} and exits.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const opts = JSON.parse(process.argv[2] || "{}");
const LIMIT = opts.timeout ?? 15000;
let socket;

function finish(result, code = 0) {
  if (socket) socket.disconnect();
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

setTimeout(() => finish({ error: "cluster_chat timed out" }, 1), LIMIT).unref();

async function main() {
  const options = { forceNew: true, reconnection: false, auth: { nickname: opts.nickname, room: opts.room } };
  if (opts.transports) options.transports = opts.transports;
  if (opts.parser === "msgpack") options.parser = msgpackParser;
  socket = io(opts.url + "/chat", options);
  const received = new Promise((resolve) => socket.once("message", resolve));
  const upgraded = new Promise((resolve) => {
    socket.io.on("open", () => {
      const engine = socket.io.engine;
      if (engine.transport.name === "websocket") resolve(false);
      else engine.once("upgrade", () => resolve(true));
    });
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
  });
  const didUpgrade = opts.transports ? false : await upgraded;
  const acked = await socket.emitWithAck("message", { room: opts.room, text: opts.text });
  const message = await received;
  return { acked: acked.map(({ ts, ...rest }) => rest), received: { ...message, ts: typeof message.ts },
           transport: socket.io.engine.transport.name, upgraded: didUpgrade };
}

main().then(finish, (err) => finish({ error: String(err && err.message || err) }, 1));
