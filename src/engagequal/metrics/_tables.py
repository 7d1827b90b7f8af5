"""Small helpers to build Arrow result tables with the null rule.

The rule: a ratio whose denominator is zero is *undefined* and is null in the
table (never NaN, never an exception).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

__all__ = ["col", "ratio", "ratio_values", "sort_table"]


def ratio(num: NDArray[np.floating] | NDArray[np.integer],
          den: NDArray[np.floating] | NDArray[np.integer]) -> pa.Array:
    """``num / den`` as float64, null where ``den == 0`` (no validity bitmap
    when every ratio is defined).

    Examples
    --------
    >>> import numpy as np
    >>> ratio(np.array([1, 0, 3]), np.array([2, 0, 4])).to_pylist()
    [0.5, None, 0.75]
    """
    out, undefined = ratio_values(num, den)
    return pa.array(out, pa.float64(), mask=undefined if undefined.any() else None)


def ratio_values(num: NDArray[np.floating] | NDArray[np.integer],
                 den: NDArray[np.floating] | NDArray[np.integer]
                 ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The values of :func:`ratio` (0 where undefined) and where ``den == 0``.

    Examples
    --------
    >>> import numpy as np
    >>> v, undefined = ratio_values(np.array([1, 0]), np.array([2, 0]))
    >>> v.tolist(), undefined.tolist()
    ([0.5, 0.0], [False, True])
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    undefined = np.broadcast_to(den == 0, np.broadcast(num, den).shape)
    out = np.zeros(undefined.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=~undefined)
    return out, undefined


def col(values: NDArray[np.generic], mask: NDArray[np.bool_] | None = None,
        typ: pa.DataType | None = None) -> pa.Array:
    """A numpy column as Arrow, null where ``mask``."""
    return pa.array(values, typ, mask=mask)


def sort_table(t: pa.Table, keys: list[str]) -> pa.Table:
    """Sort by the given key columns, ascending."""
    if t.num_rows == 0:
        return t
    return t.sort_by([(k, "ascending") for k in keys])
