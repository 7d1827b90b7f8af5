"""Both cores for the kernels: one shared thread pool and the rules for using it.

numpy releases the GIL inside sorts, ``take``, ufuncs and reductions over
large arrays, and Arrow compute releases it too, so kernels split their work
into a few independent pieces (halves of the events, key ranges of a
partition) and run the pieces on threads.  Results never depend on the number
of threads: pieces are cut at group boundaries and combined in a fixed order.

The number of threads is, in order of precedence, the value given to
:func:`set_num_threads`, the ``ENGAGEQUAL_NUM_THREADS`` environment variable,
or the number of cores this process may run on.  Work is split only when it is
requested from the main thread: kernels called from other threads (a Dask
worker's, a web server's, this pool's own) run serially, so that nested or
concurrent callers never oversubscribe the cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["aside", "both", "chunk_bounds", "get_num_threads", "num_threads", "pmap",
           "set_num_threads", "workers"]

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
B = TypeVar("B")

#: below this many elements a piece is not worth a thread
MIN_PIECE = 1 << 18

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_chosen: int | None = None


def _cores() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


def get_num_threads() -> int:
    """The number of threads the kernels use.

    Examples
    --------
    >>> import engagequal as eq
    >>> eq.get_num_threads() >= 1
    True
    """
    if _chosen is not None:
        return _chosen
    env = os.environ.get("ENGAGEQUAL_NUM_THREADS", "").strip()
    if env:
        try:
            return max(int(env), 1)
        except ValueError:
            pass
    return _cores()


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the kernels use (``None``: back to the default).

    Parameters
    ----------
    n : int or None
        At least 1; 1 runs every kernel serially.

    Examples
    --------
    >>> import engagequal as eq
    >>> before = eq.get_num_threads()
    >>> eq.set_num_threads(1); eq.get_num_threads()
    1
    >>> eq.set_num_threads(None); eq.get_num_threads() == before
    True
    """
    global _chosen
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        from engagequal.errors import OptionError

        raise OptionError(f"the number of threads must be an int >= 1, got {n!r}")
    _chosen = n


@contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` threads inside a ``with`` block.

    Examples
    --------
    >>> import engagequal as eq
    >>> with eq.num_threads(1):
    ...     eq.get_num_threads()
    1
    """
    global _chosen
    before = _chosen
    set_num_threads(n)
    try:
        yield
    finally:
        _chosen = before


def workers(size: int) -> int:
    """How many pieces to cut ``size`` elements into from the calling thread."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, min(get_num_threads(), size // MIN_PIECE))


def chunk_bounds(size: int, pieces: int) -> list[tuple[int, int]]:
    """``pieces`` contiguous ``(start, stop)`` ranges covering ``range(size)``.

    Examples
    --------
    >>> chunk_bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    pieces = max(1, min(pieces, size)) if size else 1
    q, r = divmod(size, pieces)
    out, start = [], 0
    for i in range(pieces):
        stop = start + q + (1 if i < r else 0)
        out.append((start, stop))
        start = stop
    return out


def _executor(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="engagequal")
            _pool_size = n
        return _pool


def pmap(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]``, on the pool when there is more than one item.

    The results keep the order of ``items``; the first exception raised by
    ``fn`` is raised here.

    Examples
    --------
    >>> pmap(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    if len(items) <= 1 or get_num_threads() == 1 \
            or threading.current_thread() is not threading.main_thread():
        return [fn(x) for x in items]
    return list(_executor(min(len(items), get_num_threads())).map(fn, items))


def aside(fn: Callable[[], R]) -> Callable[[], R]:
    """Start ``fn()`` on the pool; return a function that waits for its result.

    For work the caller does not need until later (gathering output ids
    while the next kernel runs on the calling thread).  Under the rules of
    :func:`pmap` (one thread, or a call from outside the main thread) nothing
    starts: ``fn`` itself is returned, to run when its result is asked for.
    An exception raised by ``fn`` is raised by the returned function.

    Examples
    --------
    >>> ids = aside(lambda: [1, 2])
    >>> ids()
    [1, 2]
    """
    if get_num_threads() == 1 or threading.current_thread() is not threading.main_thread():
        return fn
    return _executor(get_num_threads()).submit(fn).result


def both(f: Callable[[], A], g: Callable[[], B]) -> tuple[A, B]:
    """``(f(), g())``, side by side on the pool (``f``'s exception first).

    Examples
    --------
    >>> both(lambda: 1, lambda: "two")
    (1, 'two')
    """
    a, b = pmap(lambda h: h(), [f, g])
    return a, b  # type: ignore[return-value]
