"""Per-partition partial state and its merges: plain numpy, no engine.

Every function here is a pure function of its arguments, so an engine (Dask,
Ray, Spark, a loop) can run it anywhere, retry it, and combine the results in
any tree: the merges are associative and commutative.

The steps, per partition of the events:

1. :func:`read_partition` runs the one funnel, :func:`engagequal.read_events`,
   on the partition (local user codes);
2. :func:`merge_ids` unites the partitions' sorted id dictionaries into the
   global one, and :func:`recode` maps the local codes onto it, so that codes
   follow the global id order exactly as in memory;
3. :func:`partial_dyads` aggregates the partition's dyads with the in-memory
   kernel (:func:`engagequal.kernels.dyads.aggregate_dyads`), and
   :func:`merge_dyads` adds partial dyads (weights and counts add, first / last
   contacts take min / max);
4. :func:`partial_presence` and :func:`merge_presence` collect who has an
   event in the window and how many self-interactions were set apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.events import Accounting, Events
from engagequal.ingest.read import read_events
from engagequal.kernels.dyads import Dyads, aggregate_dyads
from engagequal.kernels.segments import segment_starts
from engagequal.metrics._ties import TieOptions, event_weights, windowed

__all__ = [
    "Presence",
    "answer_counts",
    "answer_rows",
    "answered_waits",
    "bucket_of",
    "concat_rows",
    "empty_dyads",
    "median_waits",
    "merge_accounting",
    "merge_dyads",
    "merge_ids",
    "merge_presence",
    "message_rows",
    "partial_dyads",
    "partial_presence",
    "read_partition",
    "recode",
    "reduce_dyads",
    "split_by_pair",
    "split_by_user",
    "split_rows",
    "sum_counts",
]

Presence = tuple[NDArray[np.bool_], int]
"""Which users have an event in the window, and the count of self-interactions
in the window."""


def read_partition(table: Any, read_options: Mapping[str, Any]) -> Events:
    """The funnel on one partition: a pandas frame or anything :func:`read_events` takes."""
    if type(table).__module__.split(".")[0] == "pandas":
        table = pa.Table.from_pandas(table, preserve_index=False)
    return read_events(table, **read_options)


def merge_ids(*dictionaries: pa.Array) -> pa.Array:
    """The sorted union of sorted id dictionaries (all int64 or all string).

    Examples
    --------
    >>> merge_ids(pa.array([1, 5]), pa.array([2, 5])).to_pylist()
    [1, 2, 5]
    """
    arrs = [d for d in dictionaries if len(d)]
    if not arrs:
        return dictionaries[0] if dictionaries else pa.array([], pa.int64())
    typ = pa.string() if any(pa.types.is_string(a.type) for a in arrs) else pa.int64()
    if typ == pa.int64():
        allv = np.concatenate([a.to_numpy(zero_copy_only=False) for a in arrs])
        return pa.array(np.unique(allv), pa.int64())
    u = pc.unique(pa.concat_arrays([a.cast(typ) for a in arrs]))
    return u.take(pc.sort_indices(u))


def recode(ev: Events, users: pa.Array) -> Events:
    """``ev`` with its user codes mapped onto the global sorted dictionary ``users``."""
    local = ev.users
    if len(local) == 0:
        lut = np.zeros(0, dtype=np.int32)
    elif pa.types.is_integer(users.type):
        lut = np.searchsorted(users.to_numpy(zero_copy_only=False),
                              local.to_numpy(zero_copy_only=False)).astype(np.int32)
    else:
        lut = pc.index_in(local.cast(users.type), value_set=users).to_numpy(
            zero_copy_only=False).astype(np.int32)
    actor = lut[ev.actor] if ev.n_events else ev.actor
    target = np.where(ev.target >= 0, lut[np.maximum(ev.target, 0)], -1).astype(np.int32) \
        if ev.n_events else ev.target
    return replace(ev, actor=actor.astype(np.int32), target=target, users=users)


def empty_dyads(n_users: int) -> Dyads:
    """Dyads with no rows over ``n_users`` users."""
    z32, z64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
    return Dyads(z32, z32, np.zeros(0), z64, z64, z64, n_users)


def partial_dyads(ev: Events, opts: TieOptions) -> Dyads:
    """The dyads of one partition (global codes), windowed and decayed as in memory."""
    sub = windowed(ev, opts)
    return aggregate_dyads(sub.actor, sub.target, event_weights(sub, opts), sub.ts, sub.n_users)


def merge_dyads(*parts: Dyads) -> Dyads:
    """Add partial dyads: ``w`` and ``n`` add, ``first`` takes the min, ``last`` the max.

    Examples
    --------
    >>> a = aggregate_dyads(np.array([0]), np.array([1]), np.array([1.0]), np.array([5]), 2)
    >>> b = aggregate_dyads(np.array([0, 1]), np.array([1, 0]), np.array([2.0, 4.0]),
    ...                     np.array([3, 9]), 2)
    >>> m = merge_dyads(a, b)
    >>> m.w.tolist(), m.n.tolist(), m.first.tolist(), m.last.tolist()
    ([3.0, 4.0], [2, 1], [3, 9], [5, 9])
    """
    n_users = parts[0].n_users
    full = [p for p in parts if len(p)]
    if not full:
        return empty_dyads(n_users)
    if len(full) == 1:
        return full[0]
    def cat(f: str) -> NDArray[Any]:
        return np.concatenate([getattr(p, f) for p in full])

    return reduce_dyads(Dyads(u=cat("u"), v=cat("v"), w=cat("w"), n=cat("n"),
                              first=cat("first"), last=cat("last"), n_users=n_users))


def reduce_dyads(d: Dyads) -> Dyads:
    """Sort rows by dyad and sum the rows of each dyad (``w``, ``n`` add,
    ``first`` min, ``last`` max)."""
    key = d.u.astype(np.int64) * np.int64(d.n_users) + d.v
    order = np.argsort(key, kind="stable")
    starts = segment_starts(key[order])
    if starts.size == 0:
        return empty_dyads(d.n_users)
    return Dyads(u=d.u[order][starts], v=d.v[order][starts],
                 w=np.add.reduceat(d.w[order], starts),
                 n=np.add.reduceat(d.n[order], starts).astype(np.int64),
                 first=np.minimum.reduceat(d.first[order], starts),
                 last=np.maximum.reduceat(d.last[order], starts), n_users=d.n_users)


def partial_presence(ev: Events, opts: TieOptions) -> Presence:
    """Users with an event in the window (a mask over the users) and the
    self-interactions there."""
    sub = windowed(ev, opts)
    present = np.zeros(ev.n_users, dtype=bool)
    present[sub.actor] = True
    present[sub.target[sub.target >= 0]] = True
    return present, int(np.count_nonzero(sub.actor == sub.target))


def merge_presence(*parts: Presence) -> Presence:
    """Union of present users, sum of self-interactions."""
    present = parts[0][0].copy()
    for p in parts[1:]:
        present |= p[0]
    return present, sum(p[1] for p in parts)


def merge_accounting(parts: Sequence[Accounting], *, keep_rows: bool = True) -> Accounting:
    """Accounting of the whole input from the partitions' (in input order).

    Set-aside row positions are shifted by the rows of the partitions before
    them, so they index the whole input; with ``keep_rows=False`` (after a
    shuffle, where positions mean nothing) the per-row table is left empty.
    """
    aside: dict[str, int] = {}
    notes: dict[str, int] = {}
    tables = []
    offset = 0
    for a in parts:
        for k, v in a.set_aside.items():
            aside[k] = aside.get(k, 0) + int(v)
        for k, v in a.notes.items():
            notes[k] = notes.get(k, 0) + int(v)
        if keep_rows and a.set_aside_rows.num_rows:
            rows = pc.add(a.set_aside_rows.column("row"), pa.scalar(offset, pa.int64()))
            tables.append(a.set_aside_rows.set_column(0, "row", rows))
        offset += a.rows_in
    base = Accounting(rows_in=offset, rows_used=sum(a.rows_used for a in parts),
                      set_aside=aside, notes=notes)
    if tables:
        return replace(base, set_aside_rows=pa.concat_tables(tables))
    return base


def bucket_of(key: NDArray[np.int64], n_buckets: int) -> NDArray[np.int64]:
    """A well-mixed bucket in ``[0, n_buckets)`` for each int64 key (splitmix64)."""
    z = key.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    out: NDArray[np.int64] = (z % np.uint64(n_buckets)).astype(np.int64)
    return out


def split_rows(columns: Mapping[str, NDArray[Any]], bucket: NDArray[np.int64],
               n_buckets: int) -> list[dict[str, NDArray[Any]]]:
    """Split equal-length columns into ``n_buckets`` groups by ``bucket`` (one stable sort)."""
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
    cols = {k: v[order] for k, v in columns.items()}
    return [{k: v[bounds[j]:bounds[j + 1]] for k, v in cols.items()} for j in range(n_buckets)]


# --- responsiveness: answers need both directions of a pair together --------

def message_rows(ev: Events, opts: TieOptions) -> dict[str, NDArray[Any]]:
    """Message-like events in the window (global codes): ``a -> b`` at ``t``."""
    from engagequal.metrics.responsiveness import message_like

    sub = windowed(ev, opts)
    m = message_like(sub)
    return {"a": sub.actor[m], "b": sub.target[m], "t": sub.ts[m]}


def split_by_pair(rows: Mapping[str, NDArray[Any]], n_buckets: int,
                  n_users: int) -> list[dict[str, NDArray[Any]]]:
    """Split message rows so that both directions of an unordered pair share a bucket."""
    a, b = rows["a"].astype(np.int64), rows["b"].astype(np.int64)
    key = np.minimum(a, b) * np.int64(n_users) + np.maximum(a, b)
    return split_rows(rows, bucket_of(key, n_buckets), n_buckets)


def split_by_user(rows: Mapping[str, NDArray[Any]], column: str,
                  n_buckets: int) -> list[dict[str, NDArray[Any]]]:
    """Split rows so that every user's rows (by ``column``) share a bucket."""
    return split_rows(rows, bucket_of(rows[column].astype(np.int64), n_buckets), n_buckets)


def concat_rows(*parts: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """Concatenate column dictionaries with the same keys."""
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def answer_rows(rows: Mapping[str, NDArray[Any]], n_users: int,
                delta_ns: int) -> dict[str, NDArray[Any]]:
    """The in-memory answer kernel on one pair bucket: ``wait`` (ns, -1 if none), ``answered``."""
    from engagequal.metrics.responsiveness import answer_times

    wait = answer_times(rows["a"], rows["b"], rows["t"], n_users)
    answered = (wait >= 0) & (wait <= np.int64(delta_ns))
    return {"a": rows["a"], "b": rows["b"], "wait": wait, "answered": answered}


def answer_counts(rows: Mapping[str, NDArray[Any]],
                  n_users: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Per user of the bucket: received, answered, sent, sent_answered.

    Returns the user codes that occur and a ``4 x len(codes)`` count array.
    """
    ans = rows["answered"]
    dense = np.stack([
        np.bincount(rows["b"], minlength=n_users),
        np.bincount(rows["b"][ans], minlength=n_users),
        np.bincount(rows["a"], minlength=n_users),
        np.bincount(rows["a"][ans], minlength=n_users),
    ]).astype(np.int64)
    codes = np.flatnonzero(dense.any(axis=0)).astype(np.int32)
    return codes, dense[:, codes]


def sum_counts(parts: Sequence[tuple[NDArray[np.int32], NDArray[np.int64]]],
               n_users: int) -> NDArray[np.int64]:
    """Add sparse per-user counts into one dense ``4 x n_users`` array."""
    out = np.zeros((4, n_users), dtype=np.int64)
    if not parts:
        return out
    codes = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts], axis=1)
    for i in range(4):
        out[i] = np.bincount(codes, weights=counts[i], minlength=n_users).astype(np.int64)
    return out


def answered_waits(rows: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """``(responder, wait)`` of the answered messages."""
    ans = rows["answered"]
    return {"b": rows["b"][ans], "wait": rows["wait"][ans]}


def median_waits(rows: Mapping[str, NDArray[Any]]) -> tuple[NDArray[np.int32],
                                                             NDArray[np.float64]]:
    """Median answered wait in seconds per responder of one user bucket."""
    from engagequal.kernels.segments import segmented_median

    b, w = rows["b"], rows["wait"]
    order = np.lexsort((w, b))
    starts = segment_starts(b[order])
    if starts.size == 0:
        return np.zeros(0, np.int32), np.zeros(0)
    who = b[order][starts].astype(np.int32)
    return who, segmented_median(w[order].astype(np.float64) / 1e9, starts)
