"""The analysis on a Dask cluster: the same kernels per partition, merged as a tree.

Imported lazily by :func:`engagequal.dask.analyze`; importing this module
imports Dask.

How each grouping is distributed
--------------------------------
* **threads** (when ``event_id`` is mapped): the rows that a reply tree links
  (``event_id`` - ``parent`` edges, shared ``thread`` ids) are brought
  together by a task-based shuffle on their connected component (see
  :mod:`engagequal.distributed.threads`), so every bucket holds whole threads
  and the one funnel (:func:`engagequal.read_events`) reads each bucket exactly
  as it reads the whole input; the conversation partials of the streaming path
  (:func:`engagequal.stream.thread_partials`) run per bucket and are merged.
  Without reply trees every partition is read as it is.
* **users**: the buckets' (or partitions') sorted id dictionaries are united
  in a tree of futures into the global dictionary and each one's codes are
  re-mapped onto it, so codes follow the id order exactly as in memory.
* **dyads** are additive: each partition aggregates its own dyads with the
  in-memory kernel and the partial dyads are added in a tree of futures
  (sorted sparse sums, no dataframe ``groupby``).
* **answers** (responsiveness) need both directions of a pair together: the
  message-like events are hash-shuffled on the unordered pair, the in-memory
  answer kernel runs per bucket, counts are added and median waits come from a
  second, smaller shuffle of the answered waits on the responder.
* **egos** (Dunbar layers) need no shuffle: the reduced dyads are cut into
  blocks of ego codes and each block runs the in-memory tie and layer kernels.
* **quality** needs each user's events together: every event goes to the user
  buckets of its actor, its target and its thread's author, and the in-memory
  quality kernel runs per bucket for the bucket's own users.

The shuffles are task-based (one split per partition, one concatenation per
bucket), which on a few workers is as fast as Dask's P2P shuffle and does not
write to scratch disk.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import getitem
from typing import Any, cast

import dask.dataframe  # noqa: F401  (fails early without the extra)
import distributed  # noqa: F401
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.distributed import partials as P
from engagequal.distributed import threads as T
from engagequal.errors import OptionError, SourceError
from engagequal.events import Accounting, Events, Tree
from engagequal.ingest.schema import merge_kind_weights, to_seconds_duration
from engagequal.kernels.dyads import Dyads
from engagequal.kernels.pages import release_memory
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, tie_options
from engagequal.metrics.reciprocity import (
    reciprocity_dyad,
    reciprocity_global,
    reciprocity_user,
)
from engagequal.report import Report

__all__ = ["DaskReport", "analyze"]

_METRICS = ("reciprocity", "responsiveness", "conversations", "layers", "quality")
_READ_KEYS = ("actor", "target", "ts", "kind", "event_id", "parent", "thread", "weight",
              "kind_weights", "strict")


@dataclass(frozen=True, eq=False)
class DaskReport(Report):
    """The :class:`~engagequal.Report` of a Dask run, with the run's profile.

    Attributes
    ----------
    profile : dict
        ``partitions``, ``users``, ``dyads``, ``bytes_shuffled``, ``seconds``
        per stage (wall clock) and ``tasks``: per task kind its count and total,
        mean and largest compute seconds (the time per partition of each step).
    accounting : Accounting
        Rows in, used and set aside (with the whole-input positions of the
        set-aside rows), summed over the partitions.

    ``report[name]`` is ``report.table(name)``.
    """

    profile: Mapping[str, Any] = field(default_factory=dict)
    accounting: Accounting | None = None

    def __getitem__(self, name: str) -> pa.Table:
        return self.table(name)


def analyze(
    source: Any,
    client: Any = None,
    *,
    metrics: Sequence[str] | None = None,
    layer_method: str = "natural",
    strict: bool = True,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    quality_weights: Mapping[str, float] | None = None,
    layer_options: Mapping[str, Any] | None = None,
    fanin: int = 8,
    **read_options: Any,
) -> DaskReport:
    """Run the analysis on a Dask cluster (see :func:`engagequal.dask.analyze`)."""
    unknown = set(read_options) - set(_READ_KEYS)
    if unknown:
        raise OptionError(f"unknown options {sorted(unknown)}; column mapping keywords are "
                          f"{list(_READ_KEYS)}")
    wanted: tuple[str, ...]
    if metrics is None:
        wanted = _METRICS
    else:
        mets = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        bad = [m for m in mets if m not in _METRICS]
        if bad:
            raise OptionError(f"unknown metrics {bad}; choose among {_METRICS}")
        wanted = tuple(m for m in _METRICS if m in set(mets))
    if fanin < 2:
        raise OptionError(f"fanin must be at least 2, got {fanin}")
    if layer_method not in ("natural", "rank", "frequency"):
        raise OptionError(f"layer_method must be 'natural', 'rank' or 'frequency', "
                          f"got {layer_method!r}")
    params = dict(P.LAYER_DEFAULTS)
    bad_l = sorted(set(layer_options or {}) - set(params))
    if bad_l:
        raise OptionError(f"unknown layer_options {bad_l}; expected among {sorted(params)}")
    params.update(layer_options or {})
    if "quality" in wanted:
        from engagequal.metrics.quality import resolve_weights

        if resolve_weights(quality_weights).get("embeddedness", 0.0) > 0:
            raise OptionError("engagequal.dask.analyze does not score embeddedness (the "
                              "overlap of a tie needs the neighbours' ties); give it weight 0")
    delta_s = to_seconds_duration(delta, name="delta")
    run = _Run(wanted=wanted, layer_method=layer_method, window=window, half_life=half_life,
               min_weight=min_weight, delta=delta, delta_s=delta_s,
               quality_weights=quality_weights, layer_params=params,
               fanin=fanin, read_options={**read_options, "strict": strict})
    if client is None:
        from distributed import LocalCluster, get_client

        try:
            client = get_client()
        except ValueError:
            with LocalCluster(  # type: ignore[no-untyped-call]
                    processes=False, dashboard_address=None) as cluster, \
                    cluster.get_client() as own:
                return run(source, own)
    return run(source, client)


def _frame(source: Any, read_options: Mapping[str, Any]) -> Any:
    """A Dask DataFrame of the mapped columns."""
    import dask.dataframe as dd

    names = [read_options.get(k, k) for k in ("actor", "target", "ts", "kind")]
    names += [read_options[k] for k in ("event_id", "parent", "thread", "weight")
              if read_options.get(k) is not None]
    if isinstance(source, (str, os.PathLike)) or (
            isinstance(source, (list, tuple)) and source
            and all(isinstance(s, (str, os.PathLike)) for s in source)):
        ddf = dd.read_parquet(source, dtype_backend="pyarrow")
    elif isinstance(source, dd.DataFrame):
        ddf = source
    else:
        raise SourceError(f"engagequal.dask.analyze reads a Dask DataFrame or a Parquet "
                          f"path or glob, not a {type(source).__name__}")
    cols = [c for c in dict.fromkeys(names) if c is not None and c in ddf.columns]
    return ddf[cols]


def _tree(client: Any, futures: list[Any], fn: Callable[..., Any], fanin: int,
          **kwargs: Any) -> Any:
    """Reduce ``futures`` with ``fn(*group)`` in a tree of ``fanin``-wide merges."""
    futs = list(futures)
    while len(futs) > 1:
        futs = [client.submit(fn, *futs[i:i + fanin], **kwargs)
                for i in range(0, len(futs), fanin)]
    return futs[0]


def _meta(ev: Events) -> tuple[int, int, pa.DataType, Accounting, tuple[str, ...]]:
    top = ev.time_range[1] if ev.n_events else np.iinfo(np.int64).min
    return ev.n_events, top, ev.time_type, ev.accounting, tuple(ev.kinds)


def _users(ev: Events) -> pa.Array:
    return ev.users


def _nbytes(parts: Sequence[Mapping[str, NDArray[Any]]]) -> int:
    return sum(int(v.nbytes) for p in parts for v in p.values())


@dataclass
class _Run:
    """One analysis: the options, and the steps that submit its tasks."""

    wanted: tuple[str, ...]
    layer_method: str
    window: Any
    half_life: Any
    min_weight: float
    delta: Any
    delta_s: float
    quality_weights: Mapping[str, float] | None
    layer_params: dict[str, Any]
    fanin: int
    read_options: dict[str, Any]
    moved: dict[str, list[Any]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __call__(self, source: Any, client: Any) -> DaskReport:
        from distributed import get_task_stream

        t_all = time.perf_counter()
        with get_task_stream(client) as stream:
            report = self._run(source, client)
        seconds = {**self.seconds, "total": time.perf_counter() - t_all}
        tasks = _task_profile(stream.data)
        prof = {**report.options.get("dask", {}), "seconds": seconds, "tasks": tasks}
        details = {**report.details, "dask_profile": _profile_table(tasks)}
        return replace(report, details=details, options={**report.options, "dask": prof},
                       profile=prof)

    # ----------------------------------------------------------------- steps
    def _run(self, source: Any, client: Any) -> DaskReport:
        from dask.delayed import delayed
        from distributed import wait

        ro = self.read_options
        has_tree = ro.get("event_id") is not None
        t = time.perf_counter()
        ddf = _frame(source, ro)
        to_arrow = delayed(P.to_arrow, pure=True)
        tables = client.compute([to_arrow(p) for p in ddf.to_delayed()])
        n_parts = len(tables)
        if has_tree and n_parts > 1:
            local = self._thread_buckets(client, tables, n_parts)
            shifted = False
        else:
            local = client.map(P.read_partition, tables, read_options=ro)
            shifted = True
        del tables
        metas = client.gather(client.map(_meta, local))
        users = _tree(client, client.map(_users, local), P.merge_ids, self.fanin)
        kinds = P.merge_kinds(*[m[4] for m in metas])
        evs = client.map(P.recode_all, local, users=users, kinds=kinds)
        wait(evs)  # type: ignore[no-untyped-call]
        del local  # the re-coded events replace them (Dask keeps the lineage)
        self.seconds["read"] = time.perf_counter() - t

        rows_used = sum(m[0] for m in metas)
        types = [m[2] for m in metas if m[0]] or [metas[0][2]]
        accounting = P.merge_accounting([m[3] for m in metas], shift=shifted)
        global_users: pa.Array = client.gather(users)
        top = max(m[1] for m in metas)
        kw = merge_kind_weights(ro.get("kind_weights"))
        probe = _probe(global_users, types[0], top if rows_used else None, accounting, kinds, kw)
        opts = tie_options(probe, window=self.window, half_life=self.half_life,
                           min_weight=self.min_weight)
        nu = len(global_users)

        t = time.perf_counter()
        wanted = self.wanted
        presence = _tree(client, client.map(P.partial_presence, evs, opts=opts),
                         P.merge_presence, self.fanin)
        stand_in = client.submit(_stand_in, probe, presence)
        final_opts = replace(opts, t0=None, t1=None)
        futures: dict[str, Any] = {}
        tie_needed = {"reciprocity", "layers", "quality"} & set(wanted)
        dyads = shell = parts = None
        if tie_needed:
            dyads = _tree(client, client.map(P.partial_dyads, evs, opts=opts), P.merge_dyads,
                          self.fanin)
            futures["n_dyads"] = client.submit(len, dyads)
        # the longest chains first: Dask runs earlier submissions first
        if "quality" in wanted:
            qshell = replace(probe, tree=_TREE_MARK if has_tree else None)
            futures["quality"] = self._quality(client, evs, [m[0] for m in metas], qshell,
                                               opts, n_parts)
        if "layers" in wanted:
            shell = client.submit(_shell, probe, *client.map(P.time_span, evs, opts=opts))
            futures["layers"] = self._layers(client, shell, dyads, opts, n_parts)
        if "conversations" in wanted:
            if has_tree:
                parts = client.map(_thread_partials, evs)
                # threads are disjoint across buckets: each bucket's thread rows
                # go to the client as they are; users and dyads are merged
                futures["thread_tables"] = client.map(_thread_rows, parts)
                futures["conversations"] = client.submit(_finish_threads, *parts)
            else:
                futures["conversations"] = client.submit(_no_threads, probe)
        if "responsiveness" in wanted:
            futures["responsiveness_user"] = self._responsiveness(
                client, evs, opts, stand_in, final_opts, nu, n_parts)
        if "reciprocity" in wanted:
            futures["reciprocity_global"] = client.submit(_global_table, stand_in, dyads,
                                                          final_opts, presence)
            futures["reciprocity_user"] = client.submit(reciprocity_user, stand_in, dyads,
                                                        final_opts)
            futures["reciprocity_dyad"] = client.submit(reciprocity_dyad, stand_in, dyads,
                                                        final_opts)
        wait([f for v in futures.values()  # type: ignore[no-untyped-call]
              for f in (v if isinstance(v, list) else [v])])
        self.seconds["tables"] = time.perf_counter() - t
        t = time.perf_counter()
        # the workers keep only what the client still holds: once the results are
        # in, the partitions' events, dyads and partials go (their lineage stays
        # with the scheduler, should a result have to be recomputed), and so do
        # the results once packed; the client then takes one result at a time
        del evs, dyads, shell, parts, presence, stand_in, users
        packed = {k: (client.map(_pack, v) if isinstance(v, list) else client.submit(_pack, v))
                  for k, v in futures.items()}
        del futures
        done: dict[str, Any] = {}
        keys = sorted(packed, key=lambda k: not isinstance(packed[k], list))  # bucket rows first
        for i, k in enumerate(keys):
            got = client.gather(packed.pop(k))
            done[k] = [_unpack(x) for x in got] if isinstance(got, list) else _unpack(got)
            del got
            if i == 0:
                client.run(release_memory)  # what the workers freed, back to the system
        moved: dict[str, list[int]] = client.gather(self.moved)
        self.seconds["gather"] = time.perf_counter() - t
        t = time.perf_counter()
        parts_t: dict[str, pa.Table] = {"accounting": accounting.table()}
        for k, v in done.items():
            if k in ("conversations", "layers"):
                parts_t.update(v)
            elif k == "thread_tables":
                t_sort = time.perf_counter()
                parts_t["conversations_thread"] = _sorted_threads(v)
                self.seconds["thread_sort"] = time.perf_counter() - t_sort
            elif k not in ("n_dyads", "moved", "thread_tables"):
                parts_t[k] = v
        order = ["accounting", "reciprocity_global", "reciprocity_user", "reciprocity_dyad",
                 "responsiveness_user", "conversations_thread", "conversations_dyad",
                 "conversations_user", "layers_tie", "layers_ego", "layers_global", "quality"]
        parts_t = {k: parts_t[k] for k in order if k in parts_t}
        options = {"metrics": wanted, "layer_method": self.layer_method,
                   "strict": ro.get("strict", True), "window": self.window,
                   "half_life": self.half_life, "min_weight": self.min_weight,
                   "delta": self.delta, "events": rows_used, "rows_in": accounting.rows_in}
        report = cast(DaskReport, DaskReport.from_tables(parts_t, options=options))
        s = report.summary
        row = {"events": rows_used, "rows_in": accounting.rows_in} | (
            s.to_pylist()[0] if s.num_rows else {})
        prof = {"partitions": n_parts, "users": nu, "dyads": done.get("n_dyads", 0),
                "bytes_shuffled": int(sum(sum(v) for v in moved.values())),
                "bytes_shuffled_by": {k: int(sum(v)) for k, v in moved.items()},
                "accounting": accounting}
        self.seconds["report"] = time.perf_counter() - t
        return replace(report, summary=pa.Table.from_pylist([row]),
                       options={**report.options, "dask": prof}, accounting=accounting)

    def _thread_buckets(self, client: Any, tables: list[Any], n_parts: int) -> list[Any]:
        """Whole threads per bucket, read by the funnel (see :mod:`.threads`)."""
        ro = self.read_options
        lens = client.gather(client.map(_num_rows, tables))
        first = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64).tolist()
        comps = [client.submit(T.local_components, tab, i, ro["event_id"], ro.get("parent"),
                               ro.get("thread")) for i, tab in enumerate(tables)]
        nsplits = client.map(T.split_nodes, comps, n_buckets=n_parts)
        edges = [client.submit(T.shared_edges, *[client.submit(getitem, s, j) for s in nsplits])
                 for j in range(n_parts)]
        self._record("thread ids", client.submit(sum, client.map(_nbytes, nsplits)))
        mapping = client.submit(T.join_labels, *edges)
        keys = [client.submit(T.row_keys, c, mapping, f) for c, f in zip(comps, first)]
        splits = [client.submit(T.split_table, tab, k, n_parts, f)
                  for tab, k, f in zip(tables, keys, first)]
        self._record("thread rows", client.submit(sum, client.map(T.table_nbytes, splits)))
        buckets = [client.submit(T.concat_tables, *[client.submit(getitem, s, j) for s in splits])
                   for j in range(n_parts)]
        out: list[Any] = client.map(P.read_bucket, buckets, read_options=ro)
        return out

    def _responsiveness(self, client: Any, evs: list[Any], opts: TieOptions, stand_in: Any,
                        final_opts: TieOptions, nu: int, n_buckets: int) -> Any:
        """Future of the per-user responsiveness table (see :func:`engagequal.responsiveness`)."""
        rows = client.map(P.message_rows, evs, opts=opts)
        splits = client.map(P.split_by_pair, rows, n_buckets=n_buckets, n_users=nu)
        buckets = self._shuffle(client, splits, n_buckets, "message pairs")
        answers = client.map(P.answer_rows, buckets, n_users=nu,
                             delta_ns=round(self.delta_s * 1e9))
        counts = client.map(P.answer_counts, answers, n_users=nu)
        waits = client.map(P.answered_waits, answers)
        wsplits = client.map(P.split_by_user, waits, column="b", n_buckets=n_buckets)
        wbuckets = self._shuffle(client, wsplits, n_buckets, "answer waits")
        medians = client.map(P.median_waits, wbuckets)
        return client.submit(_responsiveness_table, stand_in, final_opts, nu, counts, medians)

    def _layers(self, client: Any, shell: Any, dyads: Any, opts: TieOptions,
                n_parts: int) -> Any:
        """Future of the three layer tables: ego blocks of the reduced dyads."""
        method, params = self.layer_method, self.layer_params
        n_blocks = max(n_parts, 1)
        ties = [client.submit(P.block_ties, shell, dyads, opts, i, n_blocks, params)
                for i in range(n_blocks)]
        if method == "natural" and params["null_model"] is not None and params["null_draws"]:
            # the null model draws one random stream over all egos in ego order:
            # each block replays it and takes its own slice (see P.NullStream)
            inputs = [client.submit(P.null_inputs, t, params) for t in ties]
            shuffle = params["null_model"] == "shuffle"
            slices = [client.submit(P.null_slice, i, shuffle, *inputs) for i in range(n_blocks)]
            blocks = [client.submit(P.layer_tables, shell, t, method, params, sl)
                      for t, sl in zip(ties, slices)]
        else:
            blocks = [client.submit(P.layer_tables, shell, t, method, params) for t in ties]
        return client.submit(P.layer_finish, method, *blocks)

    def _quality(self, client: Any, evs: list[Any], counts: list[int], shell: Events,
                 opts: TieOptions, n_buckets: int) -> Any:
        """Future of the quality table: the in-memory kernel per user bucket."""
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()
        splits = [client.submit(P.quality_rows, ev, f, n_buckets) for ev, f in zip(evs, first)]
        buckets = self._shuffle(client, splits, n_buckets, "user events (quality)")
        tabs = [client.submit(P.quality_bucket, b, j, n_buckets, shell, opts,
                              self.quality_weights, self.delta_s)
                for j, b in enumerate(buckets)]
        return client.submit(P.concat_sorted, *tabs, by="user")

    def _record(self, what: str, nbytes: Any) -> None:
        self.moved.setdefault(what, []).append(nbytes)

    def _shuffle(self, client: Any, splits: list[Any], n_buckets: int, what: str) -> list[Any]:
        """Bucket ``j`` of every split, concatenated (the bytes moved are recorded)."""
        buckets = []
        for j in range(n_buckets):
            pieces = [client.submit(getitem, s, j) for s in splits]
            buckets.append(client.submit(P.concat_rows, *pieces))
        self._record(what, client.submit(sum, client.map(_nbytes, splits)))
        return buckets


_TREE_MARK = Tree(event_ids=pa.array([], pa.int64()), parent=np.zeros(0, np.int64),
                  root=np.zeros(0, np.int64), depth=np.zeros(0, np.int32),
                  thread=np.zeros(0, np.int32), threads=pa.array([], pa.int64()))


def _num_rows(t: pa.Table) -> int:
    return int(t.num_rows)


def _thread_partials(ev: Events) -> dict[str, pa.Table]:
    from engagequal.state import StreamState
    from engagequal.stream import thread_partials

    return thread_partials(ev, StreamState.empty())


def _pack(obj: Any) -> Any:
    """Tables as compressed Arrow IPC streams for the trip to the client."""
    if isinstance(obj, pa.Table):
        sink = pa.BufferOutputStream()
        opts = pa.ipc.IpcWriteOptions(compression="lz4" if pa.Codec.is_available("lz4")
                                      else None)
        with pa.ipc.new_stream(sink, obj.schema, options=opts) as w:
            w.write_table(obj)
        return ("arrow", sink.getvalue())
    if isinstance(obj, dict):
        return ("dict", {k: _pack(v) for k, v in obj.items()})
    return ("raw", obj)


def _unpack(obj: Any) -> Any:
    kind, val = obj
    if kind == "arrow":
        return pa.ipc.open_stream(val).read_all()
    if kind == "dict":
        return {k: _unpack(v) for k, v in val.items()}
    return val


def _thread_rows(part: dict[str, pa.Table]) -> pa.Table:
    """One bucket's thread rows, in thread order."""
    t = part["conversations_thread"]
    return t if _is_sorted(t.column("thread")) else t.sort_by("thread")


def _is_sorted(col: pa.ChunkedArray) -> bool:
    if len(col) < 2 or col.null_count:
        return len(col) < 2
    if pa.types.is_integer(col.type):
        v = col.to_numpy()
        return bool(np.all(v[1:] >= v[:-1]))
    return False


def _sorted_threads(tables: list[pa.Table]) -> pa.Table:
    """The thread rows of all buckets in thread order, as ``finish_threads`` gives
    them.  Each bucket's rows are sorted already, so for integer ids a stable
    sort (a merge of the sorted runs) orders them."""
    full = [t for t in tables if t.num_rows]
    t = pa.concat_tables(full or tables[:1])
    if t.num_rows == 0:
        return t
    col = t.column("thread")
    if pa.types.is_integer(col.type) and col.null_count == 0:
        order = np.argsort(col.to_numpy(), kind="stable")
        return t.take(pa.array(order))
    return t.sort_by("thread")


def _finish_threads(*parts: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The dyad and user conversation tables (the thread rows are sorted on the client)."""
    from engagequal.stream import finish_threads

    groups: dict[str, list[pa.Table]] = {}
    for n in parts[0]:
        if n == "conversations_thread":
            groups[n] = [parts[0][n].slice(0, 0)]
            continue
        full = [p[n] for p in parts if p[n].num_rows]
        groups[n] = full or [parts[0][n]]
    out = finish_threads(groups)
    del out["conversations_thread"]
    return out


def _no_threads(probe: Events) -> dict[str, pa.Table]:
    from engagequal.metrics.conversations import conversation_tables

    conv = conversation_tables(probe, levels=("thread", "dyad", "user"))
    return {f"conversations_{k}": v for k, v in conv.items()}


def _shell(probe: Events, *spans: tuple[int | None, ...]) -> Events:
    """The global users with pseudo-events at the earliest and latest times
    (all events and those in the window): what the layer kernels read of the events."""
    stamps = P.merge_spans(spans)
    k = len(stamps)
    return replace(probe, actor=np.zeros(k, np.int32), target=np.full(k, -1, np.int32),
                   ts=np.asarray(stamps, dtype=np.int64), kind=np.zeros(k, np.int16),
                   weight=np.zeros(k))


def _task_profile(data: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Compute time per task kind (from Dask's task stream)."""
    from dask.utils import key_split

    per: dict[str, list[float]] = defaultdict(list)
    for task in data:
        for s in task.get("startstops", ()):
            if s.get("action") == "compute":
                per[key_split(task["key"])].append(float(s["stop"] - s["start"]))
    return {k: {"tasks": len(v), "total_s": float(np.sum(v)), "mean_s": float(np.mean(v)),
                "max_s": float(np.max(v))} for k, v in sorted(per.items())}


def _profile_table(tasks: Mapping[str, Mapping[str, float]]) -> pa.Table:
    return pa.table({
        "task": pa.array(list(tasks), pa.string()),
        "tasks": pa.array([int(v["tasks"]) for v in tasks.values()], pa.int64()),
        "total_s": pa.array([v["total_s"] for v in tasks.values()], pa.float64()),
        "mean_s": pa.array([v["mean_s"] for v in tasks.values()], pa.float64()),
        "max_s": pa.array([v["max_s"] for v in tasks.values()], pa.float64()),
    })



def _stand_in(probe: Events, presence: P.Presence) -> Events:
    """The windowed users, one pseudo-event each (no target): all the final
    table builders need of the events once the dyads are reduced."""
    codes = np.flatnonzero(presence[0]).astype(np.int32)
    k = codes.size
    return replace(probe, actor=codes, target=np.full(k, -1, np.int32),
                   ts=np.zeros(k, np.int64), kind=np.zeros(k, np.int16), weight=np.zeros(k))


def _global_table(stand_in: Events, d: Dyads, opts: TieOptions,
                  presence: P.Presence) -> pa.Table:
    g = reciprocity_global(stand_in, d, opts)
    return g.set_column(g.column_names.index("self_interactions"), "self_interactions",
                        pa.array([presence[1]], pa.int64()))


def _probe(users: pa.Array, time_type: pa.DataType, top: int | None,
           accounting: Accounting, kinds: tuple[str, ...],
           kind_weights: Mapping[str, float]) -> Events:
    """An Events with the global users and kinds, the time type and the latest
    time, to resolve options exactly as in memory."""
    ts = np.zeros(0, np.int64) if top is None else np.array([top], np.int64)
    return Events(actor=np.zeros(ts.size, np.int32), target=np.full(ts.size, -1, np.int32),
                  ts=ts, kind=np.zeros(ts.size, np.int16), weight=np.zeros(ts.size),
                  users=users, kinds=kinds or ("interaction",), kind_weights=kind_weights,
                  time_type=time_type, tree=None, accounting=accounting)


def _responsiveness_table(stand_in: Events, final_opts: TieOptions, nu: int,
                          counts: list[tuple[NDArray[np.int32], NDArray[np.int64]]],
                          medians: list[tuple[NDArray[np.int32], NDArray[np.float64]]],
                          ) -> pa.Table:
    from engagequal.metrics.reciprocity import present_users

    received, got, sent, sent_ans = P.sum_counts(counts, nu)
    med = np.zeros(nu)
    has = np.zeros(nu, dtype=bool)
    for who, m in medians:  # one entry per bucket
        med[who] = m
        has[who] = True
    users = np.flatnonzero(present_users(stand_in, final_opts))
    return pa.table({
        "user": stand_in.user_ids(users),
        "received": pa.array(received[users].astype(np.int64)),
        "answered": pa.array(got[users].astype(np.int64)),
        "response_rate": ratio(got[users], received[users]),
        "median_response_s": pa.array(med[users], pa.float64(), mask=~has[users]),
        "sent": pa.array(sent[users].astype(np.int64)),
        "sent_answered": pa.array(sent_ans[users].astype(np.int64)),
        "answered_share": ratio(sent_ans[users], sent[users]),
    })
