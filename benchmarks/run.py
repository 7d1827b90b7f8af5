"""The benchmark suite: every stage, every size, engagequal beside its peers.

``python -m benchmarks.run --sizes 1M,10M`` (also ``engagequal bench ...``).

For each size a seeded synthetic population (:func:`engagequal.synth.population`,
50 events per user) is written to a Parquet folder once (cached), plus the same
events in shuffled row order.  Each (stage, tool) then runs in a fresh
subprocess (:mod:`benchmarks.worker`) that reads the Parquet folder itself,
so the time includes reading and the peak memory is that of the stage alone.
A peer's result is checked equal to engagequal's before its time counts.
Prints one table per size and writes the results as JSON to
``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from benchmarks import stages
from benchmarks.compare import results_equal

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_USER = 50
ORDER = ["floor_read", "floor_sort", "ingest", "ingest_tree", "dyads", "reciprocity_global",
         "reciprocity_user", "reciprocity", "responsiveness", "depth", "conversations",
         "layers_rank", "layers_frequency", "layers_natural", "analyze_core", "analyze_full",
         "stream"]
PEERS = ["duckdb", "polars", "networkx"]
SHUFFLED = ["reciprocity", "depth", "analyze_core"]
STREAM_ONLY = ["floor_read", "floor_sort", "stream"]


def parse_sizes(text: str) -> list[int]:
    from engagequal.synth import parse_count

    return [parse_count(s) for s in text.split(",") if s.strip()]


def label(n: int) -> str:
    for unit, div in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= div and n % (div // 10) == 0:
            v = n / div
            return f"{v:g}{unit}"
    return str(n)


def dataset(n: int, data: Path, *, order: str, seed: int) -> Path:
    """The cached Parquet folder of ``n`` events (written when absent)."""
    from engagequal.synth import population

    path = data / f"synth-{label(n)}-seed{seed}-{order}"
    done = path / "_SUCCESS"
    if not done.exists():
        t0 = time.perf_counter()
        population(max(2, n // EVENTS_PER_USER), n, seed=seed, out=path, order=order)
        done.write_text(f"{time.perf_counter() - t0:.2f}\n")
        print(f"  wrote {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def machine() -> dict[str, Any]:
    import duckdb
    import networkx
    import numpy
    import polars
    import pyarrow

    import engagequal

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": mem,
            "load_average_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(), "platform": platform.platform(),
            "engagequal": engagequal.__version__, "commit": commit,
            "numpy": numpy.__version__, "pyarrow": pyarrow.__version__,
            "duckdb": duckdb.__version__, "polars": polars.__version__,
            "networkx": networkx.__version__}


def run_one(stage: str, tool: str, path: Path, save: Path, timeout: float) -> dict[str, Any]:
    """Run the worker; sample its resident memory every 5 ms while it works."""
    from benchmarks.worker import run_sampled

    cmd = [sys.executable, "-m", "benchmarks.worker", stage, tool, str(path), "--save", str(save)]
    code, stdout, stderr, sampled = run_sampled(cmd, ROOT, timeout)
    if code is None:
        return {"status": f"timeout after {timeout:.0f} s"}
    if code != 0:
        err = stderr.strip().splitlines()
        return {"status": "error: " + (err[-1] if err else f"exit {code}")}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["status"] = "ok"
    out["sampled_peak_bytes"] = max(sampled - out["baseline_bytes"], 0)
    out["peak_bytes"] = max(out["peak_bytes"], out["sampled_peak_bytes"])
    return out


def load(save: Path, stage: str, tool: str) -> dict[str, Any]:
    return {f.name.split(".")[2]: pq.read_table(f)
            for f in save.glob(f"{stage}.{tool}.*.parquet")}


def bench_size(n: int, args: argparse.Namespace, data: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    stream_only = n in args.stream_sizes_parsed
    todo = STREAM_ONLY if stream_only else ORDER
    todo = [s for s in todo if s in args.stages_parsed]
    variants = [("time", s) for s in todo]
    if not stream_only:
        variants += [("shuffled", s) for s in SHUFFLED if s in args.stages_parsed]
    paths = {order: dataset(n, data, order=order, seed=args.seed)
             for order in {v[0] for v in variants}}
    for order, stage in variants:
        path = paths[order]
        name = stage if order == "time" else f"{stage}@shuffled"
        save = data / "results" / f"{label(n)}-{order}"
        if stage in ("floor_read", "floor_sort"):
            tools = ["floor"]
        else:
            peers = [t for t in args.tools_parsed if t != "engagequal" and stage in stages.TOOLS[t]]
            if order == "shuffled":
                peers = [t for t in peers if t == "duckdb"]
            if n > args.networkx_max:
                peers = [t for t in peers if t != "networkx"]
            tools = ["engagequal", *peers]
        if "engagequal" in tools and not stages.eq_available(stage):
            rows.append({"size": n, "stage": name, "tool": "engagequal", "order": order,
                         "status": "n/a"})
            continue  # nothing to compare peers with: their time would not count
        for tool in tools:
            for f in save.glob(f"{stage}.*"):
                if tool in ("floor", "engagequal") or f".{tool}." in f.name:
                    f.unlink()
        # the tools take turns, so that a slow spell of the machine hits them alike
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
        for _ in range(args.repeat):
            for tool in tools:
                if runs[tool] and runs[tool][-1]["status"] != "ok":
                    continue
                runs[tool].append(run_one(stage, "engagequal" if tool == "floor" else tool,
                                          path, save, args.timeout))
        mine: dict[str, Any] | None = None
        for tool in tools:
            row: dict[str, Any] = {"size": n, "stage": name, "tool": tool, "order": order}
            row.update({k: v for k, v in _combine(runs[tool]).items()
                        if k not in ("tables", "stage", "tool")})
            if row["status"] == "ok":
                row["events_per_s"] = n / row["seconds"] if row["seconds"] else None
                row["bytes_per_event"] = row["peak_bytes"] / n
                if tool == "engagequal":
                    mine = load(save, stage, "engagequal")
                elif tool != "floor":
                    if mine is None:
                        row["check"] = "unchecked"
                    else:
                        diff = results_equal(mine, load(save, stage, tool),
                                             subset=tool == "networkx")
                        row["check"] = "equal" if diff is None else f"DIFFERS: {diff}"
            rows.append(row)
            _progress(row)
    ratios(rows)
    return rows


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs: the median time, the largest peak, every time kept."""
    bad = [r for r in runs if r["status"] != "ok"]
    if bad:
        return bad[0]
    out = dict(runs[len(runs) // 2])
    out["seconds"] = float(np.median([r["seconds"] for r in runs]))
    out["runs"] = [r["seconds"] for r in runs]
    out["peak_bytes"] = max(r["peak_bytes"] for r in runs)
    return out


def _progress(row: dict[str, Any]) -> None:
    sec = f"{row['seconds']:.2f} s" if "seconds" in row else row["status"]
    chk = f" [{row['check']}]" if "check" in row else ""
    print(f"  {label(row['size']):>5} {row['stage']:<24} {row['tool']:<10} {sec}{chk}",
          file=sys.stderr, flush=True)


def ratios(rows: list[dict[str, Any]]) -> None:
    """engagequal time / each peer's time on the reference stage; targets met or not."""
    def find(stage: str, tool: str) -> dict[str, Any] | None:
        for r in rows:
            if r["stage"] == stage and r["tool"] == tool and r.get("status") == "ok":
                return r
        return None

    for r in rows:
        if r["tool"] != "engagequal" or r.get("status") != "ok":
            continue
        base, _, variant = r["stage"].partition("@")
        ref = stages.REFERENCE.get(base, base) + (f"@{variant}" if variant else "")
        r["ratios"] = {}
        for peer in PEERS:
            p = find(ref, peer)
            if p is not None and p.get("check") == "equal":
                r["ratios"][peer] = r["seconds"] / p["seconds"]
        target = stages.TARGETS.get(base)
        if target is None:
            continue
        peer, max_ratio, max_bpe = target
        if peer.startswith("engagequal:"):
            other = find(peer.split(":", 1)[1], "engagequal")
            if other is None and base == "stream":  # a streaming-only size
                label, max_bytes, min_rate = stages.STREAM_ONLY_TARGET
                r["target"] = label
                r["target_met"] = (r["bytes_per_event"] * r["size"] < max_bytes
                                   and r["size"] / r["seconds"] >= min_rate)
                continue
            ratio = None if other is None else r["seconds"] / other["seconds"]
            r["ratios"]["in-memory"] = ratio
        else:
            ratio = r["ratios"].get(peer)
        met = []
        if max_ratio is not None:
            met.append(ratio is not None and ratio <= max_ratio)
        if max_bpe is not None:
            met.append(r["bytes_per_event"] <= max_bpe)
        r["target"] = stages.STAGES[base][1]
        r["target_met"] = all(met) if met and ratio is not None else None


def fmt_table(rows: list[dict[str, Any]], n: int, *, markdown: bool = False) -> str:
    head = ["stage", "tool", "seconds", "Mev/s", "B/event", "vs duckdb", "vs polars",
            "vs networkx", "check / target"]
    lines = []
    for r in rows:
        if r["size"] != n:
            continue
        ok = r.get("status") == "ok"
        rat = r.get("ratios", {})
        note = r.get("check", "")
        if "target" in r:
            verdict = {True: "MET", False: "NOT MET", None: "?"}[r.get("target_met")]
            extra = f"; vs in-memory {rat['in-memory']:.2f}x" if rat.get("in-memory") else ""
            note = f"{r['target']} -> {verdict}{extra}"
        if not ok:
            note = r.get("status", "")
        lines.append([
            r["stage"], r["tool"],
            f"{r['seconds']:.2f}" if ok else "n/a",
            f"{r['events_per_s'] / 1e6:.2f}" if ok and r.get("events_per_s") else "",
            f"{r['bytes_per_event']:.0f}" if ok else "",
            *(f"{rat[p]:.2f}x" if p in rat else "" for p in PEERS),
            note[:110],
        ])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def write_docs(path: Path, report: dict[str, Any]) -> None:
    """Replace the generated part of docs/benchmarks.md (between the markers)."""
    m = report["machine"]
    gen = [f"Run `{report['command']}` on {report['date']} (commit `{m['commit']}`).", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, "
           f"{(m['memory_bytes'] or 0) / 2**30:.0f} GiB; Python {m['python']}, "
           f"numpy {m['numpy']}, pyarrow {m['pyarrow']}, duckdb {m['duckdb']}, "
           f"polars {m['polars']}, networkx {m['networkx']}; load average at the start "
           f"{m.get('load_average_at_start')} (other work on the machine slows every tool "
           "alike; compare ratios from one run, not seconds across runs).", ""]
    for n in report["sizes"]:
        gen += [f"### {label(n)} events ({max(2, n // EVENTS_PER_USER):,} users)", "",
                fmt_table(report["rows"], n, markdown=True), ""]
    begin, end = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    pre, rest = text.split(begin, 1)
    post = rest.split(end, 1)[1] if end in rest else ""
    path.write_text(pre + begin + "\n" + "\n".join(gen) + "\n" + end + post)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1M,10M", help="event counts, e.g. 1M,10M")
    p.add_argument("--stream-sizes", default="",
                   help="sizes (also listed in --sizes) that run the floor and streaming only")
    p.add_argument("--stages", default=",".join(ORDER), help="comma-separated stages")
    p.add_argument("--tools", default="engagequal,duckdb,polars,networkx")
    p.add_argument("--networkx-max", default="1M", help="largest size networkx runs at")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=os.environ.get("ENGAGEQUAL_BENCH_DATA",
                                                    "/tmp/engagequal-bench"),
                   help="cache folder for the generated Parquet data")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                   help="folder for the JSON results")
    p.add_argument("--docs", default=None, help="also rewrite this markdown file's table")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per (stage, tool)")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs of each (stage, tool), taking turns; the median time counts")
    args = p.parse_args(argv)
    args.sizes_parsed = parse_sizes(args.sizes)
    args.stream_sizes_parsed = set(parse_sizes(args.stream_sizes))
    args.stages_parsed = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in args.stages_parsed if s not in ORDER]
    if unknown:
        p.error(f"unknown stages {unknown}; known: {ORDER}")
    args.tools_parsed = [t.strip() for t in args.tools.split(",") if t.strip()]
    args.networkx_max = parse_sizes(args.networkx_max)[0]
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None
                                                           else sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "sizes": args.sizes_parsed, "rows": [],
    }
    for n in args.sizes_parsed:
        rows = bench_size(n, args, data)
        report["rows"].extend(rows)
        print(f"\n== {label(n)} events ({max(2, n // EVENTS_PER_USER):,} users)")
        print(fmt_table(report["rows"], n), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=1, default=str)
    (out / f"bench-{stamp}.json").write_text(text)
    (out / "latest.json").write_text(text)
    print(f"\nresults: {out / f'bench-{stamp}.json'}")
    if args.docs:
        write_docs(Path(args.docs), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
