"""Assertions for engagequal results: Arrow tables compared by key, Events compared by content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engagequal.events import Events

__all__ = ["assert_events_equal", "assert_no_nan", "assert_tables_equal"]


def _is_float(t: pa.DataType) -> bool:
    return bool(pa.types.is_floating(t))


def assert_tables_equal(
    actual: pa.Table,
    expected: pa.Table,
    *,
    key: Sequence[str] | None = None,
    rtol: float = 1e-9,
    atol: float = 0.0,
    check_types: bool = True,
) -> None:
    """Assert two Arrow tables hold the same rows, ignoring row order.

    Parameters
    ----------
    actual, expected : pyarrow.Table
        Tables with the same column names (in the same order).
    key : sequence of str, optional
        Columns that identify a row; both tables are sorted by them before
        the columns are compared.  Default: every column that is not floating
        point.
    rtol, atol : float
        Tolerances for floating-point columns (``|a - e| <= atol + rtol * |e|``).
        Nulls must sit in the same rows; NaN equals NaN.
    check_types : bool, default True
        Also require equal column types.

    Raises
    ------
    AssertionError
        Naming the first column that differs, with up to three differing rows.

    Examples
    --------
    >>> import pyarrow as pa
    >>> a = pa.table({"user": ["b", "a"], "rate": [0.5, None]})
    >>> b = pa.table({"user": ["a", "b"], "rate": [None, 0.5 + 1e-12]})
    >>> assert_tables_equal(a, b, key=["user"])
    >>> try:
    ...     assert_tables_equal(a, b.set_column(1, "rate", pa.array([None, 0.6])),
    ...                         key=["user"])
    ... except AssertionError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    column 'rate' differs in 1 row(s) ... [(1, 0.5, 0.6)]
    """
    if actual.column_names != expected.column_names:
        raise AssertionError(f"columns differ: {actual.column_names} != {expected.column_names}")
    if check_types and actual.schema.types != expected.schema.types:
        diff = [(n, str(a), str(e)) for n, a, e in
                zip(actual.column_names, actual.schema.types, expected.schema.types, strict=True)
                if a != e]
        raise AssertionError(f"column types differ (name, actual, expected): {diff}")
    if actual.num_rows != expected.num_rows:
        raise AssertionError(f"row counts differ: {actual.num_rows} != {expected.num_rows}")
    if key is None:
        key = [n for n, t in zip(actual.column_names, actual.schema.types, strict=True)
               if not _is_float(t)]
    if key and actual.num_rows:
        order = [(k, "ascending") for k in key]
        actual = actual.sort_by(order)
        expected = expected.sort_by(order)
    for name in actual.column_names:
        a = actual[name].combine_chunks()
        e = expected[name].combine_chunks()
        a_null = np.asarray(a.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        e_null = np.asarray(e.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        bad = a_null != e_null
        if _is_float(a.type) and _is_float(e.type):
            av = pc.fill_null(a, 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
            ev = pc.fill_null(e, 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
            with np.errstate(invalid="ignore"):
                close = np.isclose(av, ev, rtol=rtol, atol=atol, equal_nan=True)
            bad |= ~a_null & ~e_null & ~close
        elif not pa.types.is_null(a.type):  # (all-null columns: the null masks decide)
            same = pc.fill_null(pc.equal(a, e), False).to_numpy(zero_copy_only=False)
            bad |= ~a_null & ~e_null & ~np.asarray(same, dtype=bool)
        if bad.any():
            rows = np.flatnonzero(bad)[:3].tolist()
            pairs = [(r, a[r].as_py(), e[r].as_py()) for r in rows]
            raise AssertionError(
                f"column {name!r} differs in {int(bad.sum())} row(s) "
                f"(after sorting by {list(key)}); "
                f"(row, actual, expected): {pairs}"
            )


def assert_no_nan(result: Any) -> None:
    """Assert no floating-point column holds NaN (undefined values must be null).

    Parameters
    ----------
    result : pyarrow.Table or Report
        A table, or a :class:`~engagequal.Report` (every main and detail table).

    Raises
    ------
    AssertionError
        Naming the first table and column with a NaN.

    Examples
    --------
    >>> import pyarrow as pa
    >>> assert_no_nan(pa.table({"x": [0.5, None]}))
    >>> try:
    ...     assert_no_nan(pa.table({"x": [float("nan")]}))
    ... except AssertionError as exc:
    ...     print(exc)
    NaN (not null) in table.x
    """
    tables = ({"table": result} if isinstance(result, pa.Table)
              else {**result.tables, **result.details})
    for name, t in tables.items():
        for col in t.column_names:
            c = t.column(col)
            if _is_float(c.type) and len(c):
                v = pc.drop_null(c).to_numpy(zero_copy_only=False)
                if np.isnan(v).any():
                    raise AssertionError(f"NaN (not null) in {name}.{col}")


def assert_events_equal(actual: Events, expected: Events, *, ignore_order: bool = False) -> None:
    """Assert two :class:`~engagequal.Events` hold the same events.

    Compares the user dictionaries, then per event the original actor and
    target ids, the time in nanoseconds, the kind name and the weight, and
    the accounting.  With ``ignore_order`` the events are compared as
    multisets (sorted by all fields).

    Parameters
    ----------
    actual, expected : Events
        The two event sets, from :func:`engagequal.read_events`.
    ignore_order : bool, default False
        Compare the events as multisets instead of position by position.

    Raises
    ------
    AssertionError
        Naming the first difference (user dictionaries, event count, field
        and position, or accounting).

    Examples
    --------
    >>> import engagequal as eq
    >>> a = eq.read_events({"actor": [1, 2], "target": [2, 1], "ts": [0, 5]})
    >>> b = eq.read_events([{"actor": 2, "target": 1, "ts": 5}, {"actor": 1, "target": 2, "ts": 0}])
    >>> assert_events_equal(a, b, ignore_order=True)
    """
    if not actual.users.equals(expected.users):
        raise AssertionError(f"user dictionaries differ: {actual.users.to_pylist()[:10]} != "
                             f"{expected.users.to_pylist()[:10]}")

    def rows(ev: Events) -> pa.Table:
        kinds = pa.array(list(ev.kinds), pa.string())
        return pa.table({
            "actor": pa.array(ev.actor), "target": pa.array(ev.target),
            "ts": pa.array(ev.ts),
            "kind": kinds.take(pa.array(ev.kind.astype(np.int64))) if ev.n_events
            else pa.array([], pa.string()),
            "weight": pa.array(ev.weight),
        })

    a, e = rows(actual), rows(expected)
    if ignore_order:
        assert_tables_equal(a, e, key=["actor", "target", "ts", "kind", "weight"], rtol=0.0)
    else:
        assert_tables_equal(a, e, key=[], rtol=0.0)
    acc_a, acc_e = actual.accounting, expected.accounting
    if (acc_a.rows_in, acc_a.rows_used, dict(acc_a.set_aside), dict(acc_a.notes)) != (
            acc_e.rows_in, acc_e.rows_used, dict(acc_e.set_aside), dict(acc_e.notes)):
        raise AssertionError(f"accounting differs: {acc_a} != {acc_e}")
