"""The event model: column mapping, kind weights and time conversion."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import InvalidTimeError, OptionError

__all__ = [
    "DEFAULT_KIND",
    "DEFAULT_KIND_WEIGHTS",
    "MAX_WEIGHT",
    "PASSIVE_KINDS",
    "STRUCTURAL_KINDS",
    "ColumnMap",
    "merge_kind_weights",
    "times_to_ns",
    "to_ns_scalar",
    "to_seconds_duration",
]

#: Weight of each kind of interaction (DESIGN.md section 1).  ``follow`` builds
#: the follower graph and is worth nothing as engagement.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {
    "like": 0.1,
    "view": 0.1,
    "reaction": 0.1,
    "mention": 0.5,
    "share": 0.5,
    "retweet": 0.5,
    "quote": 0.5,
    "comment": 1.0,
    "interaction": 1.0,
    "email": 3.0,
    "reply": 2.0,
    "message": 3.0,
    "call": 4.0,
    "meeting": 5.0,
    "follow": 0.0,
    "connection": 0.0,
}
#: The largest usable weight: sums over billions of events, per-year rates and
#: their squares (the natural layers' variances) stay far inside the float range.
MAX_WEIGHT = 1e15
#: The kind given to every row when there is no ``kind`` column.
DEFAULT_KIND = "interaction"
#: Kinds that signal attention without effort (the "applause" of Kaushik).
PASSIVE_KINDS = frozenset({"like", "view", "reaction"})
#: Kinds that describe the graph rather than engagement.
STRUCTURAL_KINDS = frozenset({"follow", "connection"})


@dataclass(frozen=True)
class ColumnMap:
    """Which source column plays which role of the event model.

    ``None`` means the role is absent (only ``kind``, ``event_id``, ``parent``,
    ``thread`` and ``weight`` may be absent; ``target`` only when ``parent``
    is given).

    Examples
    --------
    >>> ColumnMap(actor="from_user", target="to_user", ts="sent_at").roles()
    {'actor': 'from_user', 'target': 'to_user', 'ts': 'sent_at', 'kind': 'kind'}
    """

    actor: str = "actor"
    target: str | None = "target"
    ts: str = "ts"
    kind: str | None = "kind"
    event_id: str | None = None
    parent: str | None = None
    thread: str | None = None
    weight: str | None = None

    def roles(self) -> dict[str, str]:
        """Role name -> source column name, for the roles that are present."""
        out: dict[str, str] = {}
        for f in fields(self):
            name = getattr(self, f.name)
            if name is not None:
                out[f.name] = name
        return out


def merge_kind_weights(kind_weights: Mapping[str, float] | None) -> dict[str, float]:
    """Defaults overridden (and extended) by the user's mapping."""
    merged = dict(DEFAULT_KIND_WEIGHTS)
    if kind_weights:
        for k, w in kind_weights.items():
            wf = float(w)
            if not np.isfinite(wf) or wf < 0 or wf > MAX_WEIGHT:
                raise OptionError(f"kind_weights[{k!r}] must be a number in [0, {MAX_WEIGHT:g}], "
                                  f"got {w!r}")
            merged[str(k)] = wf
    return merged


_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NS_MAX = int(np.iinfo(np.int64).max)


def times_to_ns(
    col: pa.ChunkedArray | pa.Array, name: str
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Convert a time column to int64 nanoseconds since the epoch (UTC).

    Returns the values and a boolean mask of rows whose time is unusable (null,
    NaN, infinite, out of range or unparseable; their value is 0).  Numeric
    columns are epoch seconds; timestamp columns of any unit keep their
    instant (a zone changes the display, not the instant; a naive timestamp
    is read as UTC); dates are midnight UTC; string columns are parsed as ISO
    8601.  Chunks are converted one by one into one output array.

    Examples
    --------
    >>> import pyarrow as pa
    >>> v, bad = times_to_ns(pa.array([1.5, None, float("inf")]), "ts")
    >>> v.tolist(), bad.tolist()
    ([1500000000, 0, 0], [False, True, True])
    """
    chunks = list(col.chunks) if isinstance(col, pa.ChunkedArray) else [col]
    n = sum(len(c) for c in chunks)
    out = np.empty(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    pos = 0
    for chunk in chunks:
        m = len(chunk)
        _chunk_to_ns(chunk, name, out[pos:pos + m], bad[pos:pos + m])
        pos += m
    return out, bad


def _chunk_to_ns(col: pa.Array, name: str, out: NDArray[np.int64],
                 bad: NDArray[np.bool_]) -> None:
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            col = pc.cast(col, pa.timestamp("ns", tz="UTC"), safe=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            col = _parse_strings(col, name)
        t = col.type
    if pa.types.is_date(t):  # date64 is milliseconds (not always midnight)
        col = pc.cast(col, pa.timestamp("ms" if pa.types.is_date64(t) else "s"))
        t = col.type
    if pa.types.is_null(t):
        out[:] = 0
        bad[:] = True
        return
    if pa.types.is_timestamp(t) or pa.types.is_integer(t):
        scale = _UNIT_NS[t.unit] if pa.types.is_timestamp(t) else 1_000_000_000
        if col.null_count:
            bad |= col.is_null().to_numpy(zero_copy_only=False)
            col = pc.fill_null(col, pa.scalar(0, col.type))
        raw = (col.cast(pa.int64()) if pa.types.is_timestamp(t) else col).to_numpy(
            zero_copy_only=False)
        lim = np.iinfo(np.int64).max // scale
        if raw.size and (int(raw.max()) > lim or (raw.dtype.kind == "i" and int(raw.min()) < -lim)):
            over = raw > lim if raw.dtype.kind == "u" else (raw > lim) | (raw < -lim)
            bad |= over
            raw = np.where(over, 0, raw)
        np.multiply(raw.astype(np.int64, copy=False), scale, out=out)
        return
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        raw = pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            nonfinite = ~np.isfinite(raw) | (np.abs(raw) > 9.2e9)
        bad |= nonfinite
        np.rint(np.where(nonfinite, 0.0, raw) * 1e9, out=out, casting="unsafe")
        return
    raise InvalidTimeError(
        f"column {name!r} has type {t}; expected a timestamp, numeric epoch seconds or "
        "ISO 8601 strings",
        column=name,
    )


def _parse_strings(col: pa.Array, name: str) -> pa.Array:
    """Parse ISO 8601 strings one unique value at a time (the slow, lenient path)."""
    uniq = pc.unique(col)
    out: list[int | None] = []
    for s in uniq.to_pylist():
        if s is None:
            out.append(None)
            continue
        try:
            d = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            out.append(None)
            continue
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.timezone.utc)
        try:
            ns = int(d.timestamp() * 1_000_000) * 1000
        except (OverflowError, ValueError):  # e.g. year 1 east of UTC
            ns = _NS_MAX + 1
        out.append(ns if -_NS_MAX <= ns <= _NS_MAX else None)  # beyond int64 ns: unusable
    idx = pc.index_in(col, value_set=uniq)
    return pc.take(pa.array(out, pa.int64()), idx).cast(pa.timestamp("ns", tz="UTC"))


def to_ns_scalar(value: Any, time_type: pa.DataType, *, name: str = "window") -> int:
    """Convert one user-supplied time (number, datetime, numpy datetime64 or ISO
    string) to int64 nanoseconds, reading bare numbers as epoch seconds."""
    if isinstance(value, (bool, np.bool_)):
        raise OptionError(f"{name}: expected a time, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value) * 1_000_000_000
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise OptionError(f"{name}: time must be finite, got {value!r}")
        return round(float(value) * 1e9)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise OptionError(f"{name}: cannot parse {value!r} as an ISO 8601 time") from exc
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        secs = int(delta.days) * 86_400 + int(delta.seconds)
        return secs * 1_000_000_000 + int(delta.microseconds) * 1000
    if isinstance(value, _dt.date):
        return to_ns_scalar(_dt.datetime(value.year, value.month, value.day), time_type, name=name)
    if hasattr(value, "value") and hasattr(value, "tz_localize"):  # pandas Timestamp
        return int(value.value)
    raise OptionError(f"{name}: cannot read {value!r} as a time")


_DURATION_UNITS = {"s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86_400.0,
                   "w": 7 * 86_400.0, "y": 365.25 * 86_400.0}


def to_seconds_duration(value: Any, *, name: str) -> float:
    """A duration as seconds: a number of seconds, a ``timedelta``, a numpy
    ``timedelta64`` or a string like ``"90s"``, ``"12h"``, ``"7D"``, ``"2W"``,
    ``"1Y"`` (a year is 365.25 days)."""
    if isinstance(value, _dt.timedelta):
        out = value.total_seconds()
    elif isinstance(value, np.timedelta64):
        out = float(value.astype("timedelta64[ns]").astype(np.int64)) / 1e9
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        out = float(value)
    elif isinstance(value, str):
        s = value.strip().lower()
        num = s.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = s[len(num):] or "s"
        if unit not in _DURATION_UNITS:
            raise OptionError(
                f"{name}: unknown unit {unit!r} in {value!r}; use s, min, h, D, W or Y"
            )
        try:
            out = float(num) * _DURATION_UNITS[unit]
        except ValueError as exc:
            raise OptionError(f"{name}: cannot read {value!r} as a duration") from exc
    else:
        raise OptionError(f"{name}: cannot read {value!r} as a duration")
    if not np.isfinite(out) or out <= 0:
        raise OptionError(f"{name}: duration must be positive and finite, got {value!r}")
    return out
