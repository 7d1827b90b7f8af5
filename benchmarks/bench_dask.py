"""engagequal.dask.analyze against the single-process path on the same Parquet files.

Usage::

    python benchmarks/bench_dask.py --events 50_000_000 --users 1_000_000 --workers 2

Writes seeded synthetic events (``engagequal.synth.simple_events`` in chunks)
to Parquet files in a scratch folder, then times

* the single-process path: read the files, ``read_events`` once, the
  reciprocity tables at every level and per-user responsiveness;
* ``engagequal.dask.analyze`` on a ``LocalCluster`` of ``--workers``
  single-threaded process workers (cluster start-up excluded),

checks that the tables agree, and prints the ratio, the time per partition by
task kind (from Dask's task stream) and the bytes shuffled.  Peak memory of the
single-process path is ``ru_maxrss`` of this process before the cluster starts.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import engagequal as eq
from engagequal.metrics._ties import dyads_of, tie_options
from engagequal.metrics.reciprocity import reciprocity_dyad, reciprocity_global, reciprocity_user
from engagequal.metrics.responsiveness import responsiveness_table
from engagequal.synth import simple_events

CHUNK = 5_000_000


def make_data(folder: Path, n_events: int, n_users: int, seed: int) -> int:
    """Seeded events in files of at most CHUNK rows; returns the number of files."""
    rng = np.random.default_rng(seed)
    n_files = 0
    for start in range(0, n_events, CHUNK):
        n = min(CHUNK, n_events - start)
        t = simple_events(n_users, n, seed=rng)
        t = t.set_column(3, "kind", t.column("kind").dictionary_encode())
        pq.write_table(t, folder / f"part-{n_files:03d}.parquet", row_group_size=1 << 20)
        n_files += 1
    return n_files


def single_process(folder: Path) -> tuple[float, dict[str, pa.Table]]:
    t0 = time.perf_counter()
    ev = eq.read_events(str(folder))
    opts = tie_options(ev)
    d = dyads_of(ev, opts)
    out = {
        "reciprocity_global": reciprocity_global(ev, d, opts),
        "reciprocity_user": reciprocity_user(ev, d, opts),
        "reciprocity_dyad": reciprocity_dyad(ev, d, opts),
        "responsiveness": responsiveness_table(ev, opts, delta_s=7 * 86_400.0),
    }
    return time.perf_counter() - t0, out


def on_dask(folder: Path, workers: int) -> tuple[float, float, Any, dict[str, list[float]]]:
    from distributed import LocalCluster, get_task_stream

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit=None) as cluster, \
            cluster.get_client() as client:
        start = time.perf_counter() - t0
        with get_task_stream(client) as ts:
            t1 = time.perf_counter()
            res = eq.dask.analyze(str(folder / "*.parquet"), client)
            elapsed = time.perf_counter() - t1
        per: dict[str, list[float]] = defaultdict(list)
        for task in ts.data:
            for s in task["startstops"]:
                if s["action"] == "compute":
                    per[task["key"][0] if isinstance(task["key"], tuple)
                        else str(task["key"]).rsplit("-", 1)[0]].append(s["stop"] - s["start"])
    return start, elapsed, res, per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="reuse / keep data here")
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="eq-bench-dask-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not any(folder.glob("*.parquet")):
            t = time.perf_counter()
            n_files = make_data(folder, args.events, args.users, args.seed)
            print(f"data: {args.events:,} events, {args.users:,} users, {n_files} files "
                  f"({time.perf_counter() - t:.1f} s to generate)")
        single_s, want = single_process(folder)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"single process: {single_s:.2f} s (peak RSS {peak:.2f} GiB)")
        start, dask_s, res, per = on_dask(folder, args.workers)
        print(f"dask, {args.workers} process workers: {dask_s:.2f} s "
              f"(cluster start {start:.2f} s, not counted); "
              f"ratio dask / single = {dask_s / single_s:.2f}")
        prof = res.profile
        print(f"partitions {prof['partitions']}, users {prof['users']:,}, dyads "
              f"{prof.get('dyads', 0):,}, bytes shuffled {prof['bytes_shuffled'] / 2**20:.1f} MiB")
        print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in prof["seconds"].items()))
        print("task kind: count, mean s, max s, total s")
        for name, d in sorted(per.items(), key=lambda kv: -sum(kv[1])):
            if sum(d) > 0.05:
                print(f"  {name[:40]:40s} {len(d):5d} {np.mean(d):8.3f} {np.max(d):8.3f} "
                      f"{np.sum(d):8.2f}")
        for name, t in want.items():
            got = res[name]
            same = got.num_rows == t.num_rows and got.schema == t.schema
            print(f"  {name}: {'same shape' if same else 'DIFFERENT'} ({t.num_rows:,} rows)")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
