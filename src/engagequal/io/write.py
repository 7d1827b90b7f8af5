"""Write events as a thread-bucketed Parquet dataset for streaming.

Reply trees need all their events together.  :func:`write_events` hashes each
event's thread into one of ``buckets`` files, so every file holds whole
threads and :func:`engagequal.analyze_stream` can complete the trees of one
file, then forget them: memory stays bounded by the largest file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from engagequal.errors import OptionError, SourceError
from engagequal.ingest.sources import to_reader, to_table
from engagequal.kernels.trees import root_and_depth

__all__ = ["hash_ids", "write_events"]

#: Schema metadata written on every file (read by :mod:`engagequal.stream`).
BUCKET_KEY = b"engagequal.bucketed_by"
BUCKETS_KEY = b"engagequal.buckets"

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_P = np.uint64(0x100000001B3)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash of 64-bit keys."""
    x = x.copy()
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def hash_ids(ids: pa.Array | pa.ChunkedArray) -> NDArray[np.uint64]:
    """A stable 64-bit hash of integer or string ids (null hashes to 0).

    Integers are mixed with splitmix64; strings are hashed as a polynomial of
    their UTF-8 bytes (vectorised over all bytes), then mixed.  The value only
    depends on the id, never on the batch it came in.

    Examples
    --------
    >>> import pyarrow as pa
    >>> a = hash_ids(pa.array(["x", "yy", "x"]))
    >>> bool(a[0] == a[2]), bool(a[0] != a[1])
    (True, True)
    """
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if pa.types.is_dictionary(ids.type):
        ids = ids.dictionary_decode()
    nulls = np.asarray(ids.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    with np.errstate(over="ignore"):
        if pa.types.is_integer(ids.type):
            v = pc.fill_null(ids.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            out = _mix(v.astype(np.int64).view(np.uint64))
        elif pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
            arr = pc.fill_null(ids.cast(pa.large_string()), "")
            off_buf, data_buf = arr.buffers()[1], arr.buffers()[2]
            offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
            data = (np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None
                    else np.zeros(0, np.uint8))
            lo, hi = int(offsets[0]), int(offsets[-1])
            data = data[lo:hi].astype(np.uint64)
            starts = (offsets[:-1] - lo).astype(np.int64)
            lengths = np.diff(offsets)
            pos = np.arange(data.size, dtype=np.int64) - np.repeat(starts, lengths)
            maxlen = int(lengths.max()) if lengths.size else 0
            powers = np.ones(max(maxlen, 1), dtype=np.uint64)
            if maxlen > 1:
                powers[1:] = _P
                powers = np.multiply.accumulate(powers)
            contrib = (data + np.uint64(1)) * powers[pos] if data.size else data
            h = np.zeros(len(arr), dtype=np.uint64)
            nonempty = lengths > 0
            if data.size:
                h[nonempty] = np.add.reduceat(contrib, starts[nonempty])
            out = _mix(h ^ lengths.astype(np.uint64))
        else:
            raise OptionError(f"cannot bucket ids of type {ids.type}; use integers or strings")
    out[nulls] = 0
    return out


def _thread_keys(table: pa.Table, event_id: str, parent: str) -> pa.Array:
    """The root ``event_id`` of every row (the thread the reader will derive)."""
    eid = table.column(event_id).combine_chunks()
    par = table.column(parent).combine_chunks()
    if pa.types.is_dictionary(eid.type):
        eid = eid.dictionary_decode()
    if pa.types.is_dictionary(par.type):
        par = par.dictionary_decode()
    pos = pc.fill_null(pc.index_in(par.cast(eid.type), value_set=eid), -1)
    p = pos.to_numpy(zero_copy_only=False).astype(np.int64)
    root, _, stuck = root_and_depth(p)
    root = np.where(stuck, np.arange(p.size), root)
    return eid.take(pa.array(root))


def write_events(
    source: Any,
    path: str | os.PathLike[str],
    *,
    buckets: int = 16,
    thread: str | None = None,
    event_id: str | None = None,
    parent: str | None = None,
    overwrite: bool = False,
    compression: str = "zstd",
) -> list[Path]:
    """Write events to a folder of Parquet files, bucketed by thread.

    Parameters
    ----------
    source : table-like
        Anything :func:`engagequal.read_events` accepts; its columns are
        written unchanged.
    path : path
        Folder to create (files ``part-00000.parquet`` ...).
    buckets : int, default 16
        Number of files.  Every thread lands in exactly one file.
    thread : str, optional
        Column naming each event's thread: bucketing is then out of core
        (batch by batch).
    event_id, parent : str, optional
        Without ``thread``, the reply tree: each event goes with its root
        (this needs the two id columns of all events in memory).  Without any
        of the three, rows are split into ``buckets`` runs in input order.
    overwrite : bool, default False
        Replace Parquet files already in ``path``.
    compression : str, default "zstd"

    Returns
    -------
    list of pathlib.Path
        The files written (empty buckets write no file).

    Notes
    -----
    Each file carries the schema metadata ``engagequal.bucketed_by = thread``
    so :func:`engagequal.analyze_stream` knows its threads are whole.  The
    bucket of a thread is a 64-bit hash of its id modulo ``buckets``, so
    appending later batches with the same settings keeps threads together.

    Examples
    --------
    >>> import tempfile, engagequal as eq
    >>> from engagequal.io.write import write_events
    >>> ev = {"id": [1, 2, 3], "parent": [None, 1, None], "actor": ["a", "b", "c"],
    ...       "ts": [0, 1, 2]}
    >>> files = write_events(ev, tempfile.mkdtemp(), buckets=2, event_id="id", parent="parent")
    >>> sum(pq.read_metadata(f).num_rows for f in files)
    3
    """
    if not isinstance(buckets, (int, np.integer)) or isinstance(buckets, bool) or buckets < 1:
        raise OptionError(f"buckets must be a positive integer, got {buckets!r}")
    if (event_id is None) != (parent is None) and thread is None:
        raise OptionError("bucketing by reply tree needs both event_id= and parent=")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    old = sorted(out.glob("*.parquet"))
    if old:
        if not overwrite:
            raise SourceError(f"folder {str(out)!r} already holds Parquet files; pass "
                              "overwrite=True to replace them")
        for f in old:
            f.unlink()
    by = b"thread" if (thread is not None or event_id is not None) else b"rows"
    meta = {BUCKET_KEY: by, BUCKETS_KEY: str(int(buckets)).encode()}
    if thread is None and event_id is not None and parent is not None:
        table = to_table(source)
        keys = _thread_keys(table, event_id, parent)
        batches: Any = [(table, hash_ids(keys) % np.uint64(buckets))]
    elif thread is not None:
        reader = to_reader(source)
        batches = ((b, hash_ids(b.column(thread)) % np.uint64(buckets)) for b in reader)
    else:
        table = to_table(source)
        n = table.num_rows
        bucket = (np.arange(n, dtype=np.int64) * int(buckets) // max(n, 1)).astype(np.uint64)
        batches = [(table, bucket)]
    writers: dict[int, pq.ParquetWriter] = {}
    paths: dict[int, Path] = {}
    try:
        for batch, bucket in batches:
            if thread is not None and thread not in batch.schema.names:
                raise SourceError(f"column {thread!r} is not in the source")
            tab = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            tab = tab.replace_schema_metadata({**(tab.schema.metadata or {}), **meta})
            order = np.argsort(bucket, kind="stable")
            bs = bucket[order]
            cuts = np.searchsorted(bs, np.arange(buckets + 1, dtype=np.uint64))
            for b in range(int(buckets)):
                lo, hi = int(cuts[b]), int(cuts[b + 1])
                if hi == lo:
                    continue
                part = tab.take(pa.array(order[lo:hi]))
                if b not in writers:
                    paths[b] = out / f"part-{b:05d}.parquet"
                    writers[b] = pq.ParquetWriter(str(paths[b]), part.schema,
                                                  compression=compression)
                writers[b].write_table(part.cast(writers[b].schema))
    finally:
        for w in writers.values():
            w.close()
    return [paths[b] for b in sorted(paths)]
