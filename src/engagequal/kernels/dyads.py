"""Dyads: directed ``(u, v)`` sums and unordered pair tables, from events.

Two shapes of the same aggregation:

* :class:`Dyads`, one row per ordered pair ``u -> v`` sorted by ``(u, v)``:
  the mergeable partial state (weights add, counts add, first / last take
  min / max) that streaming and Dask reduce;
* :class:`Pairs`, one row per unordered pair ``u < v`` with both directions
  side by side: what every reciprocity table is computed from, with no
  search for reverse dyads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from engagequal.kernels.groups import KeyFn, group_reduce
from engagequal.kernels.segments import running_count, sort_with_order

__all__ = ["Dyads", "Pairs", "Reverses", "aggregate_dyads", "aggregate_pairs", "pairs_from_dyads",
           "reverse_pairs"]

_Z32 = np.zeros(0, np.int32)
_Z64 = np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class Dyads:
    """Directed dyads sorted by ``(u, v)``; self-pairs excluded.

    ``w`` is the summed (possibly decayed) weight, ``n`` the event count,
    ``first`` / ``last`` the earliest / latest contact in nanoseconds (empty
    when the aggregation was asked for no times).
    """

    u: NDArray[np.int32]
    v: NDArray[np.int32]
    w: NDArray[np.float64]
    n: NDArray[np.int64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]
    n_users: int

    def __len__(self) -> int:
        return int(self.u.shape[0])

    def matrix(self) -> sp.csr_matrix:
        """The weighted adjacency matrix ``W[u, v] = w(u, v)`` (CSR)."""
        return sp.csr_matrix((self.w, (self.u, self.v)), shape=(self.n_users, self.n_users))


@dataclass(frozen=True, eq=False)
class Pairs:
    """Unordered pairs ``u < v`` (codes) with at least one event, sorted by ``(u, v)``.

    ``w_uv`` / ``w_vu`` are the summed weights of each direction (0 when that
    direction has no event), ``n_uv`` / ``n_vu`` the event counts, ``first`` /
    ``last`` the earliest / latest contact either way in nanoseconds.
    """

    u: NDArray[np.int32]
    v: NDArray[np.int32]
    w_uv: NDArray[np.float64]
    w_vu: NDArray[np.float64]
    n_uv: NDArray[np.int64]
    n_vu: NDArray[np.int64]
    first: NDArray[np.int64]
    last: NDArray[np.int64]
    n_users: int

    def __len__(self) -> int:
        return int(self.u.shape[0])


def _bits(n_users: int) -> int:
    return max(int(n_users - 1).bit_length(), 1)


def _key_fn(
    actor: NDArray[np.int32], target: NDArray[np.int32], b: int, *, unordered: bool
) -> tuple[KeyFn, int]:
    """Per-chunk event keys: ``u << b | v`` (directed) or ``(min << b | max) << 1 | (a > t)``
    (unordered, the direction in the low bit); self-interactions and events
    without a target get the dropping key ``bound``."""
    bound = 1 << (2 * b + (1 if unordered else 0))
    missing = bool(target.size) and int(target.min()) < 0

    def keys(start: int, stop: int) -> NDArray[np.int64]:
        x, y = actor[start:stop], target[start:stop]
        drop = x == y
        if missing:
            drop |= y < 0
        if unordered:
            k = np.minimum(x, y).astype(np.int64)
            k <<= b
            k |= np.maximum(x, y)
            k <<= 1
            k |= x > y
        else:
            k = x.astype(np.int64)
            k <<= b
            k |= y
        np.putmask(k, drop, bound)
        return k

    return keys, bound


def aggregate_dyads(
    actor: NDArray[np.int32],
    target: NDArray[np.int32],
    weight: NDArray[np.float64],
    ts: NDArray[np.int64] | None,
    n_users: int,
) -> Dyads:
    """Sum events into directed dyads.

    Self-interactions and events without a target (``target < 0``) are skipped.
    With ``ts`` None, ``first`` and ``last`` are left empty (not computed).

    Notes
    -----
    One grouped reduction over the packed ``int64`` key ``u << b | v``
    (:func:`~engagequal.kernels.groups.group_reduce`: one plain sort per key
    range, on every core, then ``reduceat`` over the runs): a few linear
    passes besides the sort, and memory access independent of row order.

    Examples
    --------
    >>> import numpy as np
    >>> d = aggregate_dyads(np.array([0, 0, 1]), np.array([1, 1, 0]),
    ...                     np.array([1.0, 2.0, 5.0]), np.array([5, 3, 9]), 2)
    >>> d.u.tolist(), d.v.tolist(), d.w.tolist(), d.n.tolist(), d.first.tolist()
    ([0, 1], [1, 0], [3.0, 5.0], [2, 1], [3, 9])
    """
    b = _bits(n_users)
    keys, bound = _key_fn(actor, target, b, unordered=False)
    g = group_reduce(actor.shape[0], keys, bound, weight, ts)
    if len(g) == 0:
        return Dyads(_Z32, _Z32, np.zeros(0), _Z64, _Z64, _Z64, n_users)
    return Dyads(u=(g.key >> b).astype(np.int32), v=(g.key & ((1 << b) - 1)).astype(np.int32),
                 w=g.w, n=g.n, first=g.first, last=g.last, n_users=n_users)


def aggregate_pairs(
    actor: NDArray[np.int32],
    target: NDArray[np.int32],
    weight: NDArray[np.float64],
    ts: NDArray[np.int64] | None,
    n_users: int,
) -> Pairs:
    """Sum events into unordered pairs with both directions side by side.

    Self-interactions and events without a target are skipped.  With ``ts``
    None, ``first`` and ``last`` are left empty (not computed).

    Notes
    -----
    The events are grouped by the packed key ``(min(a, t), max(a, t), a > t)``
    (:func:`~engagequal.kernels.groups.group_reduce`): each pair's two
    directions come out as neighbouring groups, so both directions and the
    pair-wide first and last contact follow from per-group reductions and no
    reverse dyad is ever searched for.  Linear passes besides one sort of
    ``int64`` values per key range, on every core.

    Examples
    --------
    >>> import numpy as np
    >>> p = aggregate_pairs(np.array([0, 2, 0, 1]), np.array([2, 0, 2, 0]),
    ...                     np.array([1.0, 4.0, 2.0, 5.0]), np.array([5, 3, 9, 1]), 3)
    >>> p.u.tolist(), p.v.tolist(), p.w_uv.tolist(), p.w_vu.tolist(), p.n_uv.tolist()
    ([0, 0], [1, 2], [0.0, 3.0], [5.0, 4.0], [0, 2])
    >>> p.first.tolist(), p.last.tolist()
    ([1, 3], [1, 9])
    """
    b = _bits(n_users)
    keys, bound = _key_fn(actor, target, b, unordered=True)
    g = group_reduce(actor.shape[0], keys, bound, weight, ts)
    if len(g) == 0:
        return Pairs(_Z32, _Z32, np.zeros(0), np.zeros(0), _Z64, _Z64, _Z64, _Z64, n_users)
    pk = g.key >> 1                      # pair keys; the two directions are neighbours
    rev = (g.key & 1).astype(bool)       # a v -> u group
    flag = np.empty(pk.size, dtype=bool)
    flag[0] = True
    np.not_equal(pk[1:], pk[:-1], out=flag[1:])
    ps = np.flatnonzero(flag)
    pid = running_count(flag, np.intp)
    pid -= 1
    npairs = ps.size
    fwd = ~rev
    w_uv, w_vu = np.zeros(npairs), np.zeros(npairs)
    n_uv, n_vu = np.zeros(npairs, np.int64), np.zeros(npairs, np.int64)
    w_uv[pid[fwd]], n_uv[pid[fwd]] = g.w[fwd], g.n[fwd]
    w_vu[pid[rev]], n_vu[pid[rev]] = g.w[rev], g.n[rev]
    if ts is not None:
        first, last = np.minimum.reduceat(g.first, ps), np.maximum.reduceat(g.last, ps)
    else:
        first = last = _Z64
    pk = pk[ps]
    return Pairs(u=(pk >> b).astype(np.int32), v=(pk & ((1 << b) - 1)).astype(np.int32),
                 w_uv=w_uv, w_vu=w_vu, n_uv=n_uv, n_vu=n_vu, first=first, last=last,
                 n_users=n_users)


def pairs_from_dyads(d: Dyads) -> Pairs:
    """Unordered pairs from directed dyads (e.g. a merged streaming state).

    Examples
    --------
    >>> import numpy as np
    >>> d = aggregate_dyads(np.array([0, 1, 2]), np.array([1, 0, 0]),
    ...                     np.array([1.0, 2.0, 3.0]), np.array([4, 5, 6]), 3)
    >>> p = pairs_from_dyads(d)
    >>> p.u.tolist(), p.v.tolist(), p.w_uv.tolist(), p.w_vu.tolist(), p.last.tolist()
    ([0, 0], [1, 2], [1.0, 0.0], [2.0, 3.0], [5, 6])
    """
    keep = d.u != d.v
    if not keep.all():
        d = Dyads(d.u[keep], d.v[keep], d.w[keep], d.n[keep], d.first[keep], d.last[keep],
                  d.n_users)
    if len(d) == 0:
        return Pairs(_Z32, _Z32, np.zeros(0), np.zeros(0), _Z64, _Z64, _Z64, _Z64, d.n_users)
    # every dyad is one "event" of weight w; count and times carried by position
    pos = np.arange(len(d), dtype=np.int64)
    p = aggregate_pairs(d.u, d.v, pos.astype(np.float64), None, d.n_users)
    # p.w_uv / p.w_vu hold the position (+ nothing else: one dyad per direction)
    has_uv, has_vu = p.n_uv > 0, p.n_vu > 0
    iu = np.where(has_uv, p.w_uv, 0).astype(np.int64)
    iv = np.where(has_vu, p.w_vu, 0).astype(np.int64)
    w_uv = np.where(has_uv, d.w[iu], 0.0)
    w_vu = np.where(has_vu, d.w[iv], 0.0)
    n_uv = np.where(has_uv, d.n[iu], 0)
    n_vu = np.where(has_vu, d.n[iv], 0)
    big, small = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    first = np.minimum(np.where(has_uv, d.first[iu], big), np.where(has_vu, d.first[iv], big))
    last = np.maximum(np.where(has_uv, d.last[iu], small), np.where(has_vu, d.last[iv], small))
    return Pairs(p.u, p.v, w_uv, w_vu, n_uv, n_vu, first, last, d.n_users)


@dataclass(frozen=True, eq=False)
class Reverses:
    """Which of ``n`` pairs have their reverse: the pair at ``fwd[i]`` and the
    pair at ``back[i]`` are each other's reverse (a self-pair is listed with
    itself).  From :func:`reverse_pairs`."""

    fwd: NDArray[np.int64]
    back: NDArray[np.int64]
    n: int

    def has(self) -> NDArray[np.bool_]:
        """Whether each pair has its reverse."""
        out = np.zeros(self.n, dtype=bool)
        out[self.fwd] = True
        out[self.back] = True
        return out

    def of(self, x: NDArray[Any], fill: Any = 0) -> NDArray[Any]:
        """``x`` (one value per pair) at each pair's reverse, ``fill`` where it has none."""
        out = np.full(self.n, fill, dtype=x.dtype)
        out[self.fwd] = x[self.back]
        out[self.back] = x[self.fwd]
        return out

    def index(self) -> NDArray[np.int64]:
        """Position of each pair's reverse, ``-1`` where it has none."""
        return self.of(np.arange(self.n, dtype=np.int64), fill=-1)


def reverse_pairs(u: NDArray[np.int32], v: NDArray[np.int32], n_users: int) -> Reverses:
    """The pairs of ``(u, v)`` that have their reverse ``(v, u)``.

    ``(u, v)`` must hold no pair twice (the columns of :class:`Dyads`, or any
    subset of them); their order does not matter.

    Notes
    -----
    Both directions of a pair share the unordered key ``min << b | max``:
    one plain ``int64`` sort of those keys, with the positions packed in
    (:func:`~engagequal.kernels.segments.sort_with_order`), puts each pair
    next to its reverse.  No search: one sort and linear passes.

    Examples
    --------
    >>> import numpy as np
    >>> r = reverse_pairs(np.array([0, 0, 1, 2]), np.array([1, 2, 0, 1]), 3)
    >>> r.fwd.tolist(), r.back.tolist(), r.index().tolist()
    ([0], [2], [2, -1, 0, -1])
    >>> r.of(np.array([1.5, 2.0, 4.0, 8.0])).tolist()
    [4.0, 0.0, 1.5, 0.0]
    """
    m = u.shape[0]
    own = np.flatnonzero(u == v)
    if m == 0 or own.size == m:
        return Reverses(own, own, m)
    b = _bits(n_users)
    key = np.minimum(u, v).astype(np.int64)
    key <<= b
    key |= np.maximum(u, v)
    s, order = sort_with_order(key, 1 << (2 * b), overwrite=True)
    twin = np.flatnonzero(s[1:] == s[:-1])  # the two directions of one pair
    fwd, back = order[twin], order[twin + 1]
    if own.size:
        fwd, back = np.concatenate([fwd, own]), np.concatenate([back, own])
    return Reverses(fwd, back, m)
