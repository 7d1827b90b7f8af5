"""Normalise whatever the user holds into Arrow record batches.

Accepted: a ``pyarrow.Table``, ``RecordBatch`` or ``RecordBatchReader``; any
object with ``__arrow_c_stream__`` (pandas >= 2.2, polars, DuckDB relations,
nanoarrow, ...); a polars ``LazyFrame``; a ``pyarrow.dataset.Dataset``; a path
(str or ``os.PathLike``) to a Parquet, CSV or Arrow IPC file or a folder of them;
a pandas DataFrame without the protocol; a mapping of column name to sequence;
a list of dicts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from engagequal.errors import SourceError

__all__ = ["dataset_from_path", "to_reader", "to_table"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".arrow": "ipc",
            ".feather": "ipc", ".ipc": "ipc"}


def dataset_from_path(path: str | os.PathLike[str], *,
                      dictionary: Sequence[str] = ()) -> ds.Dataset:
    """Open a file or folder of Parquet, CSV or Arrow IPC files as a dataset.

    The format is taken from the file suffix (for a folder, from the first file
    found in it); a folder may be hive-partitioned.  Parquet columns named in
    ``dictionary`` are read dictionary-encoded (no per-row strings).
    """
    p = Path(path)
    if not p.exists():
        raise SourceError(f"no such file or folder: {str(p)!r}")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _FORMATS)
        if not files:
            raise SourceError(
                f"folder {str(p)!r} holds no Parquet, CSV or Arrow file "
                f"(suffixes {sorted(_FORMATS)})"
            )
        fmt = _FORMATS[files[0].suffix.lower()]
    else:
        fmt = _FORMATS.get(p.suffix.lower(), "")
        if not fmt:
            raise SourceError(
                f"cannot tell the format of {str(p)!r} from its suffix; expected one of "
                f"{sorted(_FORMATS)}"
            )
    file_format: str | ds.FileFormat = fmt
    if fmt == "parquet" and dictionary:
        file_format = ds.ParquetFileFormat(
            read_options=ds.ParquetReadOptions(dictionary_columns=set(dictionary)))
    try:
        return ds.dataset(str(p), format=file_format,
                          partitioning="hive" if p.is_dir() else None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"cannot read {str(p)!r} as {fmt}: {exc}") from exc


def _records_to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    try:
        return pa.Table.from_pylist(list(rows))
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:  # e.g. pandas NaT
        raise SourceError(f"cannot build a table from the list of dicts: {exc}") from exc


def to_reader(source: Any, *, columns: Sequence[str] | None = None,
              dictionary: Sequence[str] = ()) -> pa.RecordBatchReader:
    """Return a ``pyarrow.RecordBatchReader`` over ``source``.

    Parameters
    ----------
    source : table-like
        See the module docstring for what is accepted.
    columns : sequence of str, optional
        Read only these columns where the source can project (datasets, files).
    dictionary : sequence of str, optional
        Parquet columns to read dictionary-encoded (e.g. the event kind).

    Returns
    -------
    pyarrow.RecordBatchReader

    Raises
    ------
    SourceError
        When the source is of a kind that cannot be read.

    Examples
    --------
    >>> import engagequal as eq
    >>> r = eq.ingest.to_reader([{"actor": 1, "target": 2, "ts": 0}])
    >>> r.read_all().num_rows
    1
    """
    if isinstance(source, pa.RecordBatchReader):
        return source
    if isinstance(source, pa.Table):
        return source.to_reader()
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]).to_reader()
    if isinstance(source, (str, os.PathLike)):
        source = dataset_from_path(source, dictionary=dictionary)
    if isinstance(source, ds.Dataset):
        cols = [c for c in columns if c in source.schema.names] if columns else None
        try:
            return source.scanner(columns=cols).to_reader()
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"cannot scan the dataset: {exc}") from exc
    mod = type(source).__module__.split(".")[0]
    if mod == "polars" and hasattr(source, "collect") and not hasattr(source, "__arrow_c_stream__"):
        source = source.collect()  # a LazyFrame
    if hasattr(source, "__arrow_c_stream__"):
        try:
            return pa.RecordBatchReader.from_stream(source)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise SourceError(
                f"cannot read the Arrow stream of a {type(source).__name__}: {exc}"
            ) from exc
    if mod == "pandas" and hasattr(source, "columns"):
        return pa.Table.from_pandas(source, preserve_index=False).to_reader()
    if mod == "duckdb" and hasattr(source, "arrow"):
        return _as_reader(source.arrow())
    if isinstance(source, Mapping):
        try:
            return pa.table(dict(source)).to_reader()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SourceError(f"cannot build a table from the mapping: {exc}") from exc
    if (isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray, str))
            and (len(source) == 0 or isinstance(source[0], Mapping))):
        return _records_to_table(source).to_reader()
    if isinstance(source, Iterable) and not isinstance(source, (bytes, bytearray)):
        batches = list(source)
        if batches and all(isinstance(b, pa.RecordBatch) for b in batches):
            return pa.Table.from_batches(batches).to_reader()
    raise SourceError(
        f"cannot read events from a {type(source).__module__}.{type(source).__name__}; pass a "
        "pyarrow Table, an object with __arrow_c_stream__ (pandas, polars, DuckDB), a polars "
        "LazyFrame, a pyarrow Dataset, a Parquet/CSV path or folder, or a list of dicts"
    )


def _as_reader(obj: Any) -> pa.RecordBatchReader:
    if isinstance(obj, pa.RecordBatchReader):
        return obj
    if isinstance(obj, pa.Table):
        return obj.to_reader()
    return pa.RecordBatchReader.from_stream(obj)


def to_table(source: Any, *, columns: Sequence[str] | None = None,
             dictionary: Sequence[str] = ()) -> pa.Table:
    """Read ``source`` fully into one ``pyarrow.Table`` (see :func:`to_reader`).

    Files and datasets are read with only the needed ``columns``, on all cores.

    Examples
    --------
    >>> import engagequal as eq
    >>> eq.ingest.to_table({"actor": [1, 2], "target": [2, 1], "ts": [0, 5]}).num_rows
    2
    """
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, (str, os.PathLike)):
        source = dataset_from_path(source, dictionary=dictionary)
    if isinstance(source, ds.Dataset):
        cols = [c for c in columns if c in source.schema.names] if columns else None
        if isinstance(source, ds.FileSystemDataset):
            _check_drift(source, cols)
        try:
            return source.to_table(columns=cols)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"reading the dataset failed{_failing_file(source, cols)}: "
                              f"{exc}") from exc
    reader = to_reader(source, columns=columns)
    try:
        return reader.read_all()
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"reading the source failed: {exc}") from exc


def _check_drift(dataset: ds.FileSystemDataset, columns: Sequence[str] | None) -> None:
    """Every file of ``dataset`` must give each read column one type (the rule of
    :func:`engagequal.analyze_stream`): the dataset would otherwise cast the later
    files to the first file's schema silently (``"19"`` becoming ``19``)."""
    frags = list(dataset.get_fragments())
    if len(frags) < 2:
        return
    ref: dict[str, tuple[pa.DataType, str]] = {}
    for frag in frags:
        try:
            schema = frag.physical_schema
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"cannot read {frag.path!r}: {exc}") from exc
        for c in columns if columns is not None else schema.names:
            if c not in schema.names:
                continue
            t = schema.field(c).type
            first = ref.setdefault(c, (t, frag.path))
            if first[0] != t:
                raise SourceError(
                    f"schema drift: column {c!r} has type {t} in {frag.path!r} but "
                    f"{first[0]} in {first[1]!r}; cast the files to one schema")


def _failing_file(dataset: ds.Dataset, columns: Sequence[str] | None) -> str:
    """`` in '<path>'``: the first file of ``dataset`` that fails to read (after a
    failed read of the whole dataset, to name the culprit), else ``""``."""
    if not isinstance(dataset, ds.FileSystemDataset):
        return ""
    for frag in dataset.get_fragments():
        try:
            for _ in frag.to_batches(schema=dataset.schema, columns=columns):
                pass
        except (pa.ArrowException, OSError):
            return f" in {frag.path!r}"
    return ""
