"""engagequal.dask.analyze against the single-process engagequal.analyze on the same Parquet files.

Usage::

    python benchmarks/bench_dask.py --events 50_000_000 --workers 2

Writes a seeded synthetic population (``engagequal.synth.population``, written
in chunks, with reply trees: ``event_id``, ``parent``, ``thread``) to Parquet
files in a scratch folder, then times

* the single-process path: ``engagequal.analyze`` on the folder (every
  metric family: reciprocity, responsiveness, conversations, layers, quality),
  in a child process so that its peak RSS is its own;
* ``engagequal.dask.analyze`` on a ``LocalCluster`` of ``--workers``
  single-threaded process workers (cluster start-up excluded),

checks that the Reports agree table by table (row counts and schemas; values
are checked by the test suite), and prints the ratio, the compute time per
task kind (from Dask's task stream, i.e. the time per partition of each step)
and the bytes shuffled.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import engagequal as eq

TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}


def make_data(folder: Path, n_events: int, n_users: int, seed: int, chunk: int) -> int:
    """Seeded events in Parquet files of ``chunk`` events; returns the number of files."""
    eq.synth.population(n_users, n_events, seed=seed, out=folder, chunk_events=chunk)
    return len(list(folder.glob("*.parquet")))


def single_process(folder: Path, layer_method: str) -> dict[str, Any]:
    """engagequal.analyze in this process: seconds, peak RSS and the table shapes."""
    t0 = time.perf_counter()
    rep = eq.analyze(str(folder), layer_method=layer_method, progress=False, **TREE)
    secs = time.perf_counter() - t0
    return {"seconds": secs,
            "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "shapes": {k: [v.num_rows, v.column_names] for k, v in rep.details.items()}}


def on_dask(folder: Path, workers: int, layer_method: str,
            malloc_trim: bool = True) -> tuple[float, float, Any]:
    import dask
    from distributed import LocalCluster

    if not malloc_trim:  # glibc's own malloc thresholds in the workers
        env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
        dask.config.set({"distributed.nanny.pre-spawn-environ": env})

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit=None) as cluster, \
            cluster.get_client() as client:
        start = time.perf_counter() - t0
        t1 = time.perf_counter()
        rep = eq.dask.analyze(str(folder / "*.parquet"), client, layer_method=layer_method,
                              **TREE)
        elapsed = time.perf_counter() - t1
    return start, elapsed, rep


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--users", type=int, default=None, help="default: events / 20")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=5_000_000, help="events per Parquet file")
    ap.add_argument("--layer-method", default="natural")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None, help="reuse / keep data here")
    ap.add_argument("--no-malloc-trim", action="store_true",
                    help="start workers without Dask's MALLOC_TRIM_THRESHOLD_=65536")
    ap.add_argument("--single-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.single_only:  # the child process of the single-process measurement
        print(json.dumps(single_process(args.dir, args.layer_method)))
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="eq-bench-dask-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not any(folder.glob("*.parquet")):
            t = time.perf_counter()
            n_files = make_data(folder, args.events, args.users or args.events // 20,
                                args.seed, args.chunk)
            print(f"data: {args.events:,} events, {n_files} files "
                  f"({time.perf_counter() - t:.1f} s to generate)", flush=True)
        print(f"load average before: {os.getloadavg()}", flush=True)
        out = subprocess.run([sys.executable, __file__, "--single-only", "--dir", str(folder),
                              "--layer-method", args.layer_method],
                             capture_output=True, text=True, check=True)
        single = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"single process: {single['seconds']:.2f} s (peak RSS "
              f"{single['peak_gib']:.2f} GiB)", flush=True)
        print(f"load average between: {os.getloadavg()}", flush=True)
        start, dask_s, rep = on_dask(folder, args.workers, args.layer_method,
                                     malloc_trim=not args.no_malloc_trim)
        print(f"dask, {args.workers} process workers: {dask_s:.2f} s "
              f"(cluster start {start:.2f} s, not counted); "
              f"ratio dask / single = {dask_s / single['seconds']:.2f}")
        print(f"load average after: {os.getloadavg()}")
        prof = rep.options["dask"]
        print(f"partitions {prof['partitions']}, users {prof['users']:,}, dyads "
              f"{prof.get('dyads', 0):,}, bytes shuffled {prof['bytes_shuffled'] / 2**20:.1f} MiB")
        print("bytes shuffled by shuffle (MiB): " + ", ".join(
            f"{k} {v / 2**20:.1f}" for k, v in prof["bytes_shuffled_by"].items()))
        print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in prof["seconds"].items()))
        print("task kind: count, mean s, max s, total s")
        for name, d in sorted(prof["tasks"].items(), key=lambda kv: -kv[1]["total_s"]):
            if d["total_s"] > 0.05:
                print(f"  {name[:40]:40s} {d['tasks']:5d} {d['mean_s']:8.3f} {d['max_s']:8.3f} "
                      f"{d['total_s']:8.2f}")
        for name, (rows, cols) in single["shapes"].items():
            got = rep.details.get(name)
            same = got is not None and got.num_rows == rows and got.column_names == cols
            print(f"  {name}: {'same shape' if same else 'DIFFERENT'} ({rows:,} rows)")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
