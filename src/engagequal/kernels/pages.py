"""Memory pages of the kernels' scratch arrays: small pages inside every public call,
and freed memory handed back between the batches of a stream.

numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``)
on every large array.  A fault in such an array finds, clears and maps a whole
2 MiB page at once, after compacting memory where it is fragmented, and on a
virtual machine the host may have to back the page as well.  Ingest allocates
a few hundred MB of short-lived, sequentially written arrays (offsets, codes,
parent positions, lookup tables); on the 2-core test machine those faults made
it up to 1.7 times slower, with twice the system time.  The kernels after
ingest fare no better: with the kernel's default ``defrag=madvise`` a fault
in a hinted array compacts memory synchronously, and the conversation tables
of 10M events took 5.6 s in a fresh process with the hint against 3.4 to 4.1 s
without it, and no less in later calls (the whole conversation stage of the
benchmark 6.6 s against 5.2 s, ``analyze`` of reciprocity, conversations and
rank layers 6.8 s against 5.3 s).  So every public entry point (``analyze``,
the metric functions, the stream) runs inside :func:`small_pages`, where numpy
leaves the hint off.

The hint is left alone when the user chose it through numpy's own
``NUMPY_MADVISE_HUGEPAGE`` environment variable, or through
``ENGAGEQUAL_HUGE_PAGES=1`` (keep numpy's default everywhere).

Arrow's default allocator in the wheels, mimalloc, commits its arenas a
gigabyte at a time on this kind of machine, backed by huge pages when the
host has them free and by compaction when it has not: the same 10M-event
Parquet read took 0.25 s or 0.6 to 0.9 s (three times the system time) from
one fresh process to the next.  jemalloc, Arrow's other allocator, read
steadily (0.30 to 0.37 s) but keeps what Arrow frees for about a second
(``dirty_decay_ms:1000`` in the wheels; ``release_unused`` does not hand it
back): after reading 10M events with reply trees the process held 173 bytes
per event for 64 bytes of live arrays, and the kernels' numpy arrays, which
come from the C allocator, could not reuse any of it.  Inside
:func:`small_pages` Arrow therefore allocates from the C allocator (Arrow's
``system`` pool), where numpy allocates too: the large buffers a read frees
are unmapped at once and the small ones are reused by numpy.  After the same
read the process holds 105 to 111 bytes per event, and the reciprocity
tables' peak falls from 106 to 84 bytes per event, with no loss of speed.
Allocations Arrow's C++ code makes for itself (about 20 bytes per event of
a read) still come from its default pool, which only the environment
variable ``ARROW_DEFAULT_MEMORY_POOL=system``, set before pyarrow is
imported, can change: with it the read holds 85 bytes per event and the
reciprocity tables peak at 73.  The pool is
left alone when the user chose it (``ARROW_DEFAULT_MEMORY_POOL``, or
``ENGAGEQUAL_HUGE_PAGES=1``).  Buffers keep the pool they came from, so
switching back later is safe.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

__all__ = ["arrow_pool", "release_memory", "small_pages"]

_lock = threading.Lock()
_depth = 0
_saved = True
_pool_depth = 0
_saved_pool: Any = None


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


def _arrow_pools() -> tuple[Any, Any] | None:
    """(default pool, system pool) when Arrow should switch, else None."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ or os.environ.get("ENGAGEQUAL_HUGE_PAGES") == "1":
        return None
    import pyarrow as pa

    default = pa.default_memory_pool()
    if default.backend_name == "system":
        return None
    return default, pa.system_memory_pool()


@contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, numpy does not ask for huge pages and Arrow allocates from
    the C allocator, as numpy does (nested and thread safe).

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
    with _lock:
        if _depth == 0 and setter is not None:
            _saved = bool(setter(False))
        _depth += 1
    try:
        with arrow_pool():
            yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and setter is not None:
                setter(_saved)


@contextmanager
def arrow_pool() -> Iterator[None]:
    """Within the block, Arrow allocates from the C allocator, as numpy does (see
    the module notes; nested and thread safe).  Used alone where only Arrow reads,
    as between the batches of a stream.

    Examples
    --------
    >>> import pyarrow as pa
    >>> with arrow_pool():
    ...     n = len(pa.array(range(1000)))
    >>> n
    1000
    """
    global _pool_depth, _saved_pool
    with _lock:
        if _pool_depth == 0:
            pools = _arrow_pools()
            _saved_pool = None
            if pools is not None:
                import pyarrow as pa

                _saved_pool = pools[0]
                pa.set_memory_pool(pools[1])
        _pool_depth += 1
    try:
        yield
    finally:
        with _lock:
            _pool_depth -= 1
            if _pool_depth == 0 and _saved_pool is not None:
                import pyarrow as pa

                pa.set_memory_pool(_saved_pool)
                _saved_pool = None


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere)."""
    try:
        import ctypes

        fn: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return fn


def release_memory() -> None:
    """Hand memory freed by the last step back to the system.

    A long stream allocates and frees event-sized arrays batch after batch;
    glibc keeps freed blocks below its ``mmap`` threshold in the heap, where
    they fragment it and stay resident.  Between batches the stream returns
    them (``malloc_trim``, as Dask's workers do) along with Arrow's unused
    pool memory.  Results are unaffected.

    Examples
    --------
    >>> release_memory()
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
