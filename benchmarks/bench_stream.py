"""Streamed analysis from Parquet: throughput and peak memory, and the ratio to
the in-memory path on the same files.

Usage::

    python benchmarks/bench_stream.py --events 10_000_000 --users 200_000 --memory
    python benchmarks/bench_stream.py --events 100_000_000 --users 2_000_000 --spill

Generates seeded synthetic events with ``engagequal.synth.population(out=...)``
(chunked Parquet, every chunk holds whole reply threads) in a scratch folder
(kept with ``--keep`` / reused with ``--data``), then runs, each in a fresh
process so ``ru_maxrss`` is the peak of that path alone:

* ``stream``: ``engagequal.analyze_stream`` over the folder, reciprocity (all
  levels), conversation (thread, dyad, user) and layer tables (with
  ``--spill``, the thread table written to a scratch folder as the stream goes);
* ``memory`` (with ``--memory``): ``read_events`` of the whole folder, then the
  same tables in memory.

Prints wall time, events per second, peak RSS and the stream / memory ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

READ = {"event_id": "event_id", "parent": "parent", "thread": "thread"}
METRICS = ("reciprocity", "conversations", "layers")


def run_stream(data: Path, spill: Path | None = None) -> dict[str, Any]:
    import engagequal as eq

    t = time.perf_counter()
    out = eq.analyze_stream(data, metrics=METRICS, whole_threads=True, progress=False,
                            spill=spill, **READ)
    dt = time.perf_counter() - t
    return {"seconds": dt, "tables": {k: v.num_rows for k, v in out.details.items()}}


def run_memory(data: Path) -> dict[str, Any]:
    import engagequal as eq
    from engagequal.metrics._ties import dyads_of, tie_options
    from engagequal.metrics.conversations import conversation_tables
    from engagequal.metrics.reciprocity import (
        reciprocity_dyad,
        reciprocity_global,
        reciprocity_user,
    )
    from engagequal.state import StreamState
    from engagequal.stream import _layer_tables

    t = time.perf_counter()
    ev = eq.read_events(data, **READ)
    opts = tie_options(ev)
    d = dyads_of(ev, opts)
    tabs = {"global": reciprocity_global(ev, d, opts), "user": reciprocity_user(ev, d, opts),
            "dyad": reciprocity_dyad(ev, d, opts)}
    tabs.update(conversation_tables(ev, levels=("thread", "dyad", "user")))
    st = StreamState(users=ev.users, du=d.u, dv=d.v, dw=d.w, dn=d.n, dfirst=d.first,
                     dlast=d.last, time_type=ev.time_type, wmin=int(ev.ts.min()),
                     wmax=int(ev.ts.max()))
    tabs.update(_layer_tables(st, 0.0, {}))
    dt = time.perf_counter() - t
    return {"seconds": dt, "tables": {k: v.num_rows for k, v in tabs.items()}}


def child(mode: str, data: Path, spill: Path | None = None) -> None:
    res = run_stream(data, spill) if mode == "stream" else run_memory(data)
    res["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(res))


def measure(mode: str, data: Path, spill: Path | None = None) -> dict[str, Any]:
    extra = ["--spill-to", str(spill)] if spill is not None else []
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--data", str(data),
                           *extra], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    ap.add_argument("--users", type=lambda s: int(s.replace("_", "")), default=200_000)
    ap.add_argument("--chunk", type=lambda s: int(s.replace("_", "")), default=2_000_000)
    ap.add_argument("--data", type=Path, default=None, help="reuse (or create) this folder")
    ap.add_argument("--keep", action="store_true", help="keep the generated folder")
    ap.add_argument("--memory", action="store_true", help="also time the in-memory path")
    ap.add_argument("--spill", action="store_true",
                    help="stream with spill= (the thread table written to a scratch folder)")
    ap.add_argument("--child", choices=["stream", "memory"], default=None)
    ap.add_argument("--spill-to", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.data, args.spill_to)
        return
    data = args.data or Path(tempfile.mkdtemp(prefix="eq-bench-stream-"))
    if not any(data.glob("*.parquet")):
        from engagequal.synth import population

        t = time.perf_counter()
        population(args.users, args.events, seed=0, out=data, chunk_events=args.chunk)
        print(f"generated {args.events:,} events, {args.users:,} users in "
              f"{time.perf_counter() - t:.1f} s -> {data}")
    import pyarrow.parquet as pq

    n = sum(pq.read_metadata(f).num_rows for f in sorted(data.glob("*.parquet")))
    spill = Path(tempfile.mkdtemp(prefix="eq-bench-spill-")) if args.spill else None
    try:
        s = measure("stream", data, spill)
        print(f"stream : {s['seconds']:.1f} s, {n / s['seconds'] / 1e6:.2f} M events/s, "
              f"peak {s['peak_gib']:.2f} GiB, tables {s['tables']}")
        if args.memory:
            m = measure("memory", data)
            print(f"memory : {m['seconds']:.1f} s, {n / m['seconds'] / 1e6:.2f} M events/s, "
                  f"peak {m['peak_gib']:.2f} GiB")
            print(f"stream / memory time ratio: {s['seconds'] / m['seconds']:.2f}")
    finally:
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
        if args.data is None and not args.keep:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
