// A minimal Socket.IO-over-WebSocket client on a bare TCP socket, for the connection,
// broadcast and echo scenarios: with `ws` clients the load generator's own core (HTTP
// client, socket wrappers, an event per message) was the limit there — Node's connect
// rate and both servers' broadcast deliveries (measured with loadgen.js's cpu figures),
// and 70% of it went on Node's echo. It speaks
// just enough RFC 6455: one handshake, unfragmented frames from the server, small masked
// frames to it, no extensions (the permessage-deflate runs keep using `ws`).
"use strict";
const net = require("net");
const notepack = require("notepack.io");
const { encodeConnect, encodeEvent, jsonAckId } = require("./frames");

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="; // any 16-byte base64 nonce will do
const HEADER_END = Buffer.from("\r\n\r\n");

// A client-to-server frame: FIN + opcode, the mask bit, a zero masking key (payload
// unchanged). Payloads here are < 64 KiB.
function frame(payload, binary) {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const op = binary ? 0x82 : 0x81;
  if (body.length < 126) return Buffer.concat([Buffer.from([op, 0x80 | body.length, 0, 0, 0, 0]), body]);
  if (body.length > 0xffff) throw new Error("rawclient frames are < 64 KiB");
  const head = Buffer.from([op, 0x80 | 126, body.length >> 8, body.length & 0xff, 0, 0, 0, 0]);
  return Buffer.concat([head, body]);
}

class RawClient {
  // path: the request target; bridge: a plain WebSocket client of openline's bridge (or
  // node_server.js's), connected at the 101, every frame after it given to onFrame.
  constructor(o, address, path = "/socket.io/?EIO=4&transport=websocket", bridge = false) {
    this.o = o;
    this.address = address;
    this.path = path;
    this.bridge = bridge;
    this.socket = null;
    this.connected = false;
    this.onFrame = null; // (isBinary, payload) for every frame after the namespace CONNECT
    this.nextId = 0;
    this.pending = new Map(); // ack id -> send time (ms), as loadgen.js's Client
    this.onAck = null; // (sentAt) => void, used when onFrame is not set
  }

  open() {
    const o = this.o;
    const url = new URL(o.url);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) { socket.destroy(); reject(err); } else { this.connected = true; resolve(this); }
      };
      const timer = setTimeout(() => done(new Error("connect timed out")), o.timeout * 1000);
      const socket = net.connect({ host: url.hostname, port: Number(url.port), localAddress: this.address });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on("error", (err) => done(err));
      socket.on("close", () => done(new Error("closed while connecting")));
      socket.on("connect", () => {
        socket.write(`GET ${this.path} HTTP/1.1\r\nHost: ${url.host}\r\n` +
          `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
          "Sec-WebSocket-Version: 13\r\n\r\n");
      });
      let buf = Buffer.alloc(0);
      let upgraded = false;
      socket.on("data", (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        if (!upgraded) {
          const end = buf.indexOf(HEADER_END);
          if (end < 0) return;
          if (!buf.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
            return done(new Error(`handshake refused: ${buf.subarray(0, end).toString().split("\r\n")[0]}`));
          }
          upgraded = true;
          buf = buf.subarray(end + 4);
          if (this.bridge) done();
        }
        while (buf.length >= 2) {
          let len = buf[1] & 0x7f;
          let at = 2;
          if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
          else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
          if (buf.length < at + len) return;
          const opcode = buf[0] & 0x0f;
          const payload = buf.subarray(at, at + len);
          buf = buf.subarray(at + len);
          this.message(opcode, payload, done);
        }
      });
    });
  }

  message(opcode, payload, done) {
    if (this.connected && (opcode === 0x1 || opcode === 0x2)) {
      if (this.bridge) { if (this.onFrame) this.onFrame(opcode === 0x2, payload); return; }
      if (opcode === 0x1 && payload.length === 1 && payload[0] === 0x32) this.socket.write(frame("3"));
      else if (this.onFrame) this.onFrame(opcode === 0x2, payload);
      else if (opcode === 0x1 ? payload[0] === 0x34 && payload[1] === 0x33 : true) this.ack(opcode === 0x2, payload);
      return;
    }
    if (opcode === 0x1) {
      const t = payload[0];
      if (t === 0x32 && payload.length === 1) this.socket.write(frame("3")); // ping -> pong
      else if (t === 0x30) { // Engine.IO open: connect to the namespace
        const connect = encodeConnect(this.o.parser);
        this.socket.write(frame(connect, typeof connect !== "string"));
      } else if (t === 0x34 && payload[1] === 0x30) done();
      else if (t === 0x34 && payload[1] === 0x34) done(new Error(`connect_error ${payload}`));
    } else if (opcode === 0x2) {
      const pkt = notepack.decode(payload);
      if (pkt.type === 0) done();
      else if (pkt.type === 4) done(new Error("connect_error"));
    } else if (opcode === 0x8) {
      this.socket.destroy();
    }
  }

  ack(binary, payload) {
    let id;
    if (binary) {
      const pkt = notepack.decode(payload);
      if (pkt.type !== 3) return;
      id = pkt.id;
    } else {
      id = jsonAckId(payload);
    }
    const sentAt = this.pending.get(id);
    if (sentAt === undefined) return;
    this.pending.delete(id);
    if (this.onAck) this.onAck(sentAt);
  }

  emit(args, sentAt) {
    const id = this.nextId++;
    this.pending.set(id, sentAt === undefined ? performance.now() : sentAt);
    this.send(encodeEvent(this.o.parser, args, id));
  }

  send(data) {
    this.socket.write(frame(data, typeof data !== "string"));
  }

  close() {
    this.socket.destroy();
  }
}

module.exports = { RawClient };
