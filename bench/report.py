"""What ``bench/run.py`` makes of its measurements: the table, results.json, the PNG chart
and the run's entry in bench/RESULTS.md. Pure functions of the results plus file writes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A figure the loadgen produced while using this much of its core may be the loadgen's
# limit rather than the server's: the table marks it.
LOADGEN_BUSY = 0.9
# In a scenario that keeps the server busy, a server that used less of its core than this
# was sharing core 0 with other processes (this machine is shared): its figure is understated.
SERVER_STARVED = 0.85
RUNS_HEADING = "## Runs"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    paced_by_load: bool = True  # False: a busy load generator cannot change it (memory)
    saturating: bool = True  # the scenario keeps the server busy (not memory, not equal load)


def _memory(key: str, label: str, unit: str = "KB/conn") -> Figure:
    return Figure(key, label, unit, False, paced_by_load=False, saturating=False)


def figures(small: int, big: int, disconnect_small: int, sessions: int = 5_000) -> list[Figure]:
    return [
        Figure("echo_eps", "echo rate", "events/s", True),
        Figure("echo_eps_rec", "echo rate, recovery on", "events/s", True),
        Figure("echo_p50", "echo p50 (saturated)", "ms", False),
        Figure("echo_p99", "echo p99 (saturated)", "ms", False),
        Figure("lat_p50", "p50 at equal load", "ms", False, saturating=False),
        Figure("lat_p99", "p99 at equal load", "ms", False, saturating=False),
        Figure("bcast_dps", "broadcast", "deliveries/s", True),
        Figure("bcast_dps_rec", "broadcast, recovery on", "deliveries/s", True),
        Figure("connects_s", f"connect rate ({small:,})", "connects/s", True),
        _memory("kb_small", f"idle memory @{small:,}"),
        _memory("kb_small_deflate", f"idle memory @{small:,} deflate"),
        _memory("kb_big", f"idle memory @{big:,}"),
        _memory("kb_big_deflate", f"idle memory @{big:,} deflate"),
        Figure("disc_small", f"mass disconnect @{disconnect_small:,}", "µs/disconnect", False),
        Figure("disc_big", f"mass disconnect @{big:,}", "µs/disconnect", False),
        # connection state recovery (bench/run.py session_memory): clients with 3 rooms and
        # session data each, dropped at once; VmRSS over the first round of them, then over
        # a second round in the memory the first one's connections left; last, the heap
        _memory("sess_on", f"RSS kept after drop @{sessions:,}, recovery on", "KB/client"),
        _memory("sess_saved", f"RSS kept after drop @{sessions:,}, per saved session", "KB/session"),
        _memory("sess_off", f"RSS kept after drop @{sessions:,}, recovery off", "KB/client"),
        _memory("sess_later", f"RSS per saved session, 2nd {sessions:,}", "KB/session"),
        _memory("sess_later_off", f"RSS per client, 2nd {sessions:,}, recovery off", "KB/client"),
        _memory("sess_heap", f"heap per saved session, 3rd {sessions:,}", "KB/session"),
        _memory("sess_heap_off", f"heap per client, 3rd {sessions:,}, recovery off", "KB/client"),
    ]


# (off figure, on figure, label): what turning recovery on costs each server
RECOVERY_COSTS = (("echo_eps", "echo_eps_rec", "echo rate"), ("bcast_dps", "bcast_dps_rec", "broadcast"))
# openline's features with a cost when on (issue #14): (figure off, figure on, label)
FEATURE_COSTS = (
    ("echo_eps_nomet", "echo_eps_met", "metrics on/off, echo"),
    ("bcast_dps_nomet", "bcast_dps_met", "metrics on/off, broadcast"),
    ("echo_eps_met", "echo_eps_admin", "admin on/off, echo"),
    ("bcast_dps_met", "bcast_dps_admin", "admin on/off, broadcast"),
    ("echo_eps_met", "echo_eps_redis", "redis manager on/off, echo"),
    ("bcast_dps_met", "bcast_dps_redis", "redis manager on/off, broadcast"),
)


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rows(results: dict[str, Any], figs: list[Figure]) -> list[dict[str, Any]]:
    """One row per figure and parser: both values, the ratio and whether the target is met."""
    out = []
    for fig in figs:
        for parser, servers in results.items():
            node = servers.get("node", {}).get(fig.key)
            mine = servers.get("openline", {}).get(fig.key)
            if node is None and mine is None:
                continue  # not measured in this mode (e.g. --quick skips msgpack memory)
            # no ratio of a figure at or below 0 (a memory growth within the noise)
            ratio = mine / node if node is not None and node > 0 and mine is not None and mine >= 0 else None
            met = None if ratio is None else (ratio >= 1.0 if fig.higher_is_better else ratio <= 1.0)
            busy = fig.paced_by_load and max(
                servers.get(s, {}).get(fig.key + ":loadgen_cpu") or 0 for s in ("node", "openline"))
            starved = fig.saturating and any(
                (servers.get(s, {}).get(fig.key + ":server_cpu") or 1) < SERVER_STARVED
                for s in ("node", "openline"))
            out.append({"key": fig.key, "figure": fig.label, "unit": fig.unit, "parser": parser,
                        "node": node, "openline": mine, "ratio": ratio, "target_met": met,
                        "higher_is_better": fig.higher_is_better, "loadgen_busy": busy >= LOADGEN_BUSY,
                        "server_starved": starved})
    return out


def table(table_rows: list[dict[str, Any]]) -> str:
    """A Markdown table, readable as plain text too."""
    head = ["figure", "unit", "parser", "Node", "openline", "openline/Node", "target"]
    lines = []
    for r in table_rows:
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        target = "" if r["target_met"] is None else ("met" if r["target_met"] else "MISSED")
        note = (" *" if r["loadgen_busy"] else "") + (" †" if r["server_starved"] else "")
        lines.append([r["figure"] + note, r["unit"], r["parser"], _fmt(r["node"]), _fmt(r["openline"]),
                      ratio, target])
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    right = {3, 4, 5}

    def render(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|"
    legend = ("\n* the load generator used ≥ 90% of its core there: that figure may be its limit."
              if any(r["loadgen_busy"] for r in table_rows) else "")
    if any(r["server_starved"] for r in table_rows):
        legend += (f"\n† a server used < {SERVER_STARVED:.0%} of its core in a scenario that keeps it "
                   "busy: other processes shared core 0, so that server's figure is understated.")
    return "\n".join([render(head), sep, *(render(line) for line in lines)]) + legend


def _cpu_per_event(servers: dict[str, Any], kind: str, key: str) -> float | None:
    """Server CPU seconds per event of a rate figure (its busy fraction over the rate)."""
    rate, busy = servers.get(kind, {}).get(key), servers.get(kind, {}).get(key + ":server_cpu")
    return busy / rate if rate and busy else None


def recovery_costs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure and parser measured with recovery on: each server's on/off
    ratio of the rate (1.0: recovery is free; below: it costs) and of its CPU time per
    event (above 1.0: it costs), which a server sharing its core with other processes
    changes less than the rate; and whether either run was starved."""
    out = []
    for off_key, on_key, label in RECOVERY_COSTS:
        for parser, servers in results.items():
            row: dict[str, Any] = {"figure": label, "parser": parser}
            for kind in ("node", "openline"):
                mine = servers.get(kind, {})
                off, on = mine.get(off_key), mine.get(on_key)
                row[kind] = on / off if off and on is not None else None
                cpu_off, cpu_on = (_cpu_per_event(servers, kind, k) for k in (off_key, on_key))
                row[kind + "_cpu"] = cpu_on / cpu_off if cpu_off and cpu_on is not None else None
                row[kind + "_starved"] = any((mine.get(k + ":server_cpu") or 1) < SERVER_STARVED
                                             for k in (off_key, on_key))
            if row["node"] is not None or row["openline"] is not None:
                out.append(row)
    return out


def cost_table(cost_rows: list[dict[str, Any]]) -> str:
    """The on/off ratios as a Markdown table, with what they mean."""
    def cell(r: dict[str, Any], key: str, starved: str = "") -> str:
        mark = " †" if starved and r[starved + "_starved"] else ""
        return "—" if r[key] is None else f"{r[key]:.2f}×{mark}"

    head = ["recovery on/off", "parser", "Node rate", "openline rate", "Node CPU/event",
            "openline CPU/event"]
    lines = [[r["figure"], r["parser"], cell(r, "node", "node"), cell(r, "openline", "openline"),
              cell(r, "node_cpu"), cell(r, "openline_cpu")] for r in cost_rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    body = ["| " + " | ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                              for i, (c, w) in enumerate(zip(line, widths, strict=True))) + " |"
            for line in [head, *lines]]
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i >= 2 else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|"
    legend = ("\non/off: a server with connection state recovery on over the same server with it "
              "off: its rate (1.00×: free; below: what recovery costs) and its CPU time per event "
              "(above 1.00×: what recovery costs; steadier when other processes share the core). "
              "Both servers log every broadcast and append its offset; echo replies are acks, which "
              "neither logs.")
    if any(r["node_starved"] or r["openline_starved"] for r in cost_rows):
        legend += f"\n† one of the two runs used < {SERVER_STARVED:.0%} of its core."
    return "\n".join([body[0], sep, *body[1:]]) + legend


def feature_costs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """openline's on/off ratios of its rate and CPU per event for metrics and the admin
    UI (no UI logged in), JSON; and openline/Node at the same point."""
    servers = results.get("json", {})
    mine = servers.get("openline", {})
    out = []
    for off_key, on_key, label in FEATURE_COSTS:
        off, on = mine.get(off_key), mine.get(on_key)
        if off is None or on is None:
            continue
        cpu_off, cpu_on = (_cpu_per_event(servers, "openline", k) for k in (off_key, on_key))
        node = servers.get("node", {}).get(on_key.rsplit("_", 1)[0])
        out.append({"figure": label, "rate": on / off if off else None,
                    "cpu": cpu_on / cpu_off if cpu_off and cpu_on is not None else None,
                    "vs_node": on / node if node else None,
                    "starved": any((mine.get(k + ":server_cpu") or 1) < SERVER_STARVED
                                   for k in (off_key, on_key))})
    return out


def feature_table(rows: list[dict[str, Any]]) -> str:
    """The feature on/off ratios as a Markdown table."""
    def cell(value: float | None, mark: str = "") -> str:
        return "—" if value is None else f"{value:.2f}×{mark}"

    lines = ["| openline feature | rate on/off | CPU/event on/off | on: openline/Node |",
             "|---|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {cell(r['rate'], ' †' if r['starved'] else '')} | "
                     f"{cell(r['cpu'])} | {cell(r['vs_node'])} |")
    return "\n".join(lines) + ("\nmetrics: `--no-metrics` (off) against the default (on); admin: "
                               "`--admin --admin-no-auth` with no UI logged in, metrics on in both; redis: "
                               "`--redis-url` to a redis-server of its own on core 1; "
                               "JSON; openline/Node uses the throughput group's Node run.")


def write_json(path: Path, meta: dict[str, Any], results: dict[str, Any],
               table_rows: list[dict[str, Any]], cost_rows: list[dict[str, Any]] | None = None,
               extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "rows": table_rows, "recovery_costs": cost_rows or [], **(extra or {}),
           "raw": results}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def draw_chart(path: Path, meta: dict[str, Any], table_rows: list[dict[str, Any]]) -> str | None:
    """A bar per figure: openline/Node with the target line at 1×. None, or why not drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]'): no chart"
    shown = [r for r in table_rows if r["ratio"]]
    if not shown:
        return "no figure has both servers: no chart"
    labels = [f"{r['figure']} [{r['parser']}]" + (" *" if r["loadgen_busy"] else "")
              + (" †" if r["server_starved"] else "") for r in shown]
    # Plot "how many times better than Node" so that right of 1 is always good.
    score = [r["ratio"] if r["higher_is_better"] else 1 / r["ratio"] for r in shown]
    colors = ["#2a9d4a" if s >= 1 else "#c8423b" for s in score]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(shown) + 1.6))
    # Bars grow from 1× (parity) to the score, left for behind Node, right for ahead.
    ax.barh(range(len(shown)), [s - 1 for s in score], left=1, color=colors)
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xlabel("openline vs Node.js socket.io (× better; right of 1 = openline ahead)\n"
                  "* load generator ≥ 90% busy   † a server did not get its whole core")
    ax.set_title(f"make bench {meta['mode']} — {meta['date']}\n{meta['cpu']}", fontsize=9)
    for i, (s, r) in enumerate(zip(score, shown, strict=True)):
        ax.text(s, i, f" {r['ratio']:.2f}×", va="center", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def record(path: Path, meta: dict[str, Any], text_table: str, command: str) -> None:
    """Append the run under '## Runs' of RESULTS.md (created with a heading if missing)."""
    current = path.read_text() if path.exists() else "# openline benchmark results\n"
    if RUNS_HEADING not in current:
        current = current.rstrip("\n") + f"\n\n{RUNS_HEADING}\n"
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    entry = (f"\n### {meta['date']} — {meta['mode']} run\n\n"
             f"- command: `{command}`\n- CPU: {meta['cpu']} ({meta['cores']} cores; server on core "
             f"{meta['server_core']}, load generator on core {meta['load_core']})\n"
             f"- versions: {versions}\n- commit: {meta['commit']}\n"
             f"- note: {meta['note']}\n\n{text_table}\n")
    path.write_text(re.sub(r"\n*$", "\n", current) + entry)
