"""bench/report.py: ratios, targets and marks of the `make bench` table (pure functions)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import report  # noqa: E402  (bench/ is not a package)

FIGS = report.figures(5000, 19800, 1000)


def _rows(raw: dict) -> list[dict]:
    return report.rows(raw, FIGS)


def _cells(text: str) -> list[list[str]]:
    """The table's body rows as stripped cells."""
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()[2:]
            if line.startswith("|")]


def test_higher_is_better_ratio_and_target() -> None:
    """echo rate: ratio is openline/Node and the target is met only at ≥ 1.0."""
    rows = _rows({"json": {"node": {"echo_eps": 100_000}, "openline": {"echo_eps": 50_000}}})
    (row,) = rows
    assert (row["key"], row["ratio"], row["target_met"]) == ("echo_eps", 0.5, False)
    rows = _rows({"json": {"node": {"echo_eps": 100}, "openline": {"echo_eps": 100}}})
    assert rows[0]["target_met"] is True


def test_lower_is_better_target() -> None:
    """Memory per connection: the target is met at ≤ 1.0× Node, missed above."""
    met = _rows({"json": {"node": {"kb_big": 20.0}, "openline": {"kb_big": 18.0}}})[0]
    missed = _rows({"json": {"node": {"kb_big": 10.0}, "openline": {"kb_big": 18.0}}})[0]
    assert (met["target_met"], missed["target_met"]) == (True, False)
    assert missed["figure"] == "idle memory @19,800"


def test_figures_measured_by_neither_server_are_left_out() -> None:
    """A figure with no value for either server gets no row; one side missing shows '—'."""
    rows = _rows({"json": {"node": {"bcast_dps": 1234}, "openline": {}}})
    assert [r["key"] for r in rows] == ["bcast_dps"]
    assert rows[0]["ratio"] is None
    assert _cells(report.table(rows)) == [["broadcast", "deliveries/s", "json", "1,234", "—", "—", ""]]


def test_marks_busy_loadgen_and_starved_server() -> None:
    """'*' marks a busy load generator, '†' a server that did not get its core; memory gets neither."""
    raw = {"json": {
        "node": {"bcast_dps": 10, "bcast_dps:loadgen_cpu": 0.95, "bcast_dps:server_cpu": 0.99,
                 "kb_big": 10, "kb_big:loadgen_cpu": 0.99, "kb_big:server_cpu": 0.1},
        "openline": {"bcast_dps": 20, "bcast_dps:loadgen_cpu": 0.5, "bcast_dps:server_cpu": 0.5,
                     "kb_big": 9, "kb_big:loadgen_cpu": 0.2, "kb_big:server_cpu": 0.2},
    }}
    by_key = {r["key"]: r for r in _rows(raw)}
    assert (by_key["bcast_dps"]["loadgen_busy"], by_key["bcast_dps"]["server_starved"]) == (True, True)
    assert (by_key["kb_big"]["loadgen_busy"], by_key["kb_big"]["server_starved"]) == (False, False)
    text = report.table(list(by_key.values()))
    assert [row[0] for row in _cells(text)] == ["broadcast * †", "idle memory @19,800"]
    assert "\n* the load generator used ≥ 90% of its core there" in text
    assert "\n† a server used < 85% of its core" in text


def test_record_appends_under_runs(tmp_path: Path) -> None:
    """record() appends a dated entry with the command under '## Runs', keeping what was there."""
    md = tmp_path / "RESULTS.md"
    md.write_text("# results\n\nintro\n")
    meta = {"date": "2026-01-01 00:00 UTC", "mode": "quick", "cpu": "cpu", "cores": 2,
            "server_core": "0", "load_core": "1", "versions": {"python": "3.11"}, "commit": "abc",
            "note": "noisy"}
    report.record(md, meta, "| t |", "make bench ARGS=--quick")
    report.record(md, meta, "| u |", "make bench")
    text = md.read_text()
    assert text.startswith("# results\n\nintro\n\n## Runs\n")
    assert text.count("### 2026-01-01 00:00 UTC — quick run") == 2
    assert "- command: `make bench ARGS=--quick`" in text
    assert text.index("| t |") < text.index("| u |")


def test_recovery_costs_are_each_servers_on_over_off() -> None:
    """The on/off table: each server's rate with recovery on over its own with it off."""
    raw = {"json": {
        "node": {"bcast_dps": 200, "bcast_dps:server_cpu": 1.0, "bcast_dps_rec": 150,
                 "bcast_dps_rec:server_cpu": 0.6},
        "openline": {"bcast_dps": 600, "bcast_dps_rec": 540},
    }, "msgpack": {"node": {"bcast_dps": 100}, "openline": {}}}
    (row,) = report.recovery_costs(raw)
    assert (row["figure"], row["parser"], row["node"], row["openline"]) == ("broadcast", "json", 0.75, 0.9)
    assert (round(row["node_cpu"], 2), row["openline_cpu"]) == (0.8, None)  # (0.6/150) / (1.0/200)
    assert (row["node_starved"], row["openline_starved"]) == (True, False)
    text = report.cost_table([row])
    assert _cells(text) == [["broadcast", "json", "0.75× †", "0.90×", "0.80×", "—"]]
    assert "\n† one of the two runs" in text


def test_no_ratio_for_a_growth_at_or_below_zero() -> None:
    """A memory growth within the noise (≤ 0) gets its value but no ratio or target."""
    rows = _rows({"json": {"node": {"sess_later": -0.3}, "openline": {"sess_later": 1.3}}})
    assert (rows[0]["ratio"], rows[0]["target_met"]) == (None, None)
