// engine.io-parser 2.2 (socket.io-client 2.x's Engine.IO v3 codec, installed with the
// "socket.io-client-v2" alias) encoding and decoding long-polling payloads, for
// tests/integration/test_eio3_codec.py to compare with openline's server/engine/eio3.py.
// argv[2]: {encode: [{packets: [{type, data?: string | {bin: [...]}}], supportsBinary}],
//           decode: [string | {bin: [...]}]}
// Prints {encoded: [string | {bin}], decoded: [[{type, data?}] | "error"]}.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const parser = require("socket.io-client-v2/node_modules/engine.io-parser");
const opts = JSON.parse(process.argv[2] || "{}");

const toData = (d) => (d && typeof d === "object" && d.bin ? Buffer.from(d.bin) : d);
const fromData = (d) => (Buffer.isBuffer(d) || d instanceof ArrayBuffer ? { bin: [...new Uint8Array(d)] } : d);

const encoded = (opts.encode ?? []).map(({ packets, supportsBinary }) => {
  let out;
  parser.encodePayload(packets.map((p) => ({ type: p.type, data: toData(p.data) })), supportsBinary,
    (payload) => { out = typeof payload === "string" ? payload : { bin: [...payload] }; });
  return out;
});

const decoded = (opts.decode ?? []).map((payload) => {
  const found = [];
  let failed = false;
  parser.decodePayload(toData(payload), (packet) => {
    if (packet.type === "error") { failed = true; return false; }
    found.push(packet.data === undefined ? { type: packet.type } : { type: packet.type, data: fromData(packet.data) });
  });
  return failed ? "error" : found;
});

process.stdout.write(JSON.stringify({ encoded, decoded }) + "\n");
