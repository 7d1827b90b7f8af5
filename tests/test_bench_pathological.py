"""benchmarks/bench_pathological.py runs end to end at a tiny scale, with right answers
(its timings and memory are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pathological_inputs_tiny(tmp_path: Path) -> None:
    out = tmp_path / "patho.json"
    cmd = [sys.executable, "-m", "benchmarks.bench_pathological", "--scale", "0.002",
           "--cases", "star,chain,crowd", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "B/event" in proc.stdout
    rows = {r["case"]: r for r in json.loads(out.read_text())}
    star, chain, crowd = rows["star"], rows["chain"], rows["crowd"]
    assert all(r["status"] == "ok" and r["peak_bytes"] >= 0 and r["seconds"] > 0
               and 0 <= r["work_bytes_per_event"] <= r["bytes_per_event"]
               for r in rows.values())
    k = 2_000  # alters
    assert star["events"] == 2 * k and star["summary"]["mutual_pairs"] == k
    assert star["summary"]["users"] == k + 1
    assert chain["events"] == 2_000 and chain["threads"] == 1
    assert chain["max_depth"] == 1_999 and chain["longest_exchange"] == 2_000
    assert crowd["events"] == crowd["summary"]["users"] == 20_000
    assert crowd["summary"]["mutual_pairs"] == 0
