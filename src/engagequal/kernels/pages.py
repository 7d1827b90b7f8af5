"""Page hints for the kernels' scratch memory: small pages while events are ingested.

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``)
on every large array.  Where the system's huge-page defragmentation policy is
``madvise`` (the common default) a fault on such an array may stall in direct
compaction until a free 2 MiB page is assembled.  Ingest allocates a few
hundred MB of short-lived, sequentially written arrays (offsets, codes, parent
positions, lookup tables), and on a busy machine those stalls made it up to
twice as slow, with seconds of system time.  Inside :func:`small_pages` numpy
leaves the hint off; the random-access kernels after ingest (grouped
reductions, tree statistics), which gain from huge pages, keep numpy's choice.

The hint is left alone when the user chose it through numpy's own
``NUMPY_MADVISE_HUGEPAGE`` environment variable, or through
``ENGAGEQUAL_HUGE_PAGES=1`` (keep numpy's default everywhere).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["small_pages"]

_lock = threading.Lock()
_depth = 0
_saved = True


def _setter() -> Callable[[bool], bool] | None:
    """numpy's switch for the hint, or None when it is the user's (or absent)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ or os.environ.get("ENGAGEQUAL_HUGE_PAGES") == "1":
        return None
    try:
        from numpy._core import multiarray
    except ImportError:  # another numpy layout: leave numpy's choice
        return None
    setter: Callable[[bool], bool] | None = getattr(multiarray, "_set_madvise_hugepage", None)
    return setter


@contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, numpy does not ask for huge pages (nested and thread safe).

    Only where memory comes from changes: results are identical.

    Examples
    --------
    >>> import numpy as np
    >>> with small_pages():
    ...     x = np.zeros(1 << 22)
    >>> float(x.sum())
    0.0
    """
    global _depth, _saved
    setter = _setter()
    if setter is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = bool(setter(False))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                setter(_saved)
