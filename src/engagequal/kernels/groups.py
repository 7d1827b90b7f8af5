"""Group events by an integer key and reduce each group, on every core.

The one aggregation under dyads and pairs: count, summed weight and
earliest / latest time per distinct key.  Keys are built chunk by chunk by the
caller's function, once each; a key range's pieces are let go as they are
joined.

How it runs (``P`` = the number of threads, see
:mod:`engagequal.kernels.parallel`), block by block so that no temporary is
larger than a block of events:

1. ``P - 1`` pivots are drawn from a sample of keys, so that the key ranges
   they bound hold about as many events each;
2. each block builds its keys, packs the event position into the low bits
   (``key << bits | position``) and cuts them by key range, in one pass;
3. each key range is joined from its blocks' pieces, sorted (one plain
   ``int64`` sort: radix / SIMD instead of ``argsort``) and reduced with
   ``ufunc.reduceat`` over its runs of equal keys, gathering weights and
   times block by block;
4. the ranges are concatenated: they hold disjoint, increasing keys.

A group never straddles two ranges, and inside a group the events are reduced
in position order, so the result does not depend on ``P``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engagequal.kernels.parallel import chunk_bounds, pmap, workers
from engagequal.kernels.segments import few_edges, segment_starts

__all__ = ["Groups", "group_reduce"]

#: events gathered per block (the block's positions stay in cache)
_BLOCK = 1 << 20
#: keys sampled to place the pivots
_SAMPLE = 1 << 14

KeyFn = Callable[[int, int], NDArray[np.int64]]


@dataclass(frozen=True, eq=False)
class Groups:
    """Distinct keys in ascending order and their reductions.

    ``w`` (summed weights), ``first`` and ``last`` (minimum and maximum time)
    are empty when not asked for.
    """

    key: NDArray[np.int64]
    n: NDArray[np.int64]
    w: NDArray[np.float64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.key.shape[0])


_Z64 = np.zeros(0, np.int64)


def _empty() -> Groups:
    return Groups(_Z64, _Z64, np.zeros(0), _Z64, _Z64)


def group_reduce(
    n: int,
    keys: KeyFn,
    bound: int,
    weight: NDArray[np.float64] | None = None,
    ts: NDArray[np.int64] | None = None,
) -> Groups:
    """Count, sum and min / max time of ``n`` events grouped by key.

    Parameters
    ----------
    n : int
        Number of events.
    keys : callable
        ``keys(start, stop)`` returns the ``int64`` keys of events
        ``start:stop``, each in ``[0, bound]``; a key equal to ``bound``
        drops the event.  The returned array may be modified.
    bound : int
        One more than the largest kept key.
    weight : ndarray of float64, optional
        Per-event weights to sum per group (skipped when None).
    ts : ndarray of int64, optional
        Per-event times, for the earliest and latest per group (skipped when
        None).

    Returns
    -------
    Groups

    Examples
    --------
    >>> import numpy as np
    >>> k = np.array([3, 1, 3, 9, 1])                      # 9 = bound: dropped
    >>> g = group_reduce(5, lambda a, b: k[a:b].copy(), 9, np.arange(5.0), k * 10)
    >>> g.key.tolist(), g.n.tolist(), g.w.tolist(), g.first.tolist()
    ([1, 3], [2, 2], [5.0, 2.0], [10, 30])
    """
    if n == 0:
        return _empty()
    bits = max(int(n - 1).bit_length(), 1)
    if int(bound).bit_length() + bits > 63:  # positions do not fit beside the keys
        return _argsort_reduce(keys(0, n), bound, weight, ts)
    p = workers(n)
    pivots = _pivots(n, keys, bound, p) << bits
    blocks = chunk_bounds(n, -(-n // _BLOCK))

    def packed(c: int) -> NDArray[np.int64]:
        a, b = blocks[c]
        k = keys(a, b)
        k <<= bits
        k |= np.arange(a, b, dtype=np.int64)
        return k

    # one pass: each block's packed keys, cut by key range (no key built twice)
    if p == 1:  # one range: the blocks written straight into it
        whole = np.empty(n, dtype=np.int64)
        for c, (a, b) in enumerate(blocks):
            whole[a:b] = packed(c)
        pieces = [[whole]]
    else:
        def cut(c: int) -> list[NDArray[np.int64]]:
            k = packed(c)
            part = few_edges(pivots, k)
            return [np.compress(part == j, k) for j in range(p)]

        pieces = pmap(cut, list(range(len(blocks))))
    res = pmap(lambda j: _reduce_part(pieces, j, bits, bound, weight, ts), list(range(p)))
    if len(res) == 1:
        return res[0]
    return Groups(*(np.concatenate([getattr(g, f) for g in res])
                    for f in ("key", "n", "w", "first", "last")))


def _reduce_part(pieces: list[list[NDArray[np.int64]]], j: int, bits: int, bound: int,
                 weight: NDArray[np.float64] | None, ts: NDArray[np.int64] | None) -> Groups:
    """Sort key range ``j`` (its piece of every block) and reduce its runs,
    gathering block by block."""
    s = np.concatenate([blk[j] for blk in pieces]) if len(pieces) > 1 else pieces[0][j]
    for blk in pieces:  # the pieces are copied: let them go
        blk[j] = _Z64
    s.sort()
    m = s.size
    if m and (s[-1] >> bits) == bound:  # dropped events sort last
        m = int(np.searchsorted(s, np.int64(bound) << bits))
    if m == 0:
        return _empty()
    flag = np.empty(m, dtype=bool)
    flag[0] = True
    step = np.int64(1 << bits)
    tmp = np.empty(min(m, _BLOCK), dtype=np.int64)
    for a in range(1, m, _BLOCK):  # runs of equal keys: neighbours differing above the position
        b = min(a + _BLOCK, m)
        x = np.bitwise_xor(s[a:b], s[a - 1:b - 1], out=tmp[:b - a])
        np.greater_equal(x, step, out=flag[a:b])
    del tmp
    starts = np.flatnonzero(flag)
    del flag
    ng = starts.size
    w = np.empty(ng, np.float64) if weight is not None else np.zeros(0)
    first = np.empty(ng, np.int64) if ts is not None else _Z64
    last = np.empty(ng, np.int64) if ts is not None else _Z64
    # blocks of whole groups: each block's positions and gathered values stay small
    cuts = np.unique(np.searchsorted(starts, np.arange(0, m, _BLOCK)))
    cuts = np.append(cuts[cuts < ng], ng)
    mask = np.int64((1 << bits) - 1)
    spans = [(g0, g1, int(starts[g0]), int(starts[g1]) if g1 < ng else m)
             for g0, g1 in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)]
    size = max(b - a for _, _, a, b in spans)
    # scratch reused block after block (no fresh pages)
    o_buf, w_buf, t_buf = np.empty(size, np.int64), np.empty(size), np.empty(size, np.int64)
    for g0, g1, a, b in spans:
        o = np.bitwise_and(s[a:b], mask, out=o_buf[:b - a])
        loc = starts[g0:g1] - a
        # np.take: a third faster than fancy indexing; positions valid by construction
        if weight is not None:
            w[g0:g1] = np.add.reduceat(np.take(weight, o, out=w_buf[:b - a], mode="clip"), loc)
        if ts is not None:
            t = np.take(ts, o, out=t_buf[:b - a], mode="clip")
            first[g0:g1] = np.minimum.reduceat(t, loc)
            last[g0:g1] = np.maximum.reduceat(t, loc)
    key = s[starts] >> bits
    return Groups(key=key, n=np.diff(starts, append=m), w=w, first=first, last=last)


def _pivots(n: int, keys: KeyFn, bound: int, p: int) -> NDArray[np.int64]:
    """``p - 1`` increasing key thresholds splitting the events about evenly."""
    if p == 1:
        return _Z64
    spots = 64
    width = max(_SAMPLE // spots, 1)
    starts = np.linspace(0, max(n - width, 0), spots).astype(np.int64)
    sample = np.concatenate([keys(int(a), min(int(a) + width, n)) for a in starts])
    sample = sample[sample < bound]
    if sample.size == 0:
        return _Z64
    q = np.quantile(sample, np.arange(1, p) / p, method="lower").astype(np.int64)
    return np.unique(q[q > 0])


def _runs(s: NDArray[np.int64], w: NDArray[np.float64] | None,
          t: NDArray[np.int64] | None) -> Groups:
    """Reductions over the runs of equal keys of sorted ``s``."""
    m = s.size
    if m == 0:
        return _empty()
    starts = segment_starts(s)
    return Groups(
        key=s[starts],
        n=np.diff(starts, append=m),
        w=np.add.reduceat(w, starts) if w is not None else np.zeros(0),
        first=np.minimum.reduceat(t, starts) if t is not None else _Z64,
        last=np.maximum.reduceat(t, starts) if t is not None else _Z64,
    )


def _argsort_reduce(k: NDArray[np.int64], bound: int, w: NDArray[np.float64] | None,
                    t: NDArray[np.int64] | None) -> Groups:
    """The same reductions by a stable ``argsort`` (keys too wide to pack)."""
    order = np.argsort(k, kind="stable")
    s = k[order]
    keep = int(np.searchsorted(s, bound))
    order = order[:keep]
    return _runs(s[:keep], w[order] if w is not None else None,
                 t[order] if t is not None else None)
