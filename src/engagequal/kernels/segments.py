"""Segmented reductions over sorted keys."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["group_sorted", "segment_starts", "segmented_median"]


def segment_starts(sorted_keys: NDArray[np.integer]) -> NDArray[np.int64]:
    """Start positions of the runs of equal values in ``sorted_keys``."""
    n = sorted_keys.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    flag = np.empty(n, dtype=bool)
    flag[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=flag[1:])
    return np.flatnonzero(flag)


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
