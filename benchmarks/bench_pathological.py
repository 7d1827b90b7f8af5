"""Pathological inputs: time and peak memory beyond the input (issue 10).

``python -m benchmarks.bench_pathological [--cases star,chain,crowd] [--scale 1]``

Three inputs, each built in memory in a fresh interpreter:

* ``star``: one user with 1,000,000 alters; the ego writes to each alter once
  and each alter answers once (2,000,000 events, a million two-way ties in one
  ego's circles); ``reciprocity`` and ``layers`` (rank);
* ``star_natural``: the same with the natural layers (the per-ego optimal
  k-means: divide and conquer past 256 alters, ``O(k n log n)`` in one ego's
  alters);
* ``chain``: one reply chain 1,000,000 deep between two people (one thread, one
  exchange of a million turns); ``conversations``;
* ``crowd``: 10,000,000 distinct users with one event each (each writes to the
  next one; ids spread over a wide range so they are hashed, not looked up);
  ``reciprocity``; ``crowd_dense``: the same with ids ``0 .. 10M-1``.

Each runs ``engagequal.analyze`` (read, encode, the metric family) on the
in-memory Arrow table.  Peak memory is measured as :mod:`benchmarks.worker`
does: the high-water resident set (``VmHWM``, reset once the input is built
and the interpreter is idle), and the runner's own samples of ``VmRSS`` every
5 ms, whichever is larger, minus the resident set at the reset (imports plus
the input).  Bytes per event are that peak over the number of events; the
peak includes the report itself (``output MB``: the Arrow tables returned).

The bound is the benchmark suite's 150 bytes per event *beyond the returned
tables*: ``peak <= 150 * events + output``.  These inputs are built so that
the answer is as large as the input: the star's user, dyad and layer tables
hold a row per alter (about 290 bytes per event), the crowd's user table a row
per user (about 183), so no implementation could return them within 150 bytes
per event in all.  Both figures are printed: ``B/event`` (the whole peak) and
``work B/ev`` (the peak less the returned tables), which the verdict reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOUND = 150  # bytes per event (docs/benchmarks.md: issues 4 and 6)

#: case -> (what, metric families, layer method, base size: alters, depth or users)
CASES: dict[str, tuple[str, tuple[str, ...], str, int]] = {
    "star": ("one user with 1M alters, rank layers", ("reciprocity", "layers"), "rank",
             1_000_000),
    "chain": ("a reply chain 1M deep", ("conversations",), "rank", 1_000_000),
    "crowd": ("10M users with one event each", ("reciprocity",), "rank", 10_000_000),
    "crowd_dense": ("the same, ids 0 .. 10M-1", ("reciprocity",), "rank", 10_000_000),
    # the natural layers' dynamic programme is quadratic in one ego's number of
    # alters: a million would take hours, so this case is smaller by default
    "star_natural": ("one user with 1M alters, natural layers", ("reciprocity", "layers"),
                     "natural", 1_000_000),
}


def build(case: str, scale: float) -> tuple[Any, dict[str, Any]]:
    """The input table of ``case`` and its read options."""
    import numpy as np
    import pyarrow as pa

    t0 = 1_600_000_000
    size = int(CASES[case][3] * scale) if case in CASES else 0
    if case.startswith("star"):
        k = size
        alters = np.arange(1, k + 1, dtype=np.int64)
        ego = np.zeros(k, dtype=np.int64)
        rng = np.random.default_rng(0)
        out_ts = t0 + rng.integers(0, 365 * 86_400, k)
        return pa.table({
            "actor": np.concatenate([ego, alters]), "target": np.concatenate([alters, ego]),
            "ts": np.concatenate([out_ts, out_ts + rng.integers(60, 86_400, k)]),
            "kind": pa.array(np.repeat(np.array(["message", "reply"]), k)).dictionary_encode(),
        }), {}
    if case == "chain":
        n = size
        ids = np.arange(n, dtype=np.int64)
        parent = pa.array(ids - 1, mask=ids == 0)
        return pa.table({"event_id": ids, "parent": parent, "actor": ids % 2,
                         "ts": t0 + ids * 30}), {"event_id": "event_id", "parent": "parent",
                                                 "target": None, "kind": None}
    if case.startswith("crowd"):
        n = size
        perm = np.random.default_rng(1).permutation(n).astype(np.int64)
        # distinct ids spread over 1e13 are hashed; 0 .. n-1 take the lookup table
        users = perm if case == "crowd_dense" else perm * 1_000_003
        return pa.table({"actor": users, "target": np.roll(users, -1),
                         "ts": t0 + np.arange(n, dtype=np.int64)}), {"kind": None}
    raise SystemExit(f"unknown case {case!r}; choose among {sorted(CASES)}")


def child(case: str, scale: float) -> int:
    """Build the input, reset the peak, run the analysis; print one JSON line."""
    from benchmarks.worker import maxrss_bytes, reset_peak, rss_bytes

    idle = rss_bytes() or maxrss_bytes()
    import gc

    import engagequal as eq

    table, read = build(case, scale)
    gc.collect()
    _, metrics, method, _ = CASES[case]
    reset = reset_peak()
    base = (rss_bytes() if reset else None) or maxrss_bytes()
    print(json.dumps({"ready": True}), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    report = eq.analyze(table, metrics=list(metrics), layer_method=method, progress=False,
                        **read)
    seconds = time.perf_counter() - t0
    peak = max(0 if reset else maxrss_bytes(), rss_bytes(field="VmHWM") or 0, rss_bytes() or 0)
    s = report.summary.to_pylist()[0]
    tables = {id(t): t for t in [*report.tables.values(), *report.details.values()]}
    print(json.dumps({"case": case, "events": table.num_rows, "seconds": seconds,
                      "input_bytes": table.nbytes, "idle_bytes": idle, "baseline_bytes": base,
                      "peak_bytes": max(peak - base, 0),
                      "output_bytes": sum(t.nbytes for t in tables.values()),
                      "summary": {k: s.get(k) for k in ("events", "users", "ties",
                                                        "mutual_pairs", "egos",
                                                        "mean_active_size", "mean_n_layers")},
                      "threads": report.threads.num_rows,
                      "max_depth": (report.threads["max_depth"].to_pylist()[0]
                                    if report.threads.num_rows == 1 else None),
                      "longest_exchange": (report.threads["longest_exchange"].to_pylist()[0]
                                           if report.threads.num_rows == 1 else None)}))
    return 0


def run(case: str, scale: float, timeout: float) -> dict[str, Any]:
    """Run ``case`` in a fresh interpreter, sampling its resident set every 5 ms."""
    from benchmarks.worker import run_sampled

    cmd = [sys.executable, "-m", "benchmarks.bench_pathological", "--child", case,
           "--scale", str(scale)]
    code, stdout, stderr, sampled = run_sampled(cmd, ROOT, timeout)
    if code is None:
        return {"case": case, "status": f"timeout after {timeout:.0f} s"}
    if code != 0:
        lines = stderr.strip().splitlines()
        return {"case": case, "status": "error: " + (lines[-1] if lines else f"exit {code}")}
    out: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    out["status"] = "ok"
    out["peak_bytes"] = max(out["peak_bytes"], sampled - out["baseline_bytes"])
    out["bytes_per_event"] = out["peak_bytes"] / max(out["events"], 1)
    out["work_bytes_per_event"] = (max(out["peak_bytes"] - out["output_bytes"], 0)
                                   / max(out["events"], 1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.bench_pathological", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    p.add_argument("--scale", type=float, default=1.0, help="input sizes times this")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per case")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a.child, a.scale)
    rows = []
    print(f"{'case':<13} {'input':<42} {'events':>11} {'seconds':>8} {'peak MB':>8} "
          f"{'B/event':>8} {'output MB':>9} {'work B/ev':>9}  bound {BOUND} B/event "
          f"beyond the output")
    for case in [c.strip() for c in a.cases.split(",") if c.strip()]:
        r = run(case, a.scale, a.timeout)
        rows.append(r)
        if r["status"] != "ok":
            print(f"{case:<13} {CASES[case][0] if case in CASES else '?':<42} {r['status']}")
            continue
        verdict = "within" if r["work_bytes_per_event"] <= BOUND else "ABOVE"
        print(f"{case:<13} {CASES[case][0]:<42} {r['events']:>11,} {r['seconds']:>8.2f} "
              f"{r['peak_bytes'] / 2**20:>8.1f} {r['bytes_per_event']:>8.1f} "
              f"{r['output_bytes'] / 2**20:>9.1f} {r['work_bytes_per_event']:>9.1f}  {verdict}",
              flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
