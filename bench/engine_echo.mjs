// Engine.IO-level echo throughput against a bare Engine.IO echo server (no Socket.IO):
//   python -m openline.engine --port 3100                                  (ours)
//   python -m tests.protocol.servers engine stock --port 3101           (python-engineio)
//   node bench/engine_echo.mjs http://127.0.0.1:3100 50 2000
// Opens CLIENTS WebSocket-only sessions, each sends PER_CLIENT messages at once and waits
// for all echoes; prints {"messages", "secs", "per_s"}. Pongs pings so nothing times out.
import WebSocket from "ws";

const [url, clients, perClient] = [process.argv[2], +process.argv[3], +process.argv[4]];
const message = "4" + JSON.stringify(["echo", { text: "hello world", n: 1 }]);
const started = process.hrtime.bigint();
await Promise.all(Array.from({ length: clients }, () => new Promise((resolve, reject) => {
  const ws = new WebSocket(`${url}/engine.io/?EIO=4&transport=websocket`, { perMessageDeflate: false });
  let received = -1; // the first frame is the open packet
  ws.on("error", reject);
  ws.on("message", (data) => {
    if (data.toString() === "2") { ws.send("3"); return; }
    if (++received === 0) { for (let i = 0; i < perClient; i++) ws.send(message); return; }
    if (received === perClient) { ws.close(); resolve(); }
  });
})));
const secs = Number(process.hrtime.bigint() - started) / 1e9;
const messages = clients * perClient;
console.log(JSON.stringify({ messages, secs: +secs.toFixed(3), per_s: Math.round(messages / secs) }));
