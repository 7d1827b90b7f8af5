"""Coverage-guided fuzzing of the ingest path (atheris, extra ``test``).

``python tests/fuzz/fuzz_ingest.py [libFuzzer options] [corpus or input files]``
e.g. ``-atheris_runs=2000 -seed=1`` or ``-max_total_time=600``.

Each input's bytes choose a small table: the type of every column (integers
of several widths, strings, dictionary strings, floats, timestamps of any
unit and zone, dates, decimals, nulls, booleans, binary), its values (int64
limits, unicode and long strings, NaN and infinite times, unknown kinds,
negative weights, parents pointing to themselves, to each other or to no
event), which roles are mapped, how the rows are cut into chunks and what
the source is (an Arrow table, a list of dicts, a mapping of columns, a
Parquet file, possibly with some bytes overwritten).  ``read_events`` then
runs strict and lenient, and a lenient read that succeeds goes through
``engagequal.analyze``.

A crash is any exception that is not an :class:`engagequal.errors.EngagequalError`,
or a broken promise of a successful read: ``rows_in == rows_used +
sum(set_aside)``, strict reads set nothing aside, and no floating-point
result is NaN (undefined values are null).

The table builder needs only the bytes (no atheris), so a test can replay
inputs without the fuzzer: :func:`run_one`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import warnings
from typing import Any

_IDS_INT = [0, 1, 2, 3, -1, 2**31 - 1, -(2**63), 2**63 - 1, 10**12]
_IDS_STR = ["a", "b", "c", "é", "李", "😀", "", " ", "x" * 300, "a\x00b", "A"]
_KINDS = ["like", "reply", "message", "comment", "follow", "meeting", "poke", "", "REPLY"]
_TS_INT = [0, 1, 60, 86_400, 1_600_000_000, -1, 2**40, 2**62, 2**63 - 1, -(2**63)]
_TS_FLOAT = [0.0, 0.5, 1.6e9, -1.0, math.nan, math.inf, -math.inf, 1e300, 9.3e9]
_TS_STR = ["2024-01-01T00:00:00Z", "2024-01-01", "2024-13-01", "yesterday", "",
           "2024-01-01T00:00:00+05:30", "9999-12-31T23:59:59", "1969-12-31T23:59:59.5"]
_WEIGHTS = [0.0, 1.0, 2.5, -1.0, math.nan, math.inf, 1e308]
_UNITS = ["s", "ms", "us", "ns"]
_ZONES = [None, "UTC", "Asia/Kolkata", "America/New_York"]


class Bytes:
    """Reads choices from fuzz bytes; past the end every choice is 0."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.i = 0

    def int(self, n: int) -> int:
        """A number in ``0 .. n-1``."""
        if n <= 1:
            return 0
        b = self.data[self.i] if self.i < len(self.data) else 0
        self.i += 1
        return b % n

    def pick(self, seq: list[Any]) -> Any:
        return seq[self.int(len(seq))]

    def chance(self, k: int) -> bool:
        """True about one time in ``k``."""
        return self.int(k) == 0

    def rest(self) -> bytes:
        return self.data[self.i:]


def _values(b: Bytes, n: int, pool: list[Any], null_rate: int = 6) -> list[Any]:
    return [None if b.chance(null_rate) else b.pick(pool) for _ in range(n)]


def _fit(vals: list[Any], typ: Any) -> list[Any]:
    """Integers brought into the range of the integer type ``typ``."""
    import pyarrow as pa

    bits = typ.bit_width
    if pa.types.is_unsigned_integer(typ):
        return [None if v is None else abs(v) % (1 << bits) for v in vals]
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return [None if v is None else max(min(v, hi), lo) for v in vals]


def _id_column(b: Bytes, n: int, shared: str) -> Any:
    import pyarrow as pa

    kind = shared if not b.chance(8) else b.pick(["int", "str", "bad"])
    if kind == "int":
        typ = b.pick([pa.int64(), pa.int64(), pa.int32(), pa.uint64(), pa.uint8()])
        return pa.array(_fit(_values(b, n, _IDS_INT), typ), typ)
    if kind == "str":
        arr = pa.array(_values(b, n, _IDS_STR), b.pick([pa.string(), pa.large_string()]))
        return arr.dictionary_encode() if b.chance(3) else arr
    form = b.int(4)
    if form == 0:
        return pa.array(_values(b, n, [0.0, 1.5, math.nan]), pa.float64())
    if form == 1:
        return pa.array(_values(b, n, [True, False]), pa.bool_())
    if form == 2:
        return pa.array(_values(b, n, [b"a", b"\xff"]), pa.binary())
    return pa.nulls(n)


def _ts_column(b: Bytes, n: int) -> Any:
    import pyarrow as pa

    form = b.int(10)
    if form <= 1:
        typ = b.pick([pa.int64(), pa.int32(), pa.uint64()]) if form else pa.int64()
        return pa.array(_fit(_values(b, n, _TS_INT, 10), typ), typ)
    if form == 2:
        return pa.array(_values(b, n, _TS_FLOAT, 10), b.pick([pa.float64(), pa.float32()]))
    if form in (3, 4):
        unit = b.pick(_UNITS)
        vals = _values(b, n, _TS_INT, 10)
        return pa.array(vals, pa.int64()).cast(pa.timestamp(unit, tz=b.pick(_ZONES)))
    if form == 5:
        return pa.array(_values(b, n, _TS_STR, 10), pa.string())
    if form == 6:
        if b.chance(2):
            return pa.array(_values(b, n, [0, 1, 19_000, -1, 2**31 - 1], 10), pa.date32())
        return pa.array(_values(b, n, [0, 1, 86_400_000, 7, 2**62], 10), pa.date64())
    if form == 7:
        return pa.array(_values(b, n, [0, 1, 1_600_000_000, 10**30], 10),
                        pa.decimal128(38, b.int(3)))
    if form == 8:
        return pa.nulls(n, b.pick([pa.null(), pa.int64(), pa.timestamp("ms")]))
    if b.chance(2):
        return pa.array(_values(b, n, [0, 1]), pa.duration("s"))
    return pa.array(_values(b, n, [True, False]), pa.bool_())


def build(data: bytes) -> tuple[Any, dict[str, Any], int]:
    """``(source, read options, number of rows)`` chosen by ``data``."""
    import pyarrow as pa

    b = Bytes(data)
    n = b.int(13)
    shared = b.pick(["int", "int", "str"])
    cols: dict[str, Any] = {"actor": _id_column(b, n, shared),
                            "target": _id_column(b, n, shared),
                            "ts": _ts_column(b, n)}
    opts: dict[str, Any] = {}
    if not b.chance(4):
        kinds = _values(b, n, _KINDS)
        cols["kind"] = (pa.array([None if k is None else len(k) for k in kinds], pa.int64())
                        if b.chance(10) else pa.array(kinds, pa.string()))
        if b.chance(3):
            cols["kind"] = cols["kind"].dictionary_encode()
    if b.chance(3):
        opts["kind_weights"] = b.pick([{"poke": 0.3}, {"": 1.0, "REPLY": 2.0}, {"like": 0.0}])
    if not b.chance(3):  # a reply forest
        eid_str = b.chance(4)
        ids: list[Any] = [f"e{i}" if eid_str else 10 * i for i in range(n)]
        if b.chance(3) and n:  # duplicate ids
            for _ in range(1 + b.int(3)):
                ids[b.int(n)] = ids[b.int(n)]
        if b.chance(8) and n:
            ids[b.int(n)] = None
        missing = "zz" if eid_str else 99_999
        par: list[Any] = []
        for i in range(n):
            c = b.int(8)
            if c <= 1 or (i == 0 and c < 6):
                par.append(None)
            elif c <= 4:
                par.append(ids[b.int(i)] if i else None)  # an earlier event
            elif c == 5:
                par.append(ids[i])  # itself
            elif c == 6:
                par.append(ids[b.int(n)])  # any event: cycles
            else:
                par.append(missing)
        id_type = pa.string() if eid_str else pa.int64()
        cols["eid"] = pa.array(ids, id_type)
        ptype = id_type if not b.chance(10) else b.pick([pa.string(), pa.int32(), pa.float64()])
        try:
            cols["par"] = pa.array(par, id_type).cast(ptype)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            cols["par"] = pa.array(par, id_type)
        opts["event_id"] = "eid"
        opts["parent"] = "par"
        if b.chance(3):
            opts["target"] = None if b.chance(3) else "target"
            if opts["target"] is None:
                del cols["target"]
        if b.chance(3):
            cols["thr"] = pa.array(_values(b, n, ["t1", "t2", "t3"], 4), pa.string())
            opts["thread"] = "thr"
    if b.chance(3):
        w = _values(b, n, _WEIGHTS, 4)
        cols["w"] = (pa.array([None if x is None else str(x) for x in w]) if b.chance(10)
                     else pa.array(w, pa.float64()))
        opts["weight"] = "w"
    if b.chance(20):  # a mapped column that is not there
        opts[b.pick(["actor", "ts", "kind", "weight"])] = "nope"
    table = pa.table(cols)
    cut = b.int(4)
    if cut and n > 1:  # several chunks
        at = sorted({b.int(n) for _ in range(cut)})
        pieces = [table.slice(x, y - x) for x, y in zip([0, *at], [*at, n]) if y > x]
        table = pa.concat_tables(pieces)
    src: Any = table
    form = b.int(8)
    if form == 1 and n:
        try:
            src = table.to_pylist()
        except (ValueError, OverflowError):  # times Python's datetime cannot hold
            src = table
    elif form == 2:
        src = {k: table[k] for k in table.column_names}
    elif form == 3:
        src = table.to_reader(max_chunksize=max(1, b.int(4)))
    elif form == 4:
        src = _parquet(table, b)
    return src, opts, n


def _parquet(table: Any, b: Bytes) -> Any:
    """A Parquet file of ``table`` (a temporary path), sometimes with bytes overwritten."""
    import pyarrow.parquet as pq

    fd, path = tempfile.mkstemp(suffix=".parquet", prefix="eqfuzz-")
    os.close(fd)
    _TEMP.append(path)
    try:
        pq.write_table(table, path, row_group_size=max(1, b.int(5)))
    except Exception:  # pyarrow refuses to write this table: use it in memory
        return table
    if b.chance(2):
        raw = bytearray(open(path, "rb").read())  # noqa: SIM115
        junk = b.rest()[:16] or b"\xff"
        at = b.int(256) * len(raw) // 256
        if b.chance(3):
            raw = raw[:at]
        else:
            raw[at:at + len(junk)] = junk
        with open(path, "wb") as f:
            f.write(bytes(raw))
    return path


_TEMP: list[str] = []


def cleanup() -> None:
    """Remove the temporary Parquet files of the last inputs."""
    while _TEMP:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_TEMP.pop())


def _no_nan(report: Any) -> None:
    import numpy as np
    import pyarrow as pa

    for name, t in {**report.tables, **report.details}.items():
        for col in t.column_names:
            c = t.column(col)
            if pa.types.is_floating(c.type) and len(c):
                v = c.to_numpy(zero_copy_only=False)
                nan = np.isnan(v.astype(np.float64)) & ~np.asarray(
                    c.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                if nan.any():
                    raise AssertionError(f"NaN (not null) in {name}.{col}")


def run_one(data: bytes) -> None:
    """Read (strict and lenient) and analyse one fuzz input; raise on a crash."""
    import engagequal as eq
    from engagequal.errors import EngagequalError

    try:
        for strict in (True, False):
            src, opts, n = build(data)
            try:
                ev = eq.read_events(src, strict=strict, **opts)
            except EngagequalError:
                continue
            acc = ev.accounting
            aside = sum(acc.set_aside.values())
            assert acc.rows_in == n, (acc.rows_in, n)
            assert acc.rows_in == acc.rows_used + aside == ev.n_events + aside, acc
            assert acc.set_aside_rows.num_rows == aside
            assert not strict or aside == 0, acc
            if strict:
                continue
            method = ["rank", "frequency", "natural"][len(data) % 3]
            try:
                report = eq.analyze(ev, layer_method=method)
            except EngagequalError:
                continue
            _no_nan(report)
    finally:
        cleanup()


def main() -> None:
    import atheris
    import numpy  # noqa: F401 - imported first: only engagequal's own code is instrumented
    import pyarrow.compute
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401

    with atheris.instrument_imports(include=["engagequal"]):
        import engagequal  # noqa: F401

    warnings.simplefilter("ignore")  # DataQualityWarning and numpy's are not crashes

    def test_one_input(data: bytes) -> None:
        run_one(data)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
