"""Directed dyads: every ordered pair's weight, count and first / last contact."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from engagequal.kernels.segments import segment_starts

__all__ = ["Dyads", "aggregate_dyads", "reverse_index"]


@dataclass(frozen=True, eq=False)
class Dyads:
    """Directed dyads sorted by ``(u, v)``; self-pairs excluded.

    ``w`` is the summed (possibly decayed) weight, ``n`` the event count,
    ``first`` / ``last`` the earliest / latest contact in nanoseconds.
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


def aggregate_dyads(
    actor: NDArray[np.int32],
    target: NDArray[np.int32],
    weight: NDArray[np.float64],
    ts: NDArray[np.int64],
    n_users: int,
) -> Dyads:
    """Sum events into directed dyads.

    Self-interactions and events without a target (``target < 0``) are skipped.

    Notes
    -----
    One sort of a packed ``int64`` key ``u * n_users + v``, then segmented sums
    (``np.add.reduceat``), minima and maxima: ``O(n log n)`` time and a few
    arrays of ``n`` entries.

    Examples
    --------
    >>> import numpy as np
    >>> d = aggregate_dyads(np.array([0, 0, 1]), np.array([1, 1, 0]),
    ...                     np.array([1.0, 2.0, 5.0]), np.array([5, 3, 9]), 2)
    >>> d.u.tolist(), d.v.tolist(), d.w.tolist(), d.n.tolist(), d.first.tolist()
    ([0, 1], [1, 0], [3.0, 5.0], [2, 1], [3, 9])
    """
    keep = (actor != target) & (target >= 0)
    if not keep.all():
        actor, target, weight, ts = actor[keep], target[keep], weight[keep], ts[keep]
    key = actor.astype(np.int64) * np.int64(n_users) + target.astype(np.int64)
    order = np.argsort(key)
    ks = key[order]
    starts = segment_starts(ks)
    if starts.size == 0:
        z32 = np.zeros(0, np.int32)
        z64 = np.zeros(0, np.int64)
        return Dyads(z32, z32, np.zeros(0), z64, z64, z64, n_users)
    uk = ks[starts]
    w = np.add.reduceat(weight[order], starts)
    ts_o = ts[order]
    first = np.minimum.reduceat(ts_o, starts)
    last = np.maximum.reduceat(ts_o, starts)
    n = np.diff(np.append(starts, ks.size)).astype(np.int64)
    return Dyads(
        u=(uk // n_users).astype(np.int32),
        v=(uk % n_users).astype(np.int32),
        w=w,
        n=n,
        first=first,
        last=last,
        n_users=n_users,
    )


def reverse_index(d: Dyads) -> NDArray[np.int64]:
    """Position of the reverse dyad ``(v, u)`` of every dyad, ``-1`` if absent."""
    if len(d) == 0:
        return np.zeros(0, dtype=np.int64)
    nu = np.int64(d.n_users)
    key = d.u.astype(np.int64) * nu + d.v
    rkey = d.v.astype(np.int64) * nu + d.u
    pos = np.searchsorted(key, rkey)
    pos = np.minimum(pos, key.size - 1)
    return np.where(key[pos] == rkey, pos, -1).astype(np.int64)
