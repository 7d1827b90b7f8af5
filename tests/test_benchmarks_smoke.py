"""The benchmark suite runs end to end at a tiny size, and its peers agree (no timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the benchmarks package sits beside src/
    sys.path.insert(0, str(ROOT))
pytest.importorskip("duckdb")
pytest.importorskip("polars")

from benchmarks.compare import results_equal, tables_equal  # noqa: E402


def test_suite_runs_and_peers_agree(tmp_path: Path) -> None:
    out = tmp_path / "results"
    docs = tmp_path / "benchmarks.md"
    cmd = [sys.executable, "-m", "benchmarks.run", "--sizes", "4k",
           "--stages", "floor_read,floor_sort,reciprocity,depth,layers_rank,analyze_core",
           "--data", str(tmp_path / "data"), "--out", str(out), "--docs", str(docs)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the printed table
    assert "stage" in proc.stdout and "vs duckdb" in proc.stdout
    assert "reciprocity@shuffled" in proc.stdout
    report = json.loads((out / "latest.json").read_text())
    assert report["sizes"] == [4000] and report["machine"]["cores"]
    rows = report["rows"]
    by = {(r["stage"], r["tool"]): r for r in rows}
    for stage in ("reciprocity", "depth", "layers_rank", "reciprocity@shuffled"):
        assert by[(stage, "engagequal")]["status"] == "ok"
        assert by[(stage, "duckdb")]["check"] == "equal", by[(stage, "duckdb")]
        assert "duckdb" in by[(stage, "engagequal")]["ratios"]
    for stage in ("reciprocity", "depth", "layers_rank"):
        assert by[(stage, "polars")]["check"] == "equal", by[(stage, "polars")]
    assert by[("depth", "networkx")]["check"] == "equal"
    assert by[("floor_read", "floor")]["seconds"] >= 0
    # every row that ran has its memory and rate
    for r in rows:
        if r.get("status") == "ok":
            assert r["peak_bytes"] >= 0 and r["events_per_s"] > 0
        else:
            assert r["status"] == "n/a" or r["status"].startswith(("error", "timeout")), r
    # a stage whose engagequal function is missing is reported, not fatal
    assert by[("analyze_core", "engagequal")]["status"] in ("ok", "n/a")
    assert "<!-- BEGIN GENERATED -->" in docs.read_text() and "| reciprocity |" in \
        docs.read_text()


def test_the_equality_check_can_fail() -> None:
    a = pa.table({"u": [1, 2], "v": [2, 3], "w_uv": [1.0, 2.0], "mutual": [True, False]})
    assert tables_equal(a, a.select(["v", "u", "w_uv"]), "dyad") is None
    b = pa.table({"u": [2, 1], "v": [3, 2], "w_uv": [2.0, 1.0 + 1e-12]})
    assert tables_equal(a, b, "dyad") is None  # row order and rounding do not matter
    c = pa.table({"u": [1, 2], "v": [2, 3], "w_uv": [1.0, 2.5]})
    assert "w_uv" in (tables_equal(a, c, "dyad") or "")
    d = pa.table({"u": [1], "v": [2], "w_uv": [1.0]})
    assert "rows" in (tables_equal(a, d, "dyad") or "")
    e = pa.table({"u": [1, 2], "v": [2, 3], "mutual": [True, None]})
    assert "null" in (tables_equal(a, e, "dyad") or "")
    assert results_equal({"dyad": a}, {"dyad": c}) is not None
    assert "nothing" in (results_equal({"x": a}, {"dyad": a}) or "")
