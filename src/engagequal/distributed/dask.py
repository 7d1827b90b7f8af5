"""The analysis on a Dask cluster: the same kernels per partition, merged as a tree.

Imported lazily by :func:`engagequal.dask.analyze`; importing this module
imports Dask.

How each grouping is distributed
--------------------------------
* **users**: every partition runs the one funnel (:func:`engagequal.read_events`)
  with local user codes; the partitions' sorted id dictionaries are united in a
  tree of futures into the global dictionary and each partition's codes are
  re-mapped onto it, so codes follow the id order exactly as in memory.
* **dyads** are additive: each partition aggregates its own dyads with the
  in-memory kernel and the partial dyads are added in a tree of futures
  (sorted sparse sums, no dataframe ``groupby``).
* **answers** (responsiveness) need both directions of a pair together: the
  message-like events are hash-shuffled on the unordered pair, the in-memory
  answer kernel runs per bucket, counts are added and median waits come from a
  second, smaller shuffle of the answered waits on the responder.

The shuffles are task-based (one split per partition, one concatenation per
bucket), which on a few workers is as fast as Dask's P2P shuffle and does not
write to scratch disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import getitem
from typing import Any

import dask.dataframe  # noqa: F401  (fails early without the extra)
import distributed  # noqa: F401
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.distributed import partials as P
from engagequal.errors import OptionError, SourceError
from engagequal.events import Accounting, Events
from engagequal.ingest.schema import to_seconds_duration
from engagequal.kernels.dyads import Dyads
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, tie_options
from engagequal.metrics.reciprocity import (
    reciprocity_dyad,
    reciprocity_global,
    reciprocity_user,
)

__all__ = ["DaskAnalysis", "analyze"]

_METRICS = ("reciprocity", "responsiveness")
_READ_KEYS = ("actor", "target", "ts", "kind", "event_id", "parent", "thread", "weight",
              "kind_weights", "strict")


@dataclass(frozen=True)
class DaskAnalysis:
    """Tables computed on Dask, equal to the in-memory ones.

    Attributes
    ----------
    tables : dict of str to pyarrow.Table
        ``reciprocity_global``, ``reciprocity_user``, ``reciprocity_dyad`` (the
        tables of :func:`engagequal.reciprocity` at each level) and
        ``responsiveness`` (:func:`engagequal.responsiveness`, ``level="user"``),
        for the metrics asked for.
    accounting : Accounting
        Rows in, used and set aside, summed over the partitions.
    profile : dict
        ``partitions``, ``users``, ``dyads``, ``bytes_shuffled`` (bytes of the
        rows moved by the shuffles) and ``seconds`` per stage.
    """

    tables: dict[str, pa.Table]
    accounting: Accounting
    profile: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pa.Table:
        return self.tables[name]

    def __repr__(self) -> str:
        return (f"<engagequal DaskAnalysis: {sorted(self.tables)}; "
                f"{self.accounting.rows_in:,} rows in, {self.profile.get('partitions')} "
                f"partitions>")


def analyze(
    source: Any,
    client: Any = None,
    *,
    metrics: Sequence[str] | None = None,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    delta: Any = "7D",
    fanin: int = 8,
    **read_options: Any,
) -> DaskAnalysis:
    """Run the analysis on a Dask cluster (see :func:`engagequal.dask.analyze`)."""
    unknown = set(read_options) - set(_READ_KEYS)
    if unknown:
        raise OptionError(f"unknown options {sorted(unknown)}; column mapping keywords are "
                          f"{list(_READ_KEYS)}")
    wanted = tuple(_METRICS if metrics is None else metrics)
    bad = [m for m in wanted if m not in _METRICS]
    if bad:
        raise OptionError(f"metrics must be among {_METRICS}, got {bad}")
    if fanin < 2:
        raise OptionError(f"fanin must be at least 2, got {fanin}")
    delta_s = to_seconds_duration(delta, name="delta")
    if client is None:
        from distributed import LocalCluster, get_client

        try:
            client = get_client()
        except ValueError:
            with LocalCluster(  # type: ignore[no-untyped-call]
                    processes=False, dashboard_address=None) as cluster, \
                    cluster.get_client() as own:
                return _run(source, own, wanted, window, half_life, min_weight, delta_s,
                            fanin, read_options)
    return _run(source, client, wanted, window, half_life, min_weight, delta_s, fanin,
                read_options)


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


def _meta(ev: Events) -> tuple[int, int, pa.DataType, Accounting]:
    top = int(ev.ts.max()) if ev.n_events else np.iinfo(np.int64).min
    return ev.n_events, top, ev.time_type, ev.accounting


def _users(ev: Events) -> pa.Array:
    return ev.users


def _nbytes(parts: Sequence[Mapping[str, NDArray[Any]]]) -> int:
    return sum(int(v.nbytes) for p in parts for v in p.values())


def _shuffle(client: Any, splits: list[Any], n_buckets: int) -> tuple[list[Any], Any]:
    """Bucket ``j`` of every split, concatenated: futures per bucket and of the bytes moved."""
    buckets = []
    for j in range(n_buckets):
        pieces = [client.submit(getitem, s, j) for s in splits]
        buckets.append(client.submit(P.concat_rows, *pieces))
    moved = client.submit(sum, client.map(_nbytes, splits))
    return buckets, moved


def _run(source: Any, client: Any, wanted: tuple[str, ...], window: Any, half_life: Any,
         min_weight: float, delta_s: float, fanin: int,
         read_options: Mapping[str, Any]) -> DaskAnalysis:
    from dask.delayed import delayed
    from distributed import wait

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    ddf = _frame(source, read_options)
    opts_read = dict(read_options)
    read = delayed(P.read_partition, pure=True)
    parts = client.compute([read(p, opts_read) for p in ddf.to_delayed()])
    n_parts = len(parts)
    metas = client.gather(client.map(_meta, parts))
    users = _tree(client, client.map(_users, parts), P.merge_ids, fanin)
    evs = client.map(P.recode, parts, users=users)
    wait(evs)  # type: ignore[no-untyped-call]
    del parts  # the re-coded partitions replace them (Dask keeps the lineage)
    seconds["read"] = time.perf_counter() - t

    rows_used = sum(m[0] for m in metas)
    types = [m[2] for m in metas if m[0]] or [metas[0][2]]
    accounting = P.merge_accounting([m[3] for m in metas])
    global_users: pa.Array = client.gather(users)
    top = max(m[1] for m in metas)
    probe = _probe(global_users, types[0], top if rows_used else None, accounting)
    opts = tie_options(probe, window=window, half_life=half_life, min_weight=min_weight)
    nu = len(global_users)

    t = time.perf_counter()
    presence = _tree(client, client.map(P.partial_presence, evs, opts=opts),
                     P.merge_presence, fanin)
    stand_in = client.submit(_stand_in, probe, presence)
    final_opts = replace(opts, t0=None, t1=None)
    futures: dict[str, Any] = {}
    profile: dict[str, Any] = {"partitions": n_parts, "users": nu}
    moved: list[Any] = []
    if "reciprocity" in wanted:
        dyads = _tree(client, client.map(P.partial_dyads, evs, opts=opts), P.merge_dyads,
                      fanin)
        futures["reciprocity_global"] = client.submit(_global_table, stand_in, dyads,
                                                      final_opts, presence)
        futures["reciprocity_user"] = client.submit(reciprocity_user, stand_in, dyads,
                                                    final_opts)
        futures["reciprocity_dyad"] = client.submit(reciprocity_dyad, stand_in, dyads,
                                                    final_opts)
        futures["n_dyads"] = client.submit(len, dyads)
    if "responsiveness" in wanted:
        futures["responsiveness"], moved = _responsiveness(
            client, evs, opts, stand_in, final_opts, nu, delta_s, n_parts)
    done = client.gather({**futures, "moved": moved})
    seconds["tables"] = time.perf_counter() - t
    tables: dict[str, pa.Table] = {k: v for k, v in done.items() if k.startswith("re")}
    profile["dyads"] = done.get("n_dyads", 0)
    profile["bytes_shuffled"] = int(sum(done["moved"]))
    profile["seconds"] = seconds
    return DaskAnalysis(tables=tables, accounting=accounting, profile=profile)


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
           accounting: Accounting) -> Events:
    """An Events with the global users, the time type and the latest time, to
    resolve options exactly as in memory."""
    ts = np.zeros(0, np.int64) if top is None else np.array([top], np.int64)
    from engagequal.ingest.schema import merge_kind_weights

    return Events(actor=np.zeros(ts.size, np.int32), target=np.full(ts.size, -1, np.int32),
                  ts=ts, kind=np.zeros(ts.size, np.int16), weight=np.zeros(ts.size),
                  users=users, kinds=("interaction",), kind_weights=merge_kind_weights(None),
                  time_type=time_type, tree=None, accounting=accounting)


def _responsiveness(client: Any, evs: list[Any], opts: TieOptions, stand_in: Any,
                    final_opts: TieOptions, nu: int, delta_s: float,
                    n_buckets: int) -> tuple[Any, list[Any]]:
    """Futures of the per-user responsiveness table (see
    :func:`engagequal.responsiveness`) and of the bytes shuffled."""
    rows = client.map(P.message_rows, evs, opts=opts)
    splits = client.map(P.split_by_pair, rows, n_buckets=n_buckets, n_users=nu)
    buckets, moved1 = _shuffle(client, splits, n_buckets)
    answers = client.map(P.answer_rows, buckets, n_users=nu,
                         delta_ns=round(delta_s * 1e9))
    counts = client.map(P.answer_counts, answers, n_users=nu)
    waits = client.map(P.answered_waits, answers)
    wsplits = client.map(P.split_by_user, waits, column="b", n_buckets=n_buckets)
    wbuckets, moved2 = _shuffle(client, wsplits, n_buckets)
    medians = client.map(P.median_waits, wbuckets)
    table = client.submit(_responsiveness_table, stand_in, final_opts, nu, counts, medians)
    return table, [moved1, moved2]


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
