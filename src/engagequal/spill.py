"""The streamed thread table on disk: sorted runs, merged into one memory-mapped file.

The thread table has one row per thread, so it grows with the stream, unlike
every other streamed table (users, dyads, open threads).  With
``engagequal.analyze_stream(..., spill=folder)`` the rows of completed threads
leave memory as the stream goes:

1. rows are buffered until about a million, sorted by thread id and written
   as a *run* (an Arrow IPC file of small record batches);
2. at the end the runs are merged by ranges of thread ids: every run is sorted,
   so each range is a contiguous slice of each run, read batch by batch with
   plain file reads (no mapping, so nothing read stays resident);
3. the merged table is written to ``folder/threads.arrow`` and opened
   memory-mapped: the report's thread table costs page cache, not process
   memory, until its pages are read.

Memory during the merge: the thread ids of every run (8 bytes a thread for
integer ids) and one range of rows.
"""

from __future__ import annotations

import itertools
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import OptionError

__all__ = ["ThreadSpill"]

#: rows buffered before a run is written, and rows per merged range
RUN_ROWS = 1 << 20
#: rows per record batch of a run file (the unit of a read)
BATCH_ROWS = 1 << 16
#: keep every ``SAMPLE``-th id of each run to choose the merge ranges
SAMPLE = 64


def _ids(col: pa.ChunkedArray | pa.Array) -> NDArray[np.generic]:
    """Thread ids as a numpy array that sorts and searches like the ids."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_integer(arr.type):
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(arr.to_pylist(), dtype=object)  # strings: Python comparisons


class ThreadSpill:
    """Rows of completed threads, kept in sorted runs under ``folder``.

    Parameters
    ----------
    folder : path
        Created if absent.  Holds ``run-*.arrow`` while the stream runs and
        ``threads.arrow`` (the merged table) afterwards.

    Examples
    --------
    >>> import tempfile
    >>> import pyarrow as pa
    >>> s = ThreadSpill(tempfile.mkdtemp())
    >>> s.add(pa.table({"thread": [5, 1], "size": [2, 1]}))
    >>> s.add(pa.table({"thread": [3], "size": [4]}))
    >>> s.table().to_pydict()
    {'thread': [1, 3, 5], 'size': [1, 4, 2]}
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.out = self.folder / "threads.arrow"
        if self.out.exists() or any(self.folder.glob("run-*.arrow")):
            raise OptionError(f"spill folder {str(self.folder)!r} already holds a thread "
                              "table; give an empty or new folder")
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._runs: list[tuple[Path, NDArray[np.generic]]] = []
        self.schema: pa.Schema | None = None

    def add(self, table: pa.Table) -> None:
        """Take the thread rows of a group of completed threads."""
        if self.schema is None:
            self.schema = table.schema
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= RUN_ROWS:
            self._write_run()

    def _write_run(self) -> None:
        if not self._pending:
            return
        t = pa.concat_tables(self._pending).sort_by("thread")
        self._pending, self._pending_rows = [], 0
        path = self.folder / f"run-{len(self._runs):06d}.arrow"
        with pa.OSFile(str(path), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
            w.write_table(t, max_chunksize=BATCH_ROWS)
        self._runs.append((path, _ids(t.column("thread"))))

    def table(self) -> pa.Table:
        """The merged thread table, sorted by thread id (memory-mapped from disk
        when any run was written)."""
        if not self._runs:  # everything fitted in one buffer: no files
            if not self._pending:
                return (self.schema or pa.schema([("thread", pa.int64())])).empty_table()
            t = pa.concat_tables(self._pending).sort_by("thread")
            self._pending = []
            return t
        self._write_run()
        assert self.schema is not None
        bounds = self._bounds()
        with ExitStack() as files:
            readers = [pa.ipc.open_file(files.enter_context(pa.OSFile(str(p))))
                       for p, _ in self._runs]
            f = files.enter_context(pa.OSFile(str(self.out), "wb"))
            w = files.enter_context(pa.ipc.new_file(f, self.schema))
            for lo, hi in itertools.pairwise(bounds):
                parts = [self._slice(r, ids, lo, hi)
                         for r, (_, ids) in zip(readers, self._runs, strict=True)]
                part = pa.concat_tables([p for p in parts if p.num_rows] or [parts[0]])
                w.write_table(part.sort_by("thread"), max_chunksize=BATCH_ROWS)
        for p, _ in self._runs:
            p.unlink()
        self._runs = []
        return pa.ipc.open_file(pa.memory_map(str(self.out))).read_all()

    def _bounds(self) -> list[Any]:
        """The thread ids where the merge ranges start and end (None: open): every
        run's ids are sampled, and a range holds about :data:`RUN_ROWS` rows."""
        sample = np.sort(np.concatenate([ids[::SAMPLE] for _, ids in self._runs]))
        step = max(RUN_ROWS // SAMPLE, 1)
        return [None, *sample[step::step].tolist(), None]

    @staticmethod
    def _slice(reader: pa.ipc.RecordBatchFileReader, ids: NDArray[np.generic],
               lo: Any, hi: Any) -> pa.Table:
        """The rows of one run with ``lo <= thread < hi`` (None: unbounded)."""
        a = 0 if lo is None else int(np.searchsorted(ids, lo, side="left"))
        z = ids.size if hi is None else int(np.searchsorted(ids, hi, side="left"))
        if z <= a:
            return reader.schema.empty_table()
        first, last = a // BATCH_ROWS, (z - 1) // BATCH_ROWS
        batches = [reader.get_batch(i) for i in range(first, last + 1)]
        return pa.Table.from_batches(batches).slice(a - first * BATCH_ROWS, z - a)
