"""Reply-tree depth: engagequal against DuckDB's recursive CTE on the same Parquet.

Usage::

    python benchmarks/bench_conversations.py --events 10_000_000 --seed 0

Writes a seeded reply forest (``make_forest``) twice to Parquet in a scratch
folder, once with rows in time order and once shuffled, and for each file
times, each in a fresh subprocess so peak memory is its own (``ru_maxrss``):

* ``duckdb``: a recursive CTE from the roots down computing every event's depth
  and root, then the per-thread max depth (both materialised);
* ``eq_depth``: ``read_events`` (the Parquet read, id encoding and the forest
  by pointer jumping) and the per-thread max depth;
* ``eq_tables``: ``read_events`` and all four conversation tables
  (``conversation_tables``: event, thread, dyad, user).

It prints seconds, peak RSS, bytes per event and the ratios to DuckDB.  The
forest: thread sizes from a Zipf-like law, each reply answers the latest event
of its thread with probability ``--chain`` (long back-and-forth chains), else
a uniformly chosen earlier event of the thread; half the replies are written by
the grandparent's author (two-person exchanges).  Event ids are a random
permutation, so they are not row positions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def make_forest(n: int, *, seed: int = 0, chain: float = 0.5, mean_thread: float = 40.0
                ) -> pa.Table:
    """A seeded reply forest of ``n`` events, rows in time order."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(1.8, size=int(n / mean_thread * 4) + 10), 200_000)
    sizes = sizes[np.cumsum(sizes) <= n]
    sizes = np.append(sizes, n - sizes.sum()) if sizes.sum() < n else sizes
    sizes = sizes[sizes > 0]
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    k = np.arange(n) - start  # position inside the thread
    latest = np.maximum(k - 1, 0)
    uniform = np.floor(rng.random(n) * k).astype(np.int64)
    off = np.where(rng.random(n) < chain, latest, uniform)
    parent = np.where(k == 0, -1, start + off)
    users = max(n // 20, 10)
    actor = rng.integers(0, users, n)
    gp = np.where(parent >= 0, parent[np.maximum(parent, 0)], -1)
    back = (gp >= 0) & (rng.random(n) < 0.5)
    actor[back] = actor[gp[back]]
    ids = rng.permutation(n).astype(np.int64) * 3 + 1
    ts = np.arange(n, dtype=np.int64) + 1_600_000_000
    pid = pa.array(np.where(parent >= 0, ids[np.maximum(parent, 0)], 0), mask=parent < 0)
    return pa.table({"event_id": ids, "parent": pid, "actor": actor, "ts": ts})


DUCK_SQL = """
CREATE TABLE depths AS
WITH RECURSIVE t(event_id, root, depth) AS (
    SELECT event_id, event_id, 0 FROM read_parquet('{path}') WHERE parent IS NULL
    UNION ALL
    SELECT e.event_id, t.root, t.depth + 1
    FROM read_parquet('{path}') e JOIN t ON e.parent = t.event_id
)
SELECT * FROM t;
CREATE TABLE thread_max AS SELECT root, max(depth) AS max_depth FROM depths GROUP BY root;
"""


def _run_one(which: str, path: str) -> dict[str, float]:
    t0 = time.perf_counter()
    out: dict[str, float] = {}
    if which == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(DUCK_SQL.format(path=path))
        row = con.execute("SELECT max(max_depth), avg(max_depth), count(*) FROM thread_max"
                          ).fetchone()
        assert row is not None
        out.update(max_depth=float(row[0]), mean_thread_max=float(row[1]), threads=float(row[2]))
    else:
        import engagequal as eq
        from engagequal.metrics.conversations import conversation_tables

        ev = eq.read_events(path, event_id="event_id", parent="parent", target=None)
        tree = ev.tree
        assert tree is not None
        tmax = np.zeros(len(tree.threads), dtype=np.int64)
        np.maximum.at(tmax, tree.thread, tree.depth)
        out.update(max_depth=float(tmax.max()), mean_thread_max=float(tmax.mean()),
                   threads=float(tmax.size))
        if which == "eq_tables":
            tabs = conversation_tables(ev)
            out["dyads"] = float(tabs["dyad"].num_rows)
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
    return out


def _measure(which: str, path: Path) -> dict[str, float]:
    res = subprocess.run([sys.executable, __file__, "--child", which, str(path)],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chain", type=float, default=0.5)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_run_one(args.child[0], args.child[1])))
        return
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        forest = make_forest(n, seed=args.seed, chain=args.chain)
        files = {"time-ordered": Path(tmp) / "ordered.parquet",
                 "shuffled": Path(tmp) / "shuffled.parquet"}
        pq.write_table(forest, files["time-ordered"])
        perm = np.random.default_rng(args.seed + 1).permutation(n)
        pq.write_table(forest.take(pa.array(perm)), files["shuffled"])
        del forest
        print(f"{n:,} events, seed {args.seed}, chain {args.chain}")
        for label, path in files.items():
            res = {w: _measure(w, path) for w in ("duckdb", "eq_depth", "eq_tables")}
            d = res["duckdb"]
            for w in ("eq_depth", "eq_tables"):
                assert res[w]["max_depth"] == d["max_depth"], (w, res[w], d)
                assert res[w]["threads"] == d["threads"], (w, res[w], d)
            print(f"\n[{label}] threads {int(d['threads']):,}, max depth "
                  f"{int(d['max_depth']):,}, mean per-thread max {d['mean_thread_max']:.3f}")
            for w, r in res.items():
                print(f"  {w:10s} {r['seconds']:8.2f} s   peak {r['peak_rss_bytes'] / 2**20:8.0f} "
                      f"MiB  {r['peak_rss_bytes'] / n:6.0f} B/event   "
                      f"ratio to duckdb {r['seconds'] / d['seconds']:.2f}")


if __name__ == "__main__":
    main()
