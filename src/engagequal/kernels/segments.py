"""Segmented reductions over sorted keys, and a fast grouping sort."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["group_sorted", "segment_starts", "segmented_median", "sort_with_order"]


def segment_starts(sorted_keys: NDArray[np.integer]) -> NDArray[np.int64]:
    """Start positions of the runs of equal values in ``sorted_keys``."""
    n = sorted_keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    flag = np.empty(n, dtype=bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    return np.flatnonzero(flag)


def sort_with_order(
    key: NDArray[np.int64], bound: int, *, overwrite: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Sort non-negative ``key`` (all ``< bound``) and return ``(sorted, order)``.

    ``sorted == key[order]``; ties come in no particular order.

    Notes
    -----
    When ``bound`` times the number of keys fits in 63 bits, the position of
    each key is packed into its low bits and one plain (radix / SIMD) sort of
    the packed ``int64`` values replaces the much slower ``argsort``; the
    order is read back from the low bits.  Otherwise ``argsort``.  With
    ``overwrite=True`` the input array is reused for the output.

    Examples
    --------
    >>> import numpy as np
    >>> s, o = sort_with_order(np.array([5, 1, 3, 1]), 6)
    >>> s.tolist(), sorted(o[:2].tolist()), o[2:].tolist()
    ([1, 1, 3, 5], [1, 3], [2, 0])
    """
    n = key.shape[0]
    bits = max(int(n - 1).bit_length(), 1)
    if max(int(bound) - 1, 1).bit_length() + bits <= 63:
        packed = key if overwrite and key.dtype == np.int64 else key.astype(np.int64)
        packed <<= bits
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()
        order = packed & np.int64((1 << bits) - 1)
        packed >>= bits
        return packed, order
    order = np.argsort(key)
    return key[order], order


def group_sorted(keys: NDArray[np.integer]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stable order that groups ``keys`` and the start of each group in it."""
    order = np.argsort(keys, kind="stable")
    return order, segment_starts(keys[order])


def segmented_median(
    values_sorted_within: NDArray[np.float64], starts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Median of each segment of an array already sorted within segments.

    ``starts`` are the segment starts (non-empty segments, ascending).
    """
    n = values_sorted_within.shape[0]
    if starts.size == 0:
        return np.zeros(0, dtype=np.float64)
    ends = np.append(starts[1:], n)
    lo = starts + (ends - starts - 1) // 2
    hi = starts + (ends - starts) // 2
    out: NDArray[np.float64] = (values_sorted_within[lo] + values_sorted_within[hi]) / 2.0
    return out
