"""Ingest with and without numpy's huge-page request (``docs/guides/memory.md``).

Reads the suite's cached Parquet folder (written when absent) with reply trees,
each run in a fresh process, taking turns: engagequal's default (numpy's
huge-page request off while events are encoded) and ``ENGAGEQUAL_HUGE_PAGES=1``
(numpy's own choice throughout).  Prints wall, user and system seconds and the
peak RSS of each run.

    python benchmarks/bench_ingest_pages.py [--events 10M] [--runs 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.run import dataset, parse_sizes

_CHILD = """
import json, resource, sys, time
import engagequal as eq
t = time.perf_counter()
eq.read_events(sys.argv[1], event_id="event_id", parent="parent", thread="thread")
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "user": r.ru_utime, "sys": r.ru_stime,
                  "peak_mb": r.ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", default="10M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get(
        "ENGAGEQUAL_BENCH_DATA", "/tmp/engagequal-bench")))
    a = ap.parse_args()
    n = parse_sizes(a.events)[0]
    path = dataset(n, a.data, order="time", seed=a.seed)
    settings = {"small pages during ingest (default)": {},
                "numpy's huge pages (ENGAGEQUAL_HUGE_PAGES=1)": {"ENGAGEQUAL_HUGE_PAGES": "1"}}
    print(f"{n:,} events with reply trees, {path}")
    for i in range(a.runs):
        for name, extra in settings.items():
            env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
            env.pop("ENGAGEQUAL_HUGE_PAGES", None)
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], env=env | extra,
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out)
            print(f"run {i + 1}  {name:46s} wall {r['wall']:5.2f} s  user {r['user']:5.2f} s  "
                  f"sys {r['sys']:5.2f} s  peak {r['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
