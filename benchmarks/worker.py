"""Run one (stage, tool) in a fresh interpreter; print seconds and peak memory as JSON.

``python -m benchmarks.worker STAGE TOOL PATH [--save DIR]``

Peak memory is the high-water resident set of this process during the stage
(``VmHWM`` after resetting it once the tool is imported and idle, else
``ru_maxrss``) minus the resident set at that point; the runner also samples
``VmRSS`` every few milliseconds from outside and keeps the larger peak
(tracemalloc would miss Arrow's, DuckDB's and polars' own allocators).
Results are saved as Parquet for the runner's equality check, after the
clock stops.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def maxrss_bytes() -> int:
    """Peak resident memory of this process so far, in bytes (``ru_maxrss``)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def rss_bytes(pid: int | str = "self", field: str = "VmRSS") -> int | None:
    """Current (``VmRSS``) or peak (``VmHWM``) resident memory from /proc, if any."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_sampled(cmd: list[str], cwd: Path, timeout: float
                ) -> tuple[int | None, str, str, int]:
    """Run ``cmd``, sampling its resident memory every 5 ms once it prints ``"ready"``.

    Returns ``(returncode, stdout, stderr, largest sampled resident bytes)``;
    the return code is None when the process was killed at ``timeout`` seconds.
    """
    import os
    import subprocess
    import tempfile

    env = dict(os.environ, TQDM_DISABLE="1")
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out_f, stderr=err_f, text=True, env=env)
        deadline = time.monotonic() + timeout
        sampled, ready = 0, False
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return None, "", "", sampled
            if not ready:  # sample only once the baseline is taken
                err_f.seek(0)
                ready = '"ready"' in err_f.read()
            elif (rss := rss_bytes(proc.pid)) is not None:
                sampled = max(sampled, rss)
            time.sleep(0.005)
        out_f.seek(0)
        err_f.seek(0)
        return proc.returncode, out_f.read(), err_f.read(), sampled


def reset_peak() -> bool:
    """Reset this process's high-water mark to its current RSS (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _import_tool(tool: str) -> None:
    import numpy  # noqa: F401
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401

    import engagequal
    import engagequal.metrics.reciprocity  # noqa: F401

    if tool == "duckdb":
        import duckdb  # noqa: F401
    elif tool == "polars":
        import polars  # noqa: F401
    elif tool == "networkx":
        import networkx  # noqa: F401
    else:
        import scipy.sparse  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks.worker")
    p.add_argument("stage")
    p.add_argument("tool")
    p.add_argument("path")
    p.add_argument("--save", default=None, help="folder for the result tables")
    a = p.parse_args(argv)
    _import_tool(a.tool)
    from benchmarks import stages

    key = None
    if a.stage == "floor_sort":
        key = stages.eq_floor_sort_prepare(a.path)
    else:
        fn = stages.TOOLS[a.tool][a.stage]
    # baseline: the idle interpreter with the imports (and the floor's key)
    reset = reset_peak()
    base = (rss_bytes() if reset else None) or maxrss_bytes()
    print(json.dumps({"ready": True, "baseline_bytes": base}), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    res = stages.eq_floor_sort(key) if a.stage == "floor_sort" else fn(a.path)
    seconds = time.perf_counter() - t0
    # the kernel updates the high-water mark lazily (pages an allocator hands back
    # with madvise escape it), so the runner also samples VmRSS from outside
    peak = max(0 if reset else maxrss_bytes(), rss_bytes(field="VmHWM") or 0,
               rss_bytes() or 0)
    if a.save:
        import pyarrow.parquet as pq

        out = Path(a.save)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in res.items():
            pq.write_table(table, out / f"{a.stage}.{a.tool}.{name}.parquet")
    print(json.dumps({"stage": a.stage, "tool": a.tool, "seconds": seconds,
                      "baseline_bytes": base, "peak_bytes": max(peak - base, 0),
                      "tables": sorted(res)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
