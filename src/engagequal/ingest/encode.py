"""Encode original ids as dense codes whose order is the id order, and kinds as small codes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import InputError
from engagequal.kernels.parallel import pmap, workers
from engagequal.kernels.segments import running_count

__all__ = ["encode_ids", "encode_kinds", "id_type"]

Column = Any  # a pyarrow Array or ChunkedArray


def id_type(types: Sequence[pa.DataType], names: Sequence[str]) -> pa.DataType:
    """The common id type of the id columns: ``int64`` or ``string``.

    Unsigned and narrower integers widen to ``int64``; ``large_string``,
    ``string_view`` and dictionary-encoded strings become ``string``; mixing
    strings with numbers is an error (ids are never guessed).

    Examples
    --------
    >>> import pyarrow as pa
    >>> id_type([pa.int32(), pa.uint8()], ["actor", "target"])
    DataType(int64)
    """
    kinds = []
    for t, n in zip(types, names, strict=True):
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_integer(t):
            kinds.append("int")
        elif (pa.types.is_string(t) or pa.types.is_large_string(t)
              or pa.types.is_string_view(t)):
            kinds.append("str")
        elif pa.types.is_null(t):
            kinds.append("null")
        else:
            raise InputError(
                f"column {n!r} has type {t}; ids must be integers or strings", column=n
            )
    if "int" in kinds and "str" in kinds:
        raise InputError(
            f"id columns {list(names)} mix integers and strings; cast them to one type first",
            column=names[0],
        )
    return pa.string() if "str" in kinds else pa.int64()


def _chunks(col: Column) -> list[pa.Array]:
    return list(col.chunks) if isinstance(col, pa.ChunkedArray) else [col]


#: ``np.take`` mode for indices valid by construction: with the default
#: ``"raise"`` numpy checks every index and writes ``out=`` through a buffer
#: as large as ``out`` (a fresh copy); ``"clip"`` writes in place
_VALID: Final = "clip"

#: rows per unit of hashing work (long chunks are cut into zero-copy slices of this size)
_SLICE = 1 << 20


def _sliced(col: Column) -> list[pa.Array]:
    """The non-empty chunks of a column, long ones cut into zero-copy slices."""
    out: list[pa.Array] = []
    for c in _chunks(col):
        out.extend(c.slice(i, _SLICE) for i in range(0, len(c), _SLICE))
    return out


def _balanced(items: list[pa.Array], p: int) -> list[list[pa.Array]]:
    """``items`` cut into at most ``p`` contiguous runs of about equal total length."""
    sizes = np.cumsum([len(c) for c in items])
    if p <= 1 or len(items) <= 1:
        return [items]
    cuts = np.searchsorted(sizes, sizes[-1] * np.arange(1, p) / p, side="left") + 1
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < len(items)}), len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def _normalise(col: pa.Array, typ: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if col.type == typ:
        return col
    if typ == pa.int64() and col.type == pa.uint64():
        big = pc.greater(col, pa.scalar(np.iinfo(np.int64).max, pa.uint64()))
        if pc.any(big).as_py():
            raise InputError("unsigned ids above 2**63-1 cannot be represented", column=None)
    return col.cast(typ)


def encode_ids(
    columns: Sequence[Column], typ: pa.DataType
) -> tuple[list[NDArray[np.int32]], pa.Array]:
    """Encode several id columns (no nulls) against one shared dictionary.

    Parameters
    ----------
    columns : sequence of pyarrow.Array or ChunkedArray
        Id columns of one type family, without nulls.
    typ : pyarrow.DataType
        ``int64`` or ``string`` (see :func:`id_type`).

    Returns
    -------
    codes : list of ndarray of int32
        One code array per column; ``dictionary[code]`` is the id.
    dictionary : pyarrow.Array
        The distinct ids in ascending order (so codes follow the id order and
        do not depend on the row order).

    Notes
    -----
    Integer ids in a range at most four times the number of values (or
    ``2**16``) are encoded by a direct lookup table: two linear passes, no
    hashing and no sort of the values.  Other ids are hashed chunk by chunk
    (Arrow dictionary encoding; chunks that are dictionary-encoded already,
    like Parquet string columns read as dictionaries, are taken as they are),
    the chunk dictionaries are unified, and only the distinct values are
    sorted.

    Examples
    --------
    >>> import pyarrow as pa
    >>> (a, b), d = encode_ids([pa.array([30, 10]), pa.array([10, 20])], pa.int64())
    >>> a.tolist(), b.tolist(), d.to_pylist()
    ([2, 0], [0, 1], [10, 20, 30])
    >>> (a,), d = encode_ids([pa.array(["é", "b", "é"])], pa.string())
    >>> a.tolist(), d.to_pylist()
    ([1, 0, 1], ['b', 'é'])
    """
    sizes = [sum(len(c) for c in _chunks(col)) for col in columns]
    total = sum(sizes)
    if total == 0:
        return [np.zeros(0, np.int32) for _ in columns], pa.array([], typ)
    if typ == pa.int64():
        chunked = [[_normalise(c, typ) for c in _chunks(col)] for col in columns]
        arrs = [[c.to_numpy(zero_copy_only=False) for c in cols if len(c)] for cols in chunked]
        flat = [a for cols in arrs for a in cols]
        lo = min(int(a.min()) for a in flat)
        hi = max(int(a.max()) for a in flat)
        limit = max(4 * total, 1 << 16)
        if hi - lo < limit:
            off = 0 if lo >= 0 and hi < limit else lo
            present = np.zeros(hi - off + 1, dtype=bool)
            pieces = [a[i:i + _SLICE] for a in flat for i in range(0, a.size, _SLICE)]

            def mark(a: NDArray[np.int64]) -> None:  # every writer writes True
                present[a - off if off else a] = True

            pmap(mark, pieces)
            codes: list[NDArray[np.int32]] = []
            distinct = np.flatnonzero(present)
            if off:
                distinct += off
            dictionary = pa.array(distinct, pa.int64())
            if off == lo and present.all():  # every id in lo..hi: the code is id - lo
                for cols, size in zip(arrs, sizes, strict=True):
                    out = np.empty(size, dtype=np.int32)
                    pos = 0
                    for a in cols:
                        np.subtract(a, lo, out=out[pos:pos + a.size], casting="unsafe")
                        pos += a.size
                    codes.append(out)
                return codes, dictionary
            lut = running_count(present, np.int32)
            lut -= 1
            tasks: list[tuple[NDArray[np.int64], NDArray[np.int32]]] = []
            for cols, size in zip(arrs, sizes, strict=True):
                out = np.empty(size, dtype=np.int32)
                pos = 0
                for a in cols:
                    for i in range(0, a.size, _SLICE):
                        piece = a[i:i + _SLICE]
                        tasks.append((piece, out[pos:pos + piece.size]))
                        pos += piece.size
                codes.append(out)
            pmap(lambda t: np.take(lut, t[0] - off if off else t[0], out=t[1], mode=_VALID),
                 tasks)
            return codes, dictionary
    return _encode_hashed(columns, typ, sizes)


def _encode_hashed(columns: Sequence[Column], typ: pa.DataType,
                   sizes: list[int]) -> tuple[list[NDArray[np.int32]], pa.Array]:
    """Hash path: each chunk as (dictionary, indices), the dictionaries unified.

    Dictionary-encoded chunks (e.g. Parquet string columns read as
    dictionaries) are used as they are, so only their distinct values are
    hashed; other chunks are dictionary-encoded one by one first.
    """
    dicts: list[pa.Array] = []
    seen: dict[tuple[int, ...], int] = {}  # chunks of one Parquet row group share a dictionary
    which: list[int] = []
    indices: list[NDArray[np.int64]] = []
    per_col: list[int] = []
    plain = [_normalise(c, typ) for col in columns for c in _sliced(col)
             if not pa.types.is_dictionary(c.type)]
    # plain chunks: one hash table per thread (the chunks of a run share its dictionary)
    runs = _balanced(plain, workers(sum(sizes))) if plain else []
    encoded = iter([c for run in pmap(
        lambda r: pc.dictionary_encode(pa.chunked_array(r, type=typ)).chunks, runs)
        for c in run])
    hashed: set[int] = set()  # dictionaries built here hold only values of these rows
    for col in columns:
        k = 0
        for c in _sliced(col):
            ours = not pa.types.is_dictionary(c.type)
            if ours:
                c = next(encoded)
            d = c.dictionary
            ident = (d.offset, len(d), *(b.address if b is not None else 0 for b in d.buffers()))
            if ident not in seen:
                seen[ident] = len(dicts)
                dicts.append(_normalise(d, typ))
                if ours:
                    hashed.add(seen[ident])
            which.append(seen[ident])
            indices.append(c.indices.to_numpy(zero_copy_only=False))
            k += 1
        per_col.append(k)
    allvals = pa.concat_arrays(dicts)
    enc = pc.dictionary_encode(allvals)
    distinct = enc.dictionary
    gcode = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = np.cumsum([0] + [len(d) for d in dicts])
    # which distinct values kept rows use (a dictionary may hold values of rows set aside)
    used = np.zeros(len(distinct), dtype=bool)
    local = [np.full(len(d), w in hashed, dtype=bool) for w, d in enumerate(dicts)]
    for idx, w in zip(indices, which, strict=True):
        if w not in hashed:
            local[w][idx] = True
    for w, loc in enumerate(local):
        used[gcode[offsets[w]:offsets[w + 1]][loc]] = True
    keep = np.flatnonzero(used)
    distinct = distinct.take(pa.array(keep)) if keep.size < used.size else distinct
    order = pc.sort_indices(distinct).to_numpy()
    final = np.full(used.size, -1, dtype=np.int32)  # distinct value -> code in id order
    final[keep[order]] = np.arange(order.size, dtype=np.int32)
    dictionary = distinct.take(pa.array(order))
    per_dict = [final[gcode[offsets[w]:offsets[w + 1]]] for w in range(len(dicts))]
    res: list[NDArray[np.int32]] = []
    tasks: list[tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int64]]] = []
    i = 0
    for k, size in zip(per_col, sizes, strict=True):
        out = np.empty(size, dtype=np.int32)
        pos = 0
        for idx, w in zip(indices[i:i + k], which[i:i + k], strict=True):
            tasks.append((out[pos:pos + idx.size], per_dict[w], idx))
            pos += idx.size
        i += k
        res.append(out)
    pmap(lambda t: np.take(t[1], t[2], out=t[0], mode=_VALID), tasks)
    return res, dictionary


def encode_kinds(col: Column, default: str) -> tuple[list[str], NDArray[np.int16]]:
    """Kind names (null is ``default``) as ``int16`` codes into a list of names.

    Dictionary-encoded columns (Parquet string columns read as dictionaries)
    are mapped dictionary by dictionary, without materialising the strings.

    Examples
    --------
    >>> import pyarrow as pa
    >>> names, codes = encode_kinds(pa.array(["like", None, "like"]), "interaction")
    >>> [names[c] for c in codes]
    ['like', 'interaction', 'like']
    """
    names: dict[str, int] = {}
    chunks: list[tuple[list[int], pa.Array]] = []  # per chunk: name number of each slot, indices
    for chunk in _chunks(col):
        if not pa.types.is_dictionary(chunk.type):
            if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                chunk = chunk.cast(pa.string())
            chunk = chunk.dictionary_encode()
        values = chunk.dictionary.cast(pa.string()).to_pylist()
        keys = [default if v is None else str(v) for v in values]
        idx = chunk.indices
        if idx.null_count:
            keys.append(default)
            idx = pc.fill_null(idx, len(values))  # null -> the default kind's slot
        chunks.append(([names.setdefault(k, len(names)) for k in keys], idx))
    kinds = sorted(names)  # codes in name order, whatever the row order
    rank = {k: i for i, k in enumerate(kinds)}
    final = [rank[k] for k in names]
    codes = np.empty(sum(len(i) for _, i in chunks), dtype=np.int16)
    pos = 0
    for slots, idx in chunks:  # one gather per chunk, straight to the final codes
        remap = np.array([final[s] for s in slots], dtype=np.int16)
        np.take(remap, idx.to_numpy(zero_copy_only=False), out=codes[pos:pos + len(idx)],
                mode=_VALID)
        pos += len(idx)
    return kinds, codes
