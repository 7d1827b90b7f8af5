"""The ``engagequal`` command line (also ``python -m engagequal``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engagequal.errors import EngagequalError

__all__ = ["main"]


def _mapping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("column mapping")
    for role in ("actor", "target", "ts", "kind", "event-id", "parent", "thread", "weight"):
        g.add_argument(f"--{role}", dest=role.replace("-", "_"), default=None,
                       help=f"source column holding the {role}")
    p.add_argument("--lenient", action="store_true",
                   help="set bad rows aside and count them instead of failing")


def _read_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    for role in ("actor", "target", "ts", "kind", "event_id", "parent", "thread", "weight"):
        v = getattr(args, role)
        if v is not None:
            kw[role] = v
    kw["strict"] = not args.lenient
    return kw


def _cmd_analyze(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    import engagequal as eq
    from engagequal.synth import simple_events

    if args.events is None:
        print("no EVENTS given: analysing a generated sample of 2,000 users and 50,000 events",
              file=sys.stderr)
        source: object = simple_events(2_000, 50_000, seed=0)
    else:
        source = args.events
    read_kw = _read_kwargs(args)
    if getattr(args, "from_format", None):  # a platform export or archive (engagequal.io)
        from engagequal import io as eqio

        if args.events is None:
            raise eq.errors.OptionError(f"--from {args.from_format} needs the archive's PATH")
        source = eqio.read(args.from_format, args.events, strict=read_kw["strict"])
        read_kw = {**eqio.READ_OPTIONS, **read_kw}
        args.owner = eqio.owner_of(source)  # the archive's owner, for the ego view
        if args.owner is not None:
            print(f"archive owner: {args.owner}", file=sys.stderr)
    ev = eq.read_events(source, **read_kw)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise eq.errors.OptionError(f"{str(out)!r} is not empty; pass --overwrite to replace it")
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "reciprocity": eq.reciprocity(ev),
        "users": eq.reciprocity(ev, level="user"),
        "dyads": eq.reciprocity(ev, level="dyad"),
        "responsiveness": eq.responsiveness(ev),
        "dropped": ev.accounting.table(),
    }
    for name, t in tables.items():
        pq.write_table(t, out / f"{name}.parquet")
    print(repr(ev))
    g = tables["reciprocity"].to_pylist()[0]
    print("reciprocity: " + ", ".join(
        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in g.items()))
    users = tables["users"].sort_by([("connections", "descending")]).slice(0, 10)
    print("top users by two-way connections:")
    print(users.select(["user", "connections", "contacts", "audience", "node_reciprocity"])
          .to_pandas().to_string(index=False) if _has_pandas() else users.to_string())
    print(f"tables written to {out}/")
    return 0


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def _cmd_synth(args: argparse.Namespace) -> int:
    from engagequal.synth import parse_count, population

    n_events = parse_count(args.events)
    n_users = parse_count(args.users) if args.users else max(2, n_events // 50)
    path, truth = population(n_users, n_events, seed=args.seed, out=args.out,
                             truth_out=args.truth, order=args.order)
    if args.truth:
        import pyarrow.parquet as pq

        Path(args.truth).mkdir(parents=True, exist_ok=True)
        pq.write_table(truth.ties, Path(args.truth) / "ties.parquet")
        pq.write_table(truth.users, Path(args.truth) / "users.parquet")
    print(f"{n_events:,} events of {n_users:,} users written to {path}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import runpy

    sys.argv = ["benchmarks.run", *args.rest]
    runpy.run_module("benchmarks.run", run_name="__main__", alter_sys=True)
    return 0


def _synth_bench_parsers(sub: Any) -> None:
    s = sub.add_parser("synth", help="generate a synthetic population with planted structure")
    s.add_argument("--events", default="1M", help="number of events (e.g. 10M)")
    s.add_argument("--users", default=None, help="number of users (default: events / 50)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--order", choices=("time", "shuffled"), default="time")
    s.add_argument("--out", required=True, help="a .parquet file, or a folder of parts")
    s.add_argument("--truth", default=None, help="folder for the planted truth tables")
    s.set_defaults(func=_cmd_synth)
    b = sub.add_parser("bench", help="run the benchmark suite (from a source checkout)",
                       add_help=False)
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of benchmarks.run")
    b.set_defaults(func=_cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``engagequal`` command."""
    p = argparse.ArgumentParser(prog="engagequal",
                                description="Quality, not quantity, of social networks.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="analyse an event log (or a generated sample)")
    a.add_argument("events", nargs="?", default=None,
                   help="Parquet / CSV file or folder (default: a generated sample)")
    a.add_argument("-o", "--out", default="eq-report", help="output folder for the tables")
    a.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    a.add_argument("--from", dest="from_format", default=None,
                   choices=["mbox", "maildir", "twitter", "linkedin", "instagram", "facebook",
                            "mastodon", "reddit", "convokit"],
                   help="read EVENTS as this export / archive format (engagequal.io)")
    _mapping_args(a)
    a.set_defaults(func=_cmd_analyze)
    _synth_bench_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (typed errors give 2)."""
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except EngagequalError as exc:
        print(f"engagequal: error: {exc}", file=sys.stderr)
        return 2
    return rc
