"""bench/icount.py's load: one raw WebSocket client on /bench sending ROUNDS batches of BATCH
events, each batch in one write, and reading its BATCH answers before the next (a closed
loop, so every run hands the server the same reads). ``call`` answers each ping.

    python bench/icount_load.py PORT PATTERN ROUNDS BATCH
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator

PAYLOAD = '{"a":1,"b":"hello"}'
NESTED = json.dumps({"l1": {"l2": {"l3": {"l4": [1, 2, 3]}, "x": "y" * 10}, "n": 5},
                     "m": [1, 2, {"q": True}]})
EVENTS: dict[str, Callable[[int], str]] = {
    "ack": lambda i: f'42/bench,{i}["echo",{PAYLOAD}]',
    "emit_sid": lambda i: f'42/bench,["emit_sid",{PAYLOAD}]',
    "send_sid": lambda i: f'42/bench,["send_sid",{PAYLOAD}]',
    "call": lambda i: f'42/bench,{i}["call",{PAYLOAD}]',
    "nested": lambda i: f'42/bench,{i}["echo",{NESTED}]',
}


def frame(text: str) -> bytes:
    """A masked client text frame (an all-zero mask: the payload as is)."""
    data = text.encode()
    n = len(data)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\x00\x00\x00\x00" + data


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.sock.recv(65536)
        self.buf = buf.split(b"\r\n\r\n", 1)[1]
        self.messages = self._messages()

    def _messages(self) -> Iterator[str]:
        while True:
            buf = self.buf
            while len(buf) >= 2:
                n, off = buf[1] & 0x7F, 2
                if n == 126:
                    n, off = int.from_bytes(buf[2:4], "big"), 4
                elif n == 127:
                    n, off = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) < off + n:
                    break
                data, buf = buf[off:off + n], buf[off + n:]
                self.buf = buf
                yield data.decode()
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return
            self.buf = buf + chunk

    def next(self) -> str:
        """The next Socket.IO message; pings are answered."""
        while True:
            message = next(self.messages)
            if message != "2":
                return message
            self.sock.sendall(frame("3"))


def main() -> int:
    port, pattern, rounds, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    event = EVENTS[pattern]
    client = Client(port)
    client.next()  # the Engine.IO open packet
    client.sock.sendall(frame("40/bench,"))
    connected = client.next()
    if not connected.startswith("40/bench,"):
        raise SystemExit(f"not connected: {connected}")
    i = 0
    for _ in range(rounds):
        batch_frames = []
        for _ in range(batch):
            i += 1
            batch_frames.append(frame(event(i)))
        client.sock.sendall(b"".join(batch_frames))
        got = 0
        while got < batch:
            message = client.next()
            ping = re.match(r"42/bench,(\d+)", message) if pattern == "call" else None
            if ping is not None:  # call(): the server's ping, answered
                client.sock.sendall(frame(f"43/bench,{ping.group(1)}[{PAYLOAD}]"))
                continue
            got += 1
    print("ok", i, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
