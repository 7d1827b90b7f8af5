"""Encode original ids as dense codes whose order is the id order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import InputError

__all__ = ["encode_ids", "id_type"]


def id_type(types: Sequence[pa.DataType], names: Sequence[str]) -> pa.DataType:
    """The common id type of the id columns: ``int64`` or ``string``.

    Unsigned and narrower integers widen to ``int64``; ``large_string`` and
    dictionary-encoded strings become ``string``; mixing strings with numbers
    is an error (ids are never guessed).
    """
    kinds = []
    for t, n in zip(types, names, strict=True):
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_integer(t):
            kinds.append("int")
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
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


def _normalise(col: pa.Array, typ: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if typ == pa.int64() and col.type == pa.uint64():
        big = pc.greater(col, pa.scalar(np.iinfo(np.int64).max, pa.uint64()))
        if pc.any(big).as_py():
            raise InputError("unsigned ids above 2**63-1 cannot be represented", column=None)
    return col.cast(typ)


def encode_ids(
    columns: Sequence[pa.Array], typ: pa.DataType
) -> tuple[list[NDArray[np.int32]], pa.Array]:
    """Encode several id columns (no nulls) against one shared dictionary.

    Parameters
    ----------
    columns : sequence of pyarrow.Array
        Id columns of one type family, without nulls.
    typ : pyarrow.DataType
        ``int64`` or ``string`` (see :func:`id_type`).

    Returns
    -------
    codes : list of ndarray of int32
        One code array per column; ``dictionary[code]`` is the id.
    dictionary : pyarrow.Array
        The distinct ids in ascending order.

    Notes
    -----
    Integer ids in a range at most four times the number of values are encoded
    by a direct lookup table (linear time); other ids by hashing the values
    (``pyarrow`` dictionary encoding) and sorting only the distinct ones.
    """
    cols = [_normalise(c, typ) for c in columns]
    if typ == pa.int64():
        arrs = [c.to_numpy(zero_copy_only=False).astype(np.int64, copy=False) for c in cols]
        total = sum(a.size for a in arrs)
        if total == 0:
            return [np.zeros(0, np.int32) for _ in arrs], pa.array([], pa.int64())
        lo = min(int(a.min()) for a in arrs if a.size)
        hi = max(int(a.max()) for a in arrs if a.size)
        span = hi - lo + 1
        if 0 < span <= max(4 * total, 1 << 16):
            present = np.zeros(span, dtype=bool)
            for a in arrs:
                present[a - lo] = True
            lut = np.cumsum(present, dtype=np.int64) - 1
            dictionary = np.flatnonzero(present) + lo
            codes: list[NDArray[np.int32]] = [lut[a - lo].astype(np.int32) for a in arrs]
            return codes, pa.array(dictionary, pa.int64())
        allv = np.concatenate(arrs)
        dictionary, inv = np.unique(allv, return_inverse=True)
        inv = inv.astype(np.int32)
        out: list[NDArray[np.int32]] = []
        start = 0
        for a in arrs:
            out.append(inv[start:start + a.size].astype(np.int32, copy=False))
            start += a.size
        return out, pa.array(dictionary, pa.int64())
    chunked = pa.chunked_array(cols, type=typ)
    enc = pc.dictionary_encode(chunked)
    # unify dictionaries of the chunks
    enc = enc.unify_dictionaries()
    dict0 = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], typ)
    order = pc.sort_indices(dict0).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    dictionary = dict0.take(pa.array(order))
    # pyarrow drops empty chunks: map the codes back to the columns they came from
    chunk_codes = iter([rank[enc.chunk(i).indices.to_numpy(zero_copy_only=False)]
                        for i in range(enc.num_chunks)])
    keep_empty = enc.num_chunks == len(cols)
    res: list[NDArray[np.int32]] = [
        next(chunk_codes) if len(c) or keep_empty else np.zeros(0, np.int32) for c in cols
    ]
    return res, dictionary
