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

import itertools
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
from engagequal.kernels.segments import running_count, segment_starts, stable_order
from engagequal.metrics._ties import TieOptions, event_weights, windowed

__all__ = [
    "LAYER_DEFAULTS",
    "NullStream",
    "Presence",
    "answer_counts",
    "answer_rows",
    "answered_waits",
    "block_dyads",
    "block_ties",
    "bucket_of",
    "concat_rows",
    "concat_sorted",
    "ego_cuts",
    "empty_dyads",
    "layer_finish",
    "layer_tables",
    "layer_ties",
    "median_waits",
    "merge_accounting",
    "merge_dyads",
    "merge_ids",
    "merge_kinds",
    "merge_presence",
    "merge_spans",
    "message_rows",
    "null_inputs",
    "null_pool",
    "null_slice",
    "partial_dyads",
    "partial_presence",
    "quality_bucket",
    "quality_rows",
    "read_bucket",
    "read_partition",
    "recode",
    "recode_all",
    "reduce_dyads",
    "split_by_pair",
    "split_by_user",
    "split_rows",
    "sum_counts",
    "time_span",
    "to_arrow",
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
    order = stable_order(key)
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


def merge_accounting(parts: Sequence[Accounting], *, keep_rows: bool = True,
                     shift: bool = True) -> Accounting:
    """Accounting of the whole input from the partitions' (in input order).

    Set-aside row positions are shifted by the rows of the partitions before
    them, so they index the whole input (``shift=False``: they already do, as
    after the thread shuffle); with ``keep_rows=False`` the per-row table is
    left empty.
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
            rows = a.set_aside_rows.column("row")
            if shift:
                rows = pc.add(rows, pa.scalar(offset, pa.int64()))
            tables.append(a.set_aside_rows.set_column(0, "row", rows))
        offset += a.rows_in
    base = Accounting(rows_in=offset, rows_used=sum(a.rows_used for a in parts),
                      set_aside=aside, notes=notes)
    if tables:
        rows_t = pa.concat_tables(tables)
        return replace(base, set_aside_rows=rows_t if shift else rows_t.sort_by("row"))
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
    order = stable_order(bucket)
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
    from engagequal.metrics.responsiveness import responder_medians

    who, med = responder_medians(rows["b"], rows["wait"])
    return who.astype(np.int32), med


# --- partitions as Arrow, whole-thread buckets read by the funnel ---------

def to_arrow(part: Any) -> pa.Table:
    """One partition (a pandas frame or any Arrow table-like) as an Arrow table."""
    if type(part).__module__.split(".")[0] == "pandas":
        return pa.Table.from_pandas(part, preserve_index=False)
    if isinstance(part, pa.Table):
        return part
    from engagequal.ingest.sources import to_table

    return to_table(part)


def read_bucket(table: pa.Table, read_options: Mapping[str, Any]) -> Events:
    """The funnel on one bucket of whole threads; set-aside rows keep their
    whole-input positions (the ``__row`` column written by the split)."""
    ev = read_events(table, **read_options)
    acc = ev.accounting
    if acc.set_aside_rows.num_rows and "__row" in table.column_names:
        at = acc.set_aside_rows.column("row")
        rows = table.column("__row").take(at)
        acc = replace(acc, set_aside_rows=acc.set_aside_rows.set_column(0, "row", rows))
        ev = replace(ev, accounting=acc)
    return ev


def merge_kinds(*kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The sorted union of kind names."""
    return tuple(sorted(set().union(*kinds)))


def recode_all(ev: Events, users: pa.Array, kinds: tuple[str, ...]) -> Events:
    """:func:`recode` onto the global users, and kind codes onto the global kinds."""
    out = recode(ev, users)
    if tuple(ev.kinds) != tuple(kinds):
        pos = {k: i for i, k in enumerate(kinds)}
        lut = np.array([pos[k] for k in ev.kinds] or [0], dtype=np.int16)
        out = replace(out, kind=lut[ev.kind] if ev.n_events else ev.kind.astype(np.int16),
                      kinds=tuple(kinds))
    return out


def time_span(ev: Events, opts: TieOptions) -> tuple[int | None, int | None, int | None,
                                                     int | None]:
    """Earliest and latest time of all events and of those in the window."""
    if ev.n_events == 0:
        return None, None, None, None
    sub = windowed(ev, opts)
    lo, hi = ev.time_range
    if sub.n_events == 0:
        return lo, hi, None, None
    return (lo, hi, *sub.time_range)


def merge_spans(spans: Sequence[tuple[int | None, ...]]) -> list[int]:
    """The time stamps that stand for all partitions' spans (see :func:`time_span`)."""
    out = []
    for i, pick in ((0, min), (1, max), (2, min), (3, max)):
        vals = [int(v) for s in spans if (v := s[i]) is not None]
        if vals:
            out.append(pick(vals))
    return out


# --- quality: every user's events together --------------------------------

def quality_rows(ev: Events, first: int, n_buckets: int) -> list[dict[str, NDArray[Any]]]:
    """The events of one partition (global codes), split by user bucket.

    An event goes to the buckets of its actor, its target and, with a reply
    tree, the author of its thread's root (the per-post rates count it for
    that author); ``gid`` numbers the events across partitions and ``rkey`` is
    the ``gid`` of the event's root.
    """
    n = ev.n_events
    gid = first + np.arange(n, dtype=np.int64)
    ba = bucket_of(ev.actor.astype(np.int64), n_buckets)
    tgt = ev.target.astype(np.int64)
    bt = np.where(tgt >= 0, bucket_of(np.maximum(tgt, 0), n_buckets), ba)
    if ev.tree is not None and n:
        root = ev.tree.root
        rkey = gid[root]
        author = ev.actor[root]
        counts = (ev.target[root] < 0) & (ev.actor != author)  # a response to a post
        br = np.where(counts, bucket_of(author.astype(np.int64), n_buckets), ba)
    else:
        rkey = gid
        br = ba
    out: list[dict[str, NDArray[Any]]] = []
    for j in range(n_buckets):  # one pass per bucket keeps every piece in gid order
        idx = np.flatnonzero((ba == j) | (bt == j) | (br == j))
        out.append({"actor": ev.actor[idx], "target": ev.target[idx], "ts": ev.ts[idx],
                    "kind": ev.kind[idx], "weight": ev.weight[idx], "gid": gid[idx],
                    "rkey": rkey[idx]})
    return out


def quality_bucket(rows: Mapping[str, NDArray[Any]], bucket: int, n_buckets: int,
                   shell: Events, opts: TieOptions, weights: Mapping[str, float] | None,
                   delta_s: float) -> pa.Table:
    """The in-memory quality table on one user bucket, for the bucket's own users.

    Every event that one of the bucket's users' rows depends on is here: the
    events the user sent or received, and the responses in the threads the
    user started (with their roots), so the kernel gives those rows exactly.
    """
    from engagequal.events import Tree
    from engagequal.metrics._ties import dyads_of
    from engagequal.metrics.quality import quality_table

    g = rows["gid"]
    if g.size > 1 and not bool(np.all(g[1:] > g[:-1])):  # pieces arrive in gid order
        order = stable_order(g)
        rows = {k: v[order] for k, v in rows.items()}
    r = rows
    n = r["gid"].size
    tgt = r["target"]
    present = np.zeros(len(shell.users), dtype=bool)
    present[r["actor"]] = True
    present[tgt[tgt >= 0]] = True
    codes = np.flatnonzero(present).astype(np.int64)
    lut = running_count(present, np.int32)
    lut -= 1
    actor = lut[r["actor"]]
    target = np.where(tgt >= 0, lut[np.maximum(tgt, 0)], -1).astype(np.int32)
    tree = None
    if shell.tree is not None:
        pos = np.searchsorted(r["gid"], r["rkey"])
        pos_c = np.minimum(pos, max(n - 1, 0))
        found = (r["gid"][pos_c] == r["rkey"]) if n else np.zeros(0, bool)
        root = np.where(found, pos_c, np.arange(n)).astype(np.int64)
        tree = Tree(event_ids=pa.array(r["gid"]), parent=np.full(n, -1, np.int64), root=root,
                    depth=np.zeros(n, np.int32), thread=np.zeros(n, np.int32),
                    threads=pa.array([], pa.int64()))
    users = shell.users.take(pa.array(codes))
    ev = replace(shell, actor=actor, target=target, ts=r["ts"], kind=r["kind"].astype(np.int16),
                 weight=r["weight"], users=users, tree=tree)
    table = quality_table(ev, dyads_of(ev, opts), opts, weights=weights, delta=delta_s)
    own = users.filter(pa.array(bucket_of(codes, n_buckets) == bucket))
    return table.filter(pc.is_in(table.column("user"), value_set=own))


def concat_sorted(*tables: pa.Table, by: str) -> pa.Table:
    """Concatenate tables and sort by the id column ``by`` (the id order)."""
    t = pa.concat_tables([x for x in tables if x.num_rows] or list(tables[:1]))
    return t.sort_by(by) if t.num_rows else t


# --- layers: egos in blocks of the reduced dyads ---------------------------

def ego_cuts(d: Dyads, n_blocks: int) -> list[tuple[int, int]]:
    """Ego code ranges ``[lo, hi)`` holding about equal numbers of dyads."""
    nu = d.n_users
    if len(d) == 0 or n_blocks <= 1:
        return [(0, nu)]
    q = np.quantile(d.u, np.linspace(0, 1, n_blocks + 1)[1:-1]).astype(np.int64) + 1
    cuts = np.unique(np.concatenate([[0], q, [nu]]))
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts.tolist()) if b > a]


def block_dyads(d: Dyads, lo: int, hi: int) -> Dyads:
    """The dyads an ego block needs: those sent by its egos and those they receive."""
    keep = ((d.u >= lo) & (d.u < hi)) | ((d.v >= lo) & (d.v < hi))
    return Dyads(u=d.u[keep], v=d.v[keep], w=d.w[keep], n=d.n[keep], first=d.first[keep],
                 last=d.last[keep], n_users=d.n_users)


#: Keywords of :func:`engagequal.layers_from_dyads` besides the level, with
#: the defaults :func:`engagequal.analyze` uses.
LAYER_DEFAULTS: dict[str, Any] = {
    "direction": "out", "reciprocal": True, "min_age": None, "active_per_year": 1.0,
    "sizes": None, "thresholds": None, "max_layers": 6, "log_scale": False,
    "null_model": "lognormal", "null_draws": 19, "alpha": 0.05, "seed": 0,
}


def layer_ties(shell: Events, d: Dyads, opts: TieOptions, lo: int, hi: int,
               params: Mapping[str, Any]) -> Any:
    """The ties of the egos ``[lo, hi)`` (the in-memory tie kernel on the block's dyads)."""
    from engagequal.metrics import layers as lay

    sub = block_dyads(d, lo, hi) if (lo, hi) != (0, d.n_users) else d
    t = lay._ties(shell, sub, opts, direction=params["direction"],
                  reciprocal=params["reciprocal"], min_age=params["min_age"],
                  active_per_year=params["active_per_year"])
    m = (t.ego >= lo) & (t.ego < hi)
    if m.all():
        return t
    return replace(t, ego=t.ego[m], alter=t.alter[m], strength=t.strength[m],
                   active=t.active[m])


def block_ties(shell: Events, d: Dyads, opts: TieOptions, block: int, n_blocks: int,
               params: Mapping[str, Any]) -> Any:
    """The ties of ego block ``block`` of ``n_blocks`` (see :func:`ego_cuts`; a
    block past the last cut has no egos)."""
    cuts = ego_cuts(d, n_blocks)
    lo, hi = cuts[block] if block < len(cuts) else (0, 0)
    return layer_ties(shell, d, opts, lo, hi, params)


def null_slice(block: int, shuffle: bool, *inputs: tuple[int, int, NDArray[np.float64]]
               ) -> tuple[int, int, NDArray[np.float64] | None]:
    """``(offset, total, pool)`` of ego block ``block`` in the null model's stream.

    The shuffle model permutes the tested values (one per tested tie); the
    lognormal model draws ``n + 1`` exponentials per tested ego of ``n`` ties.
    """
    sizes = [i[0] if shuffle else i[0] + i[1] for i in inputs]
    return (int(sum(sizes[:block])), int(sum(sizes)),
            null_pool(*inputs) if shuffle else None)


class NullStream(np.random.Generator):
    """One ego block's share of the natural layers' null-model random streams.

    The in-memory null model spawns one generator per draw from the seed and
    takes from it, in ego order, the random numbers of every tested ego
    (``standard_exponential`` for the lognormal model, a ``permutation`` of
    all tested values for the shuffle model).  This generator spawns the same
    children, and each child replays its whole draw and hands the block its
    slice ``[offset, offset + n)`` (consecutive calls the consecutive
    slices), so the in-memory kernel run on the block draws exactly the
    values it would draw on all egos.
    """

    def __init__(self, seed: Any, offset: int, total: int,
                 pool: NDArray[np.float64] | None = None) -> None:
        import copy

        super().__init__(np.random.PCG64(0))
        src = copy.deepcopy(seed) if isinstance(seed, np.random.Generator) else seed
        self._stream = np.random.default_rng(src)
        self._offset, self._total, self._pool = int(offset), int(total), pool
        self._z: NDArray[np.float64] | None = None  # the whole draw, replayed once

    def spawn(self, n_children: int) -> list[np.random.Generator]:
        return [NullStream(child, self._offset, self._total, self._pool)
                for child in self._stream.spawn(n_children)]

    def standard_exponential(self, size: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self._z is None:
            self._z = self._stream.standard_exponential(self._total)
        lo = self._offset  # consecutive calls take consecutive numbers, as on one stream
        self._offset += int(np.prod(size))
        return self._z[lo:self._offset]

    def permutation(self, x: Any, axis: int = 0) -> Any:
        assert self._pool is not None, "the shuffle null model needs the pool of all egos"
        perm = self._stream.permutation(self._pool)
        return perm[self._offset:self._offset + len(x)]


def null_inputs(ties: Any, params: Mapping[str, Any]) -> tuple[int, int, NDArray[np.float64]]:
    """The tested ties of an ego block (egos with two or more natural layers):
    their number, the number of tested egos, and the values in (ego, value)
    order (the null model's pool)."""
    from engagequal.metrics import layers as lay

    _, _, extra = lay._assign(
        ties, method="natural", sizes=lay.DEFAULT_SIZES, thresholds=None,
        max_layers=params["max_layers"], log_scale=params["log_scale"], null_model=None,
        null_draws=0, seed=0)
    act = np.flatnonzero(ties.active)
    ego = ties.ego[act]
    x = np.log(ties.strength[act]) if params["log_scale"] else ties.strength[act]
    tested = extra["egos"][extra["k"] >= 2] if act.size else np.zeros(0, np.int32)
    m = np.isin(ego, tested)
    order = np.lexsort((x[m], ego[m]))
    return int(m.sum()), int(tested.size), np.asarray(x[m][order], dtype=np.float64)


def null_pool(*inputs: tuple[int, int, NDArray[np.float64]]) -> NDArray[np.float64]:
    """The pool of all blocks' tested values, in ego order."""
    return np.concatenate([i[2] for i in inputs])


def layer_tables(shell: Events, ties: Any, method: str, params: Mapping[str, Any],
                 null_slice: tuple[int, int, Any] | None = None
                 ) -> tuple[pa.Table, pa.Table, int]:
    """Tie and ego layer tables of a block of ties (the in-memory assignment),
    and the number of layer columns.  ``null_slice`` = ``(offset, total,
    pool)`` places the block in the null model's stream (see :class:`NullStream`)."""
    from engagequal.metrics import layers as lay

    sizes = params["sizes"] if params["sizes"] is not None else lay.DEFAULT_SIZES
    seed = params["seed"]
    if null_slice is not None:
        seed = NullStream(seed, *null_slice)
    layer, n_cols, extra = lay._assign(
        ties, method=method, sizes=sizes, thresholds=params["thresholds"],
        max_layers=params["max_layers"], log_scale=params["log_scale"],
        null_model=params["null_model"], null_draws=params["null_draws"], seed=seed)
    tie_t = lay._tie_table(shell.user_ids(ties.ego), shell.user_ids(ties.alter), ties, layer)
    ego_t = lay._ego_table(shell, ties, layer, n_cols, method=method, extra=extra,
                           alpha=params["alpha"])
    return tie_t, ego_t, n_cols


def layer_finish(method: str, *blocks: tuple[pa.Table, pa.Table, int]) -> dict[str, pa.Table]:
    """The three layer tables from the blocks' tie and ego tables."""
    from engagequal.metrics import layers as lay

    tie_t = pa.concat_tables([b[0] for b in blocks])
    ego_t = pa.concat_tables([b[1] for b in blocks])
    glob = lay._global_table(ego_t, blocks[0][2], natural=method == "natural")
    return {"layers_tie": tie_t, "layers_ego": ego_t, "layers_global": glob}
