"""Server CPU instructions per reply over HTTP long-polling, counted by valgrind's callgrind
(bench/icount.py's method, for the ``poll_echo`` row of ``make bench``): the same count on
every run of the same tree, whatever else the machine runs.

    .venv/bin/python bench/icount_poll.py [--rounds 100] [-- --no-metrics ...]

The server is this tree's (``python -m server run`` from the folder above bench/, so a
copy of the tree measures itself) with bench/plugins, under callgrind, with
``--ping-interval 600 --ping-timeout 600`` unless given after ``--`` (a heartbeat in the
measured rounds would add a GET and a POST to one run and not another). One raw-socket
Engine.IO v4 long-polling client on /bench, as socket.io-client polls: keep-alive HTTP/1.1
on two connections, one for its GETs, one for its POSTs, a GET always waiting. Each round
POSTs ``--batch`` ack events ``42/bench,{id}["echo",{"a":1,"b":"hello"}]`` joined by
\\x1e in one body, then reads GET answers (polling again at once after each) until the
acks have all arrived. One client process runs a warm-up of 30 rounds, the counters are
zeroed (callgrind_control), it runs the measured rounds, they are dumped: neither start-up
nor the handshake is counted. The figure is user-space instructions per reply (syscalls'
kernel time is not in it). Needs valgrind (Debian's package); ~1 min.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import icount  # bench/icount.py: callgrind's start, counts and stop (bench/ is on sys.path)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BATCH = 10
WARMUP = 30
PAYLOAD = '{"a":1,"b":"hello"}'
QUIET_HEARTBEAT = ["--ping-interval", "600", "--ping-timeout", "600"]


class Http:
    """One keep-alive HTTP/1.1 connection: a request written, its answer read later."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, method: str, target: str, body: str | None = None) -> None:
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n"
        data = b""
        if body is not None:
            data = body.encode()
            head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(data)}\r\n"
        self.sock.sendall((head + "\r\n").encode() + data)

    def answer(self) -> str:
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"unexpected answer: {head!r}")
        found = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        if found is None:
            raise SystemExit(f"no Content-Length: {head!r}")
        n = int(found.group(1))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return body.decode()

    def _more(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("connection closed by the server")
        self.buf += chunk


class Client:
    """A long-polling session on /bench with a GET always waiting (``poll``)."""

    def __init__(self, port: int) -> None:
        self.gets, self.posts = Http(port), Http(port)
        self.gets.send("GET", "/socket.io/?EIO=4&transport=polling")
        opened = self.gets.answer()
        found = re.match(r'0\{"sid":"([^"]+)"', opened)
        if found is None:
            raise SystemExit(f"no open packet: {opened}")
        self.target = f"/socket.io/?EIO=4&transport=polling&sid={found.group(1)}"
        self.post("40/bench,")
        self.gets.send("GET", self.target)
        connected = self.gets.answer()
        if not connected.startswith("40/bench,"):
            raise SystemExit(f"not connected: {connected}")
        self.gets.send("GET", self.target)  # the waiting GET
        self.next_id = 0
        self.polls = 0  # GETs answered in the rounds

    def post(self, body: str) -> None:
        self.posts.send("POST", self.target, body)
        if self.posts.answer() != "ok":
            raise SystemExit("POST not answered ok")

    def round(self, batch: int) -> None:
        events = []
        for _ in range(batch):
            self.next_id += 1
            events.append(f'42/bench,{self.next_id}["echo",{PAYLOAD}]')
        self.post("\x1e".join(events))
        got = 0
        while got < batch:
            for packet in self.gets.answer().split("\x1e"):
                if packet.startswith("43/bench,"):
                    got += 1
                elif packet == "2":  # a heartbeat (only with --ping-interval given)
                    self.post("3")
            self.gets.send("GET", self.target)
            self.polls += 1


def load(port: int, rounds: int, batch: int) -> None:
    """The client side (run as a child of ``count``): warm-up, "warm", a line on stdin,
    the measured rounds, "done", a line on stdin, exit."""
    client = Client(port)
    for _ in range(WARMUP):
        client.round(batch)
    print("warm", flush=True)
    sys.stdin.readline()
    client.polls = 0
    for _ in range(rounds):
        client.round(batch)
    print("done", client.polls, flush=True)
    sys.stdin.readline()


def count(rounds: int, extra: list[str], batch: int = BATCH,
          keep: str | None = None) -> tuple[float, int]:
    """Instructions per reply (see the module doc), and the GETs the rounds took."""
    out = tempfile.mkdtemp(prefix="icount-poll-")
    heartbeat = [] if any(a.startswith("--ping-") for a in extra) else QUIET_HEARTBEAT
    # python -m server from the tree this file is in (a copy's own code, not the venv's
    # openline), and the same dict layouts on every run
    server, port = icount.start([*heartbeat, *extra], out, module="server",
                                env={**os.environ, "PYTHONHASHSEED": "0"})
    client: subprocess.Popen[str] | None = None
    try:
        client = subprocess.Popen([sys.executable, __file__, "--load", str(port), str(rounds),
                                   str(batch)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        assert client.stdin is not None and client.stdout is not None

        def step(expected: str) -> str:
            line = client.stdout.readline().strip()  # type: ignore[union-attr]
            if line.split(" ")[0] != expected:
                raise SystemExit(f"the load client failed (said {line!r})")
            return line

        step("warm")
        icount.zero(server)
        client.stdin.write("go\n")
        client.stdin.flush()
        polls = int(step("done").split(" ")[1])
        instructions = icount.total(server, out, keep)
        client.stdin.write("end\n")
        client.stdin.flush()
        client.wait(timeout=60)
        return instructions / (rounds * batch), polls
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        icount.stop(server, out)


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--load"]:
        load(int(argv[1]), int(argv[2]), int(argv[3]))
        return 0
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=100, help="measured rounds (100)")
    ap.add_argument("--batch", type=int, default=BATCH, help="events per POST (10)")
    ap.add_argument("--keep", metavar="FILE", help="save callgrind's dump there")
    args = ap.parse_args(argv)
    per_reply, polls = count(args.rounds, extra, args.batch, args.keep)
    print(f"poll_echo: {per_reply:,.0f} instructions/reply ({args.rounds * args.batch} acks, "
          f"{args.batch} events per POST, {polls} GETs in {args.rounds} rounds)"
          + (f" [{' '.join(extra)}]" if extra else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
