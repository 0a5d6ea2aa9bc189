// What the Node scripts under tests/js share: a one-shot scenario's options, result and
// time limit (scenario.mjs, namespaces.mjs), and a JSON-safe picture of what arrived.

// JSON-safe description of a received value, so Python can assert it exactly: binary
// values as {"bin": [...]}, undefined as {"undefined": true}.
export function show(v) {
  if (v === undefined) return { undefined: true };
  if (Buffer.isBuffer(v) || ArrayBuffer.isView(v)) return { bin: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
  if (v instanceof ArrayBuffer) return { bin: [...new Uint8Array(v)] };
  if (Array.isArray(v)) return v.map(show);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, show(x)]));
  return v;
}

// argv[2] as the scenario's options; `finish(result)` disconnects (or closes) `sockets`, prints ONE JSON
// line and exits; the scenario gives up on its own after options.timeout ms.
export function scenario() {
  const opts = JSON.parse(process.argv[2] || "{}");
  const limit = opts.timeout ?? 15000;
  const sockets = [];
  const finish = (result, code = 0) => {
    for (const s of sockets) (s.disconnect ?? s.close).call(s);
    process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
  };
  setTimeout(() => finish({ error: `scenario ${opts.scenario} timed out` }, 1), limit).unref();
  // runs scenarios[opts.scenario] and finishes with what it returns, or with its error
  const run = async (scenarios) => {
    try {
      const chosen = scenarios[opts.scenario];
      if (!chosen) throw new Error(`unknown scenario ${opts.scenario}`);
      finish(await chosen());
    } catch (err) {
      finish({ error: String(err && err.message || err) }, 1);
    }
  };
  return { opts, limit, sockets, finish, run };
}

// Run `ops[cmd.op](cmd)` for each JSON command line on stdin, in arrival order (an async op
// may still be running when the next starts); a failed op prints {"type":"error", ...}
// with `print`. Exits when stdin ends.
export async function commands(ops, print) {
  const { createInterface } = await import("node:readline");
  createInterface({ input: process.stdin }).on("line", async (line) => {
    if (!line.trim()) return;
    const cmd = JSON.parse(line);
    try {
      await ops[cmd.op](cmd);
    } catch (err) {
      print({ type: "error", name: cmd.name, op: cmd.op, tag: cmd.tag, message: String(err && err.message || err) });
    }
  });
  process.stdin.on("end", () => process.exit(0));
}
