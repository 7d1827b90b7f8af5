"""Per-segment ranking by one packed integer sort (no per-ego loop)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.kernels.segments import segment_starts

__all__ = ["segment_order", "segment_ranks"]


def segment_order(seg: NDArray[np.integer], value: NDArray[np.float64], *,
                  descending: bool = False) -> NDArray[np.int64]:
    """The order that sorts the entries by segment, then ``value``: ``np.lexsort((value, seg))``.

    ``seg`` must be sorted ascending (entries of one segment contiguous).
    The order is stable: tied values keep their input order, so input
    sorted by ``(seg, alter)`` breaks ties by the smaller alter.  With
    ``descending`` the largest value of a segment comes first.

    Notes
    -----
    Each value is replaced by its dense rank (the values are hashed, and
    only the distinct ones sorted); segment, dense rank and position are
    then packed into one unique ``int64`` key, so a single unstable integer
    sort orders everything exactly (the order is read back from the low
    bits).  When the three do not fit in 63 bits a stable
    ``numpy.lexsort`` does the same.  ``O(n log n)``.

    Examples
    --------
    >>> import numpy as np
    >>> segment_order(np.array([0, 0, 0, 1, 1]), np.array([1.0, 3.0, 1.0, 2.0, 5.0])).tolist()
    [0, 2, 1, 3, 4]
    """
    n = seg.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    dense, n_distinct = _dense_descending(value)
    if not descending:
        dense = (n_distinct - 1) - dense
    b_pos = max(int(n - 1).bit_length(), 1)
    b_val = max(int(n_distinct - 1).bit_length(), 1)
    b_seg = max(int(seg[-1]).bit_length(), 1)
    if b_pos + b_val + b_seg > 63 or int(seg[0]) < 0:
        out: NDArray[np.int64] = np.lexsort((dense, seg))
        return out
    key = (seg.astype(np.int64) << (b_val + b_pos)) | (dense << b_pos)
    key |= np.arange(n, dtype=np.int64)
    key.sort()  # the keys are unique: a plain sort, the order read from the low bits
    key &= np.int64((1 << b_pos) - 1)
    return key


def segment_ranks(seg: NDArray[np.integer], value: NDArray[np.float64]) -> NDArray[np.int64]:
    """Rank of every entry within its segment, by ``value`` descending (1 = largest).

    ``seg`` must be sorted ascending (entries of one segment contiguous); ties
    in ``value`` are ranked in input order, so input sorted by ``(seg, alter)``
    breaks ties by the smaller alter.  The order is :func:`segment_order`'s.

    Examples
    --------
    >>> import numpy as np
    >>> segment_ranks(np.array([0, 0, 0, 1, 1]), np.array([1.0, 3.0, 1.0, 2.0, 5.0])).tolist()
    [2, 1, 3, 2, 1]
    """
    n = seg.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = segment_order(seg, value, descending=True)
    starts = segment_starts(seg)  # seg is sorted: sorting by it first leaves it in place
    run = np.zeros(n, dtype=np.int64)
    run[starts] = starts
    np.maximum.accumulate(run, out=run)
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1, dtype=np.int64) - run
    return ranks


def _dense_descending(value: NDArray[np.float64]) -> tuple[NDArray[np.int64], int]:
    """Dense rank of every value, largest first (0-based), and the number of distinct values.

    The values are hashed (Arrow dictionary encoding), only the distinct ones
    are sorted, and the ranks are read through one gather: linear in the
    values, where a binary search of every value among the distinct ones
    costs a branch miss per step.  ``-0.0`` counts as ``0.0``.

    Examples
    --------
    >>> import numpy as np
    >>> d, k = _dense_descending(np.array([2.0, 5.0, 2.0, -0.0, 0.0]))
    >>> d.tolist(), k
    ([1, 0, 1, 2, 2], 3)
    """
    enc = pc.dictionary_encode(pa.array(value + 0.0))  # + 0.0: -0.0 becomes 0.0
    distinct = enc.dictionary.to_numpy()
    rank = np.empty(distinct.size, dtype=np.int64)
    rank[np.argsort(distinct)[::-1]] = np.arange(distinct.size, dtype=np.int64)
    idx = enc.indices.to_numpy().astype(np.intp)
    return np.take(rank, idx, mode="clip"), int(distinct.size)
