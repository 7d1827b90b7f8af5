"""The ``engagequal`` command line (also ``python -m engagequal``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engagequal.errors import EngagequalError, OptionError

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
    import engagequal as eq

    out = Path(args.out)
    html = None if args.no_html else Path(args.html) if args.html else out / "report.html"
    _refuse_overwrite(out, html, args.overwrite)
    read_kw = _read_kwargs(args)
    if args.events is None:
        from engagequal.synth import population

        print("no EVENTS given: analysing a generated sample of 2,000 users and 60,000 events",
              file=sys.stderr)
        source: object = population(2_000, 60_000, seed=0)[0]
        read_kw = {"event_id": "event_id", "parent": "parent", "thread": "thread", **read_kw}
    else:
        source = args.events
    if getattr(args, "from_format", None):  # a platform export or archive (engagequal.io)
        from engagequal import io as eqio

        if args.events is None:
            raise eq.errors.OptionError(f"--from {args.from_format} needs the archive's PATH")
        load_kw: dict[str, Any] = {"strict": read_kw["strict"]}
        if args.owner is not None:
            load_kw["owner"] = args.owner
        source = eqio.read(args.from_format, args.events, **load_kw)
        read_kw = {**eqio.READ_OPTIONS, **read_kw}
        info = eqio.load_info(source)
        aside = f", set aside {info.set_aside}" if info.set_aside else ""
        print(f"{args.from_format}: {info.records:,} records read, {info.rows:,} rows{aside}",
              file=sys.stderr)
        args.owner = eqio.owner_of(source)  # the archive's owner, for the ego view
        if args.owner is not None:
            print(f"archive owner: {args.owner}", file=sys.stderr)
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    window: tuple[Any, Any] | None = None
    if args.window is not None:
        t0, t1 = (None if w in ("", "none", "None") else _number_or_text(w)
                  for w in args.window)
        window = (t0, t1)
    report = eq.analyze(source, metrics, layer_method=args.layer_method, window=window,
                        half_life=args.half_life, min_weight=args.min_weight, delta=args.delta,
                        owner=args.owner, progress=args.progress, **read_kw)
    owner = report.options.get("owner")
    report.to_parquet(out, overwrite=True)
    print(repr(report))
    _print_top(report)
    if owner is not None:
        try:
            print(repr(report.ego(owner)))
        except KeyError:
            print(f"engagequal: note: {owner!r} is not among the users", file=sys.stderr)
    if html is not None:
        report.to_html(html)
        print(f"HTML report written to {html}")
    print(f"tables written to {out}/")
    return 0


def _number_or_text(v: str) -> object:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def _refuse_overwrite(out: Path, html: Path | None, overwrite: bool) -> None:
    from engagequal.errors import OptionError

    if overwrite:
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OptionError(f"{str(out)!r} is not empty; pass --overwrite to replace it")
    if html is not None and html.exists():
        raise OptionError(f"{str(html)!r} exists; pass --overwrite to replace it")


def _print_top(report: Any) -> None:
    from engagequal.report import table_text

    u = report.users
    if "score" not in u.column_names or u.num_rows == 0:
        return
    cols = [c for c in ("user", "score", "reciprocity", "conversation_share", "connections",
                        "contacts", "followers", "engaged_audience") if c in u.column_names]
    top = u.sort_by([("score", "descending")]).select(cols).slice(0, 10)
    print("top users by quality score:")
    print(table_text(top))


def _cmd_report(args: argparse.Namespace) -> int:
    from engagequal.report import Report

    folder = Path(args.folder)
    html = Path(args.html) if args.html else folder / "report.html"
    if html.exists() and not args.overwrite:
        from engagequal.errors import OptionError

        raise OptionError(f"{str(html)!r} exists; pass --overwrite to replace it")
    report = Report.from_parquet(folder)
    report.to_html(html)
    print(repr(report))
    print(f"HTML report written to {html}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from engagequal.synth import parse_count, population

    n_events = parse_count(args.events)
    n_users = parse_count(args.users) if args.users else max(2, n_events // 50)
    for target in (args.out, args.truth):
        if target is not None:
            _refuse_overwrite(Path(target), None, args.overwrite)
            if args.overwrite and Path(target).is_dir():  # no stale parts of an earlier run
                for old in Path(target).glob("part-*.parquet"):
                    old.unlink()
    path, truth = population(n_users, n_events, seed=args.seed, out=args.out,
                             truth_out=args.truth, order=args.order)
    if args.truth:
        import pyarrow.parquet as pq

        Path(args.truth).mkdir(parents=True, exist_ok=True)
        pq.write_table(truth.ties, Path(args.truth) / "ties.parquet")
        pq.write_table(truth.users, Path(args.truth) / "users.parquet")
    print(f"{n_events:,} events of {n_users:,} users written to {path}")
    return 0


def _run_bench(rest: list[str]) -> int:
    """``python -m benchmarks.run REST`` (the suite lives in the source checkout)."""
    import importlib.util
    import runpy

    if os.getcwd() not in sys.path:  # console scripts do not see the working folder
        sys.path.insert(0, os.getcwd())
    try:
        spec = importlib.util.find_spec("benchmarks.run")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        raise OptionError("engagequal bench runs the benchmark suite of a source checkout: "
                          "run it from the repository root (where benchmarks/ is)")
    sys.argv = ["benchmarks.run", *rest]
    try:
        runpy.run_module("benchmarks.run", run_name="__main__", alter_sys=True)
    except SystemExit as exc:  # argparse's --help and usage errors
        return exc.code if isinstance(exc.code, int) else 0
    return 0


def _synth_bench_parsers(sub: Any) -> None:
    s = sub.add_parser("synth", help="generate a synthetic population with planted structure")
    s.add_argument("--events", default="1M", help="number of events (e.g. 10M)")
    s.add_argument("--users", default=None, help="number of users (default: events / 50)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--order", choices=("time", "shuffled"), default="time")
    s.add_argument("--out", required=True, help="a .parquet file, or a folder of parts")
    s.add_argument("--truth", default=None, help="folder for the planted truth tables")
    s.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (a folder's part-*.parquet files are removed)")
    s.set_defaults(func=_cmd_synth)
    b = sub.add_parser("bench", help="run the benchmark suite (from a source checkout)",
                       add_help=False)
    # listed for --help only: main() hands `bench ...` to the suite before parsing
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options of benchmarks.run")


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
    a.add_argument("--html", default=None,
                   help="write the HTML report here (default: OUT/report.html)")
    a.add_argument("--no-html", action="store_true", help="write the tables only")
    a.add_argument("--metrics", default=None,
                   help="comma-separated subset of reciprocity,responsiveness,conversations,"
                        "layers,quality (default: all)")
    a.add_argument("--layer-method", default="natural", choices=("natural", "rank", "frequency"))
    a.add_argument("--window", nargs=2, metavar=("T0", "T1"), default=None,
                   help="only events with T0 <= ts < T1 (epoch seconds or ISO times; "
                        "'none' for an open end)")
    a.add_argument("--half-life", default=None, help="decay of tie weights, e.g. 30D")
    a.add_argument("--min-weight", type=float, default=0.0,
                   help="a tie exists above this weight (default 0)")
    a.add_argument("--delta", default="7D", help="answer window (default 7D)")
    pg = a.add_mutually_exclusive_group()
    pg.add_argument("--progress", dest="progress", action="store_true", default=None,
                    help="always show progress bars")
    pg.add_argument("--no-progress", dest="progress", action="store_false",
                    help="never show progress bars (TQDM_DISABLE=1 works too)")
    a.add_argument("--owner", default=None,
                   help="your own id in the data: the terminal and the HTML report show "
                        "your circles (default: the archive's owner when --from names one)")
    a.add_argument("--from", dest="from_format", default=None,
                   choices=["mbox", "maildir", "twitter", "linkedin", "instagram", "facebook",
                            "mastodon", "reddit", "convokit"],
                   help="read EVENTS as this export / archive format (engagequal.io)")
    _mapping_args(a)
    a.set_defaults(func=_cmd_analyze)
    r = sub.add_parser("report", help="write the HTML report of an analysed folder")
    r.add_argument("folder", help="folder written by `engagequal analyze`")
    r.add_argument("--html", default=None, help="output file (default: FOLDER/report.html)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing HTML file")
    r.set_defaults(func=_cmd_report)
    _synth_bench_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (typed errors give 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # every option, --help included, belongs to the suite
        try:
            return _run_bench(argv[1:])
        except EngagequalError as exc:
            print(f"engagequal: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except EngagequalError as exc:
        print(f"engagequal: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"engagequal: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("engagequal: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `engagequal analyze ... | head`: the reader left early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return rc


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line."""
    return " ".join(str(exc).split())
