"""Exactly optimal one-dimensional k-means (Ckmeans), for many segments at once.

Each segment (one ego's contact frequencies, sorted ascending) is clustered on
its own; all segments are processed together.  Segments are grouped by length
into power-of-two buckets and padded inside a bucket to a rectangle, so the
dynamic programme of Wang & Song (2011) runs as whole-array numpy operations:
the only Python loops are over the number of clusters and over positions
inside a bucket, never over segments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engagequal.kernels.parallel import pmap
from engagequal.kernels.segments import segment_blocks, stable_order, starts_of

__all__ = ["SegmentClusters", "ckmeans", "ckmeans_segments", "ckmeans_sse", "explained_share",
           "gaussian_bic"]

#: cells (segments x padded length) per chunk of the dynamic programme
_CHUNK_CELLS = 1 << 20
#: segments longer than this run the divide-and-conquer rows (:func:`_monotone_row`)
_WIDE = 256
#: values per block of the flat kernels (whose temporaries then stay in the cache)
_BLOCK = 1 << 16
#: padded cells times width up to which the quadratic programme keeps its cluster costs
_KEPT_CELLS = 1 << 22
#: chunks of at most this many cells run the programme in whole-array steps (:func:`_dp_dense`)
_DENSE_CELLS = 1 << 12
#: candidates per group of a divide-and-conquer level (about ten arrays of this size)
_LEVEL_CELLS = 1 << 18


@dataclass(frozen=True, eq=False)
class SegmentClusters:
    """Optimal clusterings of every segment.

    Attributes
    ----------
    k : ndarray of int64
        Number of clusters chosen for each segment.
    labels : ndarray of int64
        Cluster of each value (``0`` = the lowest values), for the chosen ``k``.
    sse : ndarray of float64, shape (n_segments, k_max)
        ``sse[s, k - 1]``: the optimal within-cluster sum of squares of segment
        ``s`` with ``k`` clusters (``inf`` when ``k`` exceeds its length, 0
        when it exceeds its number of distinct values).
    bic : ndarray of float64, shape (n_segments, k_max)
        The criterion of :func:`gaussian_bic` for each ``k`` (``-inf`` where ``k``
        exceeds the number of distinct values).
    """

    k: NDArray[np.int64]
    labels: NDArray[np.int64]
    sse: NDArray[np.float64]
    bic: NDArray[np.float64]


def _lengths(starts: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    return np.diff(np.append(starts, n)).astype(np.int64)


def _chunks(lengths: NDArray[np.int64], k_max: int = 1,
            rank: NDArray[np.int64] | None = None) -> Iterator[tuple[NDArray[np.int64], int]]:
    """Segments grouped by ``ceil(log2(length))``, in chunks of bounded size: at
    most about ``_CHUNK_CELLS`` padded cells times ``k_max`` (the programme
    and the per-cluster statistics hold ``k_max`` values per cell).  With
    ``rank`` (small non-negative integers) the groups are split by rank too."""
    bucket = np.ceil(np.log2(np.maximum(lengths, 1))).astype(np.int64)
    # the padded width is the length bucket's (the centring sums run over it)
    width_of = np.zeros(int(bucket.max()) + 1 if bucket.size else 0, dtype=np.int64)
    np.maximum.at(width_of, bucket, lengths)
    group = bucket if rank is None or not rank.size else bucket * (int(rank.max()) + 1) + rank
    order = stable_order(group)
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    for grp in np.split(order, cuts):
        if grp.size == 0:
            continue
        width = int(width_of[bucket[grp[0]]])
        per = max(1, _CHUNK_CELLS // (max(width, 1) * max(k_max, 1)))
        for lo in range(0, grp.size, per):
            yield grp[lo:lo + per], width


def _padded(values: NDArray[np.float64], starts: NDArray[np.int64], lengths: NDArray[np.int64],
            segs: NDArray[np.int64], width: int) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                         NDArray[np.int64], NDArray[np.float64]]:
    """Prefix sums of the centred, padded segments: ``P1``, ``P2`` of shape (E, width + 1)."""
    n = lengths[segs]
    pos = np.minimum(np.arange(width)[None, :], (n - 1)[:, None])
    idx = starts[segs][:, None] + pos
    x = values[idx]
    valid = np.arange(width)[None, :] < n[:, None]
    mean = np.where(valid, x, 0.0).sum(axis=1) / n
    x = x - mean[:, None]
    p1 = np.zeros((segs.size, width + 1))
    p2 = np.zeros((segs.size, width + 1))
    np.cumsum(x, axis=1, out=p1[:, 1:])
    np.cumsum(x * x, axis=1, out=p2[:, 1:])
    return p1, p2, idx, mean


def _dp(p1: NDArray[np.float64], p2: NDArray[np.float64], k_max: int,
        n: NDArray[np.int64] | None = None, *,
        splits: bool = True, costs: bool = True) -> tuple[NDArray[np.float64],
                                                          NDArray[np.int32]]:
    """The Ckmeans dynamic programme on padded prefix sums.

    Returns ``D`` (k_max, E, L): optimal cost of the first ``i + 1`` values in
    ``k`` clusters, and ``B`` (k_max, E, L): the start of the last cluster
    (left empty with ``splits=False``, when only the costs are wanted).
    With ``costs=False`` only the splits are wanted: the rows of ``D`` are
    rolled over two buffers and ``D`` comes back empty.
    With the segment lengths ``n`` and padded segments longer than ``_WIDE``
    the rows are computed by :func:`_monotone_row` (positions past a
    segment's length are then left at ``inf``).
    """
    e, width = p1.shape[0], p1.shape[1] - 1
    d = np.full((k_max if costs else min(k_max, 2), e, width), np.inf)
    wide = width > _WIDE and n is not None
    b = np.zeros((k_max, e, width) if splits or wide else (0, 0, 0), dtype=np.int32)
    cnt = np.arange(1, width + 1, dtype=np.float64)
    s1 = p1[:, 1:]
    d[0] = np.maximum(p2[:, 1:] - s1 * s1 / cnt, 0.0)

    def rows(k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if costs:
            return d[k - 1], d[k]
        prev, best = d[(k - 1) % 2], d[k % 2]
        best.fill(np.inf)  # the buffer still holds row k - 2
        return prev, best

    if wide:
        assert n is not None
        for k in range(1, min(k_max, width)):
            _monotone_row(p1, p2, *rows(k), b[k], k, n)
        return (d if costs else d[:0]), b
    if e * width <= _DENSE_CELLS:  # a small chunk: every step at once, the costs shared
        return _dp_dense(p1, p2, d, b, k_max, rows, splits=splits, costs=costs)
    # the costs of the last clusters, kept for the next k when they fit
    kept: list[NDArray[np.float64]] | None = [] if e * width * width <= _KEPT_CELLS else None
    for k in range(1, min(k_max, width)):
        prev, best = rows(k)
        for j in range(k, width):  # the last cluster is [j .. i]
            if kept is not None and j <= len(kept):
                cand = kept[j - 1] + prev[:, j - 1:j]
            else:
                cand = p1[:, j + 1:] - p1[:, j:j + 1]
                np.multiply(cand, cand, out=cand)
                np.divide(cand, cnt[:width - j], out=cand)
                cost = p2[:, j + 1:] - p2[:, j:j + 1]
                np.subtract(cost, cand, out=cand)
                np.maximum(cand, 0.0, out=cand)
                if kept is not None and k < min(k_max, width) - 1:
                    kept.append(cand)
                    cand = cand + prev[:, j - 1:j]
                else:
                    np.add(cand, prev[:, j - 1:j], out=cand)
            tgt = best[:, j:]
            if splits:
                better = cand < tgt
                np.copyto(tgt, cand, where=better)
                np.copyto(b[k][:, j:], np.int32(j), where=better)
            else:
                np.minimum(tgt, cand, out=tgt)
    return (d if costs else d[:0]), b


def _dp_dense(p1: NDArray[np.float64], p2: NDArray[np.float64], d: NDArray[np.float64],
              b: NDArray[np.int32], k_max: int,
              rows: Callable[[int], tuple[NDArray[np.float64], NDArray[np.float64]]], *,
              splits: bool, costs: bool) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """The rows of :func:`_dp` on a small chunk, each in a few whole-array steps.

    The costs of all the last clusters ``[j .. i]`` are computed once, with
    the operations of the step-by-step programme in the same order, and
    shared by every ``k``; the minimum over ``j`` then takes the leftmost
    optimum, as the step-by-step ``<`` does.  Same values, same splits,
    without a Python step per start on chunks too small to amortise one.
    """
    width = p1.shape[1] - 1
    j = np.arange(1, width)[:, None]
    cnt = (np.arange(1, width)[None, :] - j + 1).astype(np.float64)  # (starts, ends)
    cost = p1[:, None, 2:] - p1[:, 1:width, None]
    np.multiply(cost, cost, out=cost)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(cost, cnt, out=cost)
    np.subtract(p2[:, None, 2:] - p2[:, 1:width, None], cost, out=cost)
    np.maximum(cost, 0.0, out=cost)
    cost[:, cnt <= 0] = np.inf
    for k in range(1, min(k_max, width)):  # C[e, j - 1, i - 1] for the last cluster [j .. i]
        prev, best = rows(k)
        cand = cost[:, k - 1:, k - 1:] + prev[:, k - 1:width - 1, None]
        tgt = best[:, k:]
        np.minimum(tgt, cand.min(axis=1), out=tgt)
        if splits:
            b[k][:, k:] = np.where(np.isfinite(tgt), cand.argmin(axis=1) + k, 0)
    return (d if costs else d[:0]), b


def _monotone_row(p1: NDArray[np.float64], p2: NDArray[np.float64], prev: NDArray[np.float64],
                  best: NDArray[np.float64], arg: NDArray[np.int32], k: int,
                  n: NDArray[np.int64]) -> None:
    """One row ``D[k]`` of the programme by divide and conquer on the split points.

    The cost of a cluster satisfies the quadrangle inequality, so the leftmost
    optimal start ``B[k][i]`` of the last cluster never decreases with ``i``:
    the optimum at the middle ``m`` of a range of ``i`` bounds the search of
    its two halves.  The recursion runs level by level over every segment at
    once (each segment over its own length ``n``, so the result does not
    depend on the other segments of the chunk); a level is one flat pass over
    at most ``n`` plus the number of ranges candidates per segment, so a row
    costs ``O(n log n)`` instead of ``O(n**2)``.
    """
    # positions in 32 bits when they fit: the level arrays are as long as the segments
    it = np.int32 if max(p1.shape) < 2**30 else np.int64  # a + z stays below 2**31
    tr = np.flatnonzero(n > k).astype(it)  # the segments with k + 1 values or more
    a = np.full(tr.size, k, dtype=it)      # ranges [a, z] of i ...
    z = (n[tr] - 1).astype(it)
    jlo = a.copy()                               # ... and [jlo, jhi] of the start j
    jhi = z.copy()
    while tr.size:
        m = (a + z) // 2
        hi = np.minimum(jhi, m)
        length = hi - jlo + 1
        bj = np.empty(tr.size, dtype=it)
        # the level's candidates, ranges in groups of about _LEVEL_CELLS candidates
        # (a level of one long segment holds about twice its length)
        ends = np.cumsum(length)
        cuts = np.unique(np.searchsorted(ends, np.arange(_LEVEL_CELLS, int(ends[-1]),
                                                         _LEVEL_CELLS), side="right"))
        inner = cuts[(cuts > 0) & (cuts < tr.size)].tolist()
        for g0, g1 in itertools.pairwise([0, *inner, tr.size]):
            ln = length[g0:g1]
            offs = starts_of(ln)
            task = np.repeat(np.arange(ln.size, dtype=it), ln)
            j = jlo[g0:g1][task] + (np.arange(task.size, dtype=it) - offs[task].astype(it))
            r, i = tr[g0:g1][task], m[g0:g1][task]
            a1 = p1[r, i + 1] - p1[r, j]
            cost = (p2[r, i + 1] - p2[r, j]) - a1 * a1 / (i - j + 1).astype(np.float64)
            del a1
            cand = prev[r, j - 1] + np.maximum(cost, 0.0)
            del cost, r, i
            low = np.minimum.reduceat(cand, offs)
            hit = np.flatnonzero(cand == low[task])
            bj[g0:g1] = j[hit[np.concatenate(([True], task[hit][1:] != task[hit][:-1]))]]
            best[tr[g0:g1], m[g0:g1]] = low
        arg[tr, m] = bj
        left, right = a <= m - 1, m + 1 <= z
        tr = np.concatenate([tr[left], tr[right]])
        a, z = np.concatenate([a[left], m[right] + 1]), np.concatenate([m[left] - 1, z[right]])
        jlo = np.concatenate([jlo[left], bj[right]])
        jhi = np.concatenate([bj[left], jhi[right]])


def _cluster_stats(p1: NDArray[np.float64], p2: NDArray[np.float64], b: NDArray[np.int32],
                   n: NDArray[np.int64], k: int) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                          NDArray[np.float64], NDArray[np.float64]]:
    """Starts (E, k), sizes (E, k) and SSE (E, k) of the optimal ``k``-clustering.

    Rows with ``n < k`` are garbage; callers mask them.
    """
    e = n.size
    width = b.shape[2]
    row_at = np.arange(e, dtype=np.int64) * width  # flat offsets: one take per step
    starts = np.zeros((e, k), dtype=np.int64)
    end = n - 1
    ends = np.zeros((e, k), dtype=np.int64)
    for c in range(k - 1, -1, -1):
        ends[:, c] = end
        if c > 0:
            j = b[c].ravel().take(row_at + np.clip(end, 0, width - 1)).astype(np.int64)
            starts[:, c] = j
            end = j - 1
    size = ends - starts + 1
    at = (row_at + np.arange(e, dtype=np.int64))[:, None]  # rows of width + 1 sums
    lo, hi = starts + at, np.maximum(ends, starts) + 1 + at
    f1, f2 = p1.ravel(), p2.ravel()
    a1 = f1.take(hi) - f1.take(lo)
    a2 = f2.take(hi) - f2.take(lo)
    sse = np.maximum(a2 - a1 * a1 / np.maximum(size, 1), 0.0)
    return starts, size, sse, a1 / np.maximum(size, 1)


def gaussian_bic(size: NDArray[np.int64], sse: NDArray[np.float64],
                 n: NDArray[np.int64], var_floor: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""BIC of a hard-assignment Gaussian mixture, one value per row.

    .. math::

        \mathrm{BIC}_k = 2 \sum_c \Big[n_c \ln\frac{n_c}{n} - \frac{n_c}{2}
        \ln(2 \pi v_c) - \frac{\mathrm{SSE}_c}{2 v_c}\Big] - (3k - 1) \ln n,
        \qquad v_c = \max(\mathrm{SSE}_c / n_c,\ v_{\min})

    ``size`` and ``sse`` are (rows, k); ``var_floor`` (rows,) or (rows, k) is
    :math:`v_{\min}`, the variance below which a cluster is no tighter than the
    noise of the data (without it a cluster of tied values, or a single value,
    would have an infinite likelihood).  Larger is better.
    """
    k = size.shape[1]
    nc = np.maximum(size, 1).astype(np.float64)
    floor = var_floor if var_floor.ndim == 2 else var_floor[:, None]
    v = np.maximum(np.maximum(sse / nc, floor), 1e-300)
    ll = nc * np.log(nc / n[:, None]) - 0.5 * nc * np.log(2 * np.pi * v) - sse / (2 * v)
    out: NDArray[np.float64] = 2 * ll.sum(axis=1) - (3 * k - 1) * np.log(n.astype(np.float64))
    return out


def _distinct(values: NDArray[np.float64], starts: NDArray[np.int64]) -> NDArray[np.int64]:
    """Number of distinct values in each (sorted) segment."""
    change = np.ones(values.size, dtype=np.int64)
    change[1:] = values[1:] != values[:-1]
    change[starts] = 1
    out: NDArray[np.int64] = np.add.reduceat(change, starts) if starts.size else change[:0]
    return out


def ckmeans_sse(values: NDArray[np.float64], starts: NDArray[np.int64],
                k_max: int) -> NDArray[np.float64]:
    """Optimal within-cluster sum of squares of every segment for ``k = 1 .. k_max``.

    ``values`` are sorted ascending within each segment; ``starts`` are the
    segment starts (non-empty segments).  Returns ``(n_segments, k_max)``,
    ``inf`` where ``k`` exceeds the segment length.

    Examples
    --------
    >>> import numpy as np
    >>> ckmeans_sse(np.array([1.0, 2.0, 10.0, 11.0]), np.array([0]), 3).round(6).tolist()
    [[82.0, 1.0, 0.5]]
    """
    lengths = _lengths(starts, values.size)
    out = np.full((starts.size, k_max), np.inf)
    for segs, width in _chunks(lengths, k_max):
        p1, p2, _, _ = _padded(values, starts, lengths, segs, width)
        n = lengths[segs]
        k_rows = max(k_max - 1, 1)  # the last level is needed at the last value only
        d, _ = _dp(p1, p2, k_rows, n, splits=False)
        last = np.broadcast_to((n - 1)[None, :, None], (k_rows, segs.size, 1))
        out[segs, :k_rows] = np.take_along_axis(d, last, 2)[:, :, 0].T
        if k_max > 1:
            out[segs, k_max - 1] = _last_cost(p1, p2, d[k_max - 2], n, k_max - 1)
    return out


def explained_share(values: NDArray[np.float64], starts: NDArray[np.int64],
                    k: int) -> NDArray[np.float64]:
    """Share of each segment's variance explained by its optimal ``k`` clusters.

    ``1 - SSE_k / SSE_1`` in ``[0, 1]`` (NaN for a segment without spread or
    shorter than ``k``; exactly 1 for ``k`` values with spread), for values
    sorted ascending within each segment.  ``values`` may be 2-D, one sample
    of the same segments per row (the result is then one row per sample).

    For ``k = 2`` in flat passes without the programme: the two clusters are
    a prefix of ``t`` values and the rest, whose between-cluster sum of
    squares, for values centred on the segment mean with prefix sum
    ``L_t``, is ``L_t**2 * n / (t * (n - t))``; the share is its maximum
    over ``t`` divided by ``SSE_1`` (no difference of sums of squares, so no
    cancellation).  Other ``k`` go through :func:`ckmeans_sse`, all the
    samples at once.

    Examples
    --------
    >>> import numpy as np
    >>> explained_share(np.array([1.0, 2.0, 10.0, 11.0, 3.0, 3.0]), np.array([0, 4]), 2).round(6)
    array([0.987805,        nan])
    """
    x = np.asarray(values, dtype=np.float64)
    rows = x.reshape(-1, x.shape[-1])
    size = rows.shape[1]
    n = _lengths(starts, size)
    out = np.full((rows.shape[0], starts.size), np.nan)
    if k != 2:  # the samples side by side: one programme, as many more segments
        tiled = (starts[None, :] + size * np.arange(rows.shape[0])[:, None]).ravel()
        sse = ckmeans_sse(np.ascontiguousarray(rows).ravel(), tiled, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = 1.0 - sse[:, k - 1] / sse[:, 0]
        share[~np.isfinite(sse[:, k - 1])] = np.nan
        out[:] = share.reshape(out.shape)
    else:
        per = max(1, _BLOCK // rows.shape[0])
        for a, b in segment_blocks(starts, size, per):
            lo, hi = int(starts[a]), (int(starts[b]) if b < starts.size else size)
            step = max(1, _BLOCK // (hi - lo))  # rows at a time: a long segment, fewer rows
            for r in range(0, rows.shape[0], step):
                out[r:r + step, a:b] = _share_two(rows[r:r + step, lo:hi], starts[a:b] - lo,
                                                  n[a:b])
    # a segment of one repeated value has no spread to explain, though rounding
    # in its mean can leave a little (the values are sorted: compare the ends)
    some = np.flatnonzero(n > 0)
    flat_seg = rows[:, starts[some]] == rows[:, starts[some] + n[some] - 1]
    out[:, some] = np.where(flat_seg, np.nan, out[:, some])
    # k clusters of k values explain everything: exactly 1, whatever the rounding
    np.minimum(out, 1.0, out=out)
    full = n == k
    out[:, full] = np.where(np.isnan(out[:, full]), np.nan, 1.0)
    result: NDArray[np.float64] = out.reshape(*x.shape[:-1], starts.size)
    return result


def _share_two(x: NDArray[np.float64], st: NDArray[np.int64],
               n: NDArray[np.int64]) -> NDArray[np.float64]:
    """:func:`explained_share` with ``k = 2`` of the rows of ``x`` (one block)."""
    seg = np.repeat(np.arange(st.size), n)
    nf = n.astype(np.float64)
    xc = x - (np.add.reduceat(x, st, axis=1) / nf)[:, seg]
    tss = np.add.reduceat(xc * xc, st, axis=1)
    # centred prefix sums: the running sum returns to about zero at every
    # start; what is left of the previous segment is taken off
    c = np.cumsum(xc, axis=1, out=xc)
    left = np.zeros((x.shape[0], st.size))
    left[:, 1:] = c[:, st[1:] - 1]
    c -= left[:, seg]
    # the weight n / (t (n - t)) of the split after t values; none for t = n
    t = np.arange(1, x.shape[1] + 1, dtype=np.float64)
    t -= st.astype(np.float64)[seg]
    nn = nf[seg]
    w = t * (nn - t)
    np.divide(nn, w, out=w, where=w > 0)
    w[t >= nn] = 0.0
    c *= c
    c *= w
    with np.errstate(divide="ignore", invalid="ignore"):
        out: NDArray[np.float64] = np.maximum.reduceat(c, st, axis=1) / tss
    return out


def _last_cost(p1: NDArray[np.float64], p2: NDArray[np.float64], prev: NDArray[np.float64],
               n: NDArray[np.int64], k: int) -> NDArray[np.float64]:
    """``D[k][n - 1]`` of every row from ``prev = D[k - 1]``, without the rest of row ``k``.

    The minimum over the start ``j`` of the last cluster ``[j .. n - 1]`` of
    ``prev[j - 1] + cost(j, n - 1)``: one pass over the padded width instead
    of a quadratic one.  The operations are those of the quadratic
    programme of :func:`_dp`, so the value is the same to the last bit (on
    segments longer than ``_WIDE`` it may be lower by rounding noise, where
    the divide and conquer misses a tie).
    """
    e, width = prev.shape
    rows = np.arange(e)
    j = np.arange(width)
    a1 = p1[rows, n][:, None] - p1[:, :width]
    a1 *= a1
    with np.errstate(divide="ignore", invalid="ignore"):  # j >= n: masked below
        a1 /= (n[:, None] - j).astype(np.float64)
    cand = p2[rows, n][:, None] - p2[:, :width]
    cand -= a1
    del a1
    np.maximum(cand, 0.0, out=cand)
    with np.errstate(invalid="ignore"):  # inf + nan past the end: masked below
        cand[:, 1:] += prev[:, :-1]
    cand[:, 0] = np.inf
    cand[(j[None, :] < k) | (j[None, :] > (n - 1)[:, None])] = np.inf
    out: NDArray[np.float64] = cand.min(axis=1)
    return out


def ckmeans_segments(
    values: NDArray[np.float64],
    starts: NDArray[np.int64],
    *,
    k_max: int,
    var_floor: NDArray[np.float64] | float = 0.0,
    k: NDArray[np.int64] | None = None,
    rate_years: float | None = None,
    log_rates: bool = False,
) -> SegmentClusters:
    """Cluster every segment optimally; choose ``k`` by BIC unless given.

    Parameters
    ----------
    values : ndarray of float64
        Sorted ascending within each segment.
    starts : ndarray of int64
        Segment starts (ascending, non-empty segments).
    k_max : int
        Largest number of clusters tried.
    var_floor : float or ndarray
        Variance floor of :func:`gaussian_bic`, one per segment or shared.
    k : ndarray of int64, optional
        Use these numbers of clusters instead of choosing by BIC (clipped to
        each segment's number of distinct values).
    rate_years : float, optional
        The values are rates (events per year) measured over this many years:
        a cluster with mean rate ``m`` cannot be tighter than the Poisson noise
        of a count, so its variance floor rises to ``m / rate_years``
        (``exp(-m) / rate_years`` for log rates, by the delta method).
    log_rates : bool, default False
        The values are natural logs of rates (with ``rate_years``).

    Returns
    -------
    SegmentClusters

    Notes
    -----
    The dynamic programme ``D[k][i] = min_j D[k-1][j-1] + SSE(j..i)`` is exact
    (Wang & Song 2011); with prefix sums of the centred values each ``SSE`` is
    ``O(1)``.  Time per segment of length ``L``: ``O(k_max * L**2)`` up to
    256 values (the quadratic programme, run on whole arrays, fastest for
    short segments), ``O(k_max * L log L)`` beyond (the leftmost optimal
    split points never decrease, so each row is found by divide and conquer;
    same candidates, same tie-break; an ego with a million alters takes a few
    seconds).  Memory ``O(k_max * cells)`` per chunk of about a million padded
    cells; the chunks are independent and run on every core.  ``k`` is
    never larger than the number of distinct values, so tied values share a
    cluster.

    References
    ----------
    .. [1] H. Wang and M. Song, "Ckmeans.1d.dp: Optimal k-means clustering in
       one dimension by dynamic programming", The R Journal 3(2), 29-33
       (2011). doi:10.32614/RJ-2011-015

    Examples
    --------
    >>> import numpy as np
    >>> r = ckmeans_segments(np.array([1.0, 1.1, 5.0, 5.2, 2.0, 2.0, 2.1]),
    ...                      np.array([0, 4]), k_max=3, var_floor=0.01)
    >>> r.k.tolist(), r.labels.tolist()
    ([2, 1], [0, 0, 1, 1, 0, 0, 0])
    """
    values = np.asarray(values, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    n_seg = starts.size
    lengths = _lengths(starts, values.size)
    floor = np.broadcast_to(np.asarray(var_floor, dtype=np.float64), (n_seg,))
    distinct = _distinct(values, starts)
    sse_all = np.full((n_seg, k_max), np.inf)
    bic_all = np.full((n_seg, k_max), -np.inf)
    chosen = np.ones(n_seg, dtype=np.int64)
    labels = np.zeros(values.size, dtype=np.int64)

    def one(chunk: tuple[NDArray[np.int64], int]) -> None:
        segs, width = chunk  # rows and positions of its own: chunks run side by side
        p1, p2, idx, centre = _padded(values, starts, lengths, segs, width)
        n = lengths[segs]
        nd = distinct[segs]
        # no k beyond the chunk's most distinct values is ever chosen: the programme
        # stops there (k beyond a segment's distinct values: SSE 0, BIC -inf, below)
        k_top = min(k_max, int(nd.max()))
        _, b = _dp(p1, p2, k_top, n, costs=False)
        cuts = {}  # the cluster starts of every k, for the labels of the chosen one
        for kk in range(1, min(k_top, int(n.max())) + 1):  # longer k: inf and -inf already
            ok = n >= kk
            cuts[kk], size, sse, cmean = _cluster_stats(p1, p2, b, n, kk)
            tot = np.where(ok, sse.sum(axis=1), np.inf)
            sse_all[segs, kk - 1] = tot
            fl = floor[segs][:, None]
            if rate_years is not None:
                m = cmean + centre[:, None]
                noise = np.exp(-m) if log_rates else np.abs(m)
                fl = np.maximum(fl, noise / rate_years)
            bic = gaussian_bic(size, sse, n, fl)
            bic_all[segs, kk - 1] = np.where(nd >= kk, bic, -np.inf)
        for kk in range(2, k_max + 1):  # more clusters than distinct values: SSE 0
            tied = (nd < kk) & (n >= kk)
            if tied.any():
                sse_all[segs[tied], kk - 1] = 0.0
        if k is None:
            kc = np.argmax(bic_all[segs], axis=1) + 1
        else:
            kc = np.clip(np.asarray(k, dtype=np.int64)[segs], 1, np.minimum(nd, k_max))
        chosen[segs] = kc
        lab = np.zeros((segs.size, width), dtype=np.int64)
        for kk in np.unique(kc):
            rows = np.flatnonzero(kc == kk)
            st = cuts[int(kk)][rows]
            mark = np.zeros((rows.size, width + 1), dtype=np.int64)
            if kk > 1:
                mark[np.repeat(np.arange(rows.size), kk - 1), st[:, 1:].ravel()] = 1
            lab[rows] = np.cumsum(mark[:, :width], axis=1)
        valid = np.arange(width)[None, :] < n[:, None]
        labels[idx[valid]] = lab[valid]

    pmap(one, list(_chunks(lengths, k_max, rank=np.minimum(distinct, k_max))))
    return SegmentClusters(k=chosen, labels=labels, sse=sse_all, bic=bic_all)


def ckmeans(x: NDArray[np.float64], k: int) -> tuple[NDArray[np.int64], float]:
    """Optimal ``k``-clustering of one array: labels (0 = lowest) and its SSE.

    Examples
    --------
    >>> import numpy as np
    >>> lab, sse = ckmeans(np.array([4.0, 1.0, 2.0, 9.0]), 2)
    >>> lab.tolist(), round(sse, 6)
    ([0, 0, 0, 1], 4.666667)
    """
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    r = ckmeans_segments(xs, np.array([0]), k_max=k, k=np.array([k]))
    labels = np.empty(x.size, dtype=np.int64)
    labels[order] = r.labels
    return labels, float(r.sse[0, int(r.k[0]) - 1])
