// Engine.IO v4 / Socket.IO v5 frames as the load generator writes and reads them, for
// the namespace /bench, in the JSON and the msgpack (socket.io-msgpack-parser) framing.
"use strict";
const notepack = require("notepack.io");

const NSP = "/bench";

const NSP_PREFIX_LEN = 2 + NSP.length + 1; // "43" + "/bench" + ","

function encodeConnect(parser) {
  return parser === "json" ? `40${NSP},` : notepack.encode({ type: 0, nsp: NSP });
}

function encodeEvent(parser, args, id) {
  if (parser === "json") {
    return `42${NSP},${id === undefined ? "" : id}${JSON.stringify(args)}`;
  }
  const pkt = { type: 2, nsp: NSP, data: args };
  if (id !== undefined) pkt.id = id;
  return notepack.encode(pkt);
}

// "43/bench,17[...]" -> 17, read without parsing the JSON payload.
function jsonAckId(buf) {
  let id = 0;
  for (let i = NSP_PREFIX_LEN; i < buf.length; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    id = id * 10 + (c - 0x30);
  }
  return id;
}

function sourceAddress(run, i) {
  // Spread clients over 64 loopback source addresses per run, a fresh /16 each run, so
  // 20k sockets plus the TIME_WAIT of earlier runs never exhaust the ephemeral port range.
  return `127.${1 + (run % 250)}.${1 + (i % 64)}.1`;
}

// Frame tests for bare-socket clients, which count deliveries without decoding them:
// only the header is read, so an event with connection state recovery's offset as its
// last argument (both servers append one to each broadcast) counts alike.
function isEvent(binary, payload) {
  if (!binary) return payload[0] === 0x34 && payload[1] === 0x32; // "42"
  // msgpack {"type": 2, ...}: both servers' encoders put "type" first
  if (payload[1] === 0xa4 && payload[2] === 0x74 && (payload[0] & 0xf0) === 0x80) return payload[6] === 0x02;
  return notepack.decode(payload).type === 2;
}

function isAck(binary, payload) {
  return binary ? notepack.decode(payload).type === 3 : payload[0] === 0x34 && payload[1] === 0x33;
}

module.exports = { NSP, encodeConnect, encodeEvent, isAck, isEvent, jsonAckId, sourceAddress };
