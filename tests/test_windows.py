"""Time windows [t0, t1) and exponential decay on every tie metric."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.metrics._ties import tie_options
from engagequal.testing.strategies import event_tables
from test_reciprocity import check_all_levels

DAY = 86_400


def test_window_is_half_open() -> None:
    ev = {"actor": [1, 2, 1, 2], "target": [2, 1, 2, 1], "ts": [10, 20, 30, 40]}
    d = eq.reciprocity(ev, level="dyad", window=(20, 40)).to_pylist()
    assert len(d) == 1 and (d[0]["n_uv"], d[0]["n_vu"]) == (1, 1)  # 20 in, 40 out
    assert (d[0]["first"], d[0]["last"]) == (20, 30)
    assert eq.reciprocity(ev, window=(21, 40))["arc"].to_pylist() == [0.0]
    assert eq.reciprocity(ev, window=(None, 20))["ties"].to_pylist() == [1]
    assert eq.reciprocity(ev, window=(40, None))["ties"].to_pylist() == [1]
    # users outside the window are not in the per-user table
    assert eq.reciprocity(ev, level="user", window=(50, 60)).num_rows == 0


def test_window_accepts_datetimes_strings_and_numpy() -> None:
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    ts = pa.array([t0 + dt.timedelta(days=i) for i in range(4)], pa.timestamp("s", tz="UTC"))
    ev = eq.read_events({"actor": [1, 2, 1, 2], "target": [2, 1, 2, 1], "ts": ts})
    ref = eq.reciprocity(ev, level="dyad", window=(t0 + dt.timedelta(days=1),
                                                   t0 + dt.timedelta(days=3)))
    for w in [("2024-01-02T00:00:00Z", "2024-01-04"),
              (np.datetime64("2024-01-02"), np.datetime64("2024-01-04")),
              (dt.date(2024, 1, 2), dt.date(2024, 1, 4)),
              (int(t0.timestamp()) + DAY, int(t0.timestamp()) + 3 * DAY)]:
        assert eq.reciprocity(ev, level="dyad", window=w).equals(ref)
    assert ref["n_uv"].to_pylist() == [1] and ref["first"].type == ts.type


def test_decay_halves_per_half_life() -> None:
    ev = {"actor": [1, 2], "target": [2, 1], "ts": [0, 10 * DAY], "kind": ["message"] * 2}
    d = eq.reciprocity(ev, level="dyad", half_life="10D").to_pylist()[0]
    assert d["w_uv"] == pytest.approx(1.5) and d["w_vu"] == pytest.approx(3.0)
    u = {r["user"]: r for r in eq.reciprocity(ev, level="user", half_life=10 * DAY).to_pylist()}
    assert u[1]["out_strength"] == pytest.approx(1.5) and u[1]["in_strength"] == pytest.approx(3)
    g = eq.reciprocity(ev, half_life=dt.timedelta(days=10)).to_pylist()[0]
    assert g["weighted"] == pytest.approx(2 * 1.5 / 4.5)
    # decay towards the window end when there is one
    d2 = eq.reciprocity(ev, level="dyad", half_life="10D", window=(None, 20 * DAY)).to_pylist()
    assert d2[0]["w_vu"] == pytest.approx(1.5) and d2[0]["w_uv"] == pytest.approx(0.75)


def test_decay_with_min_weight_drops_old_ties() -> None:
    ev = {"actor": [1, 2], "target": [2, 1], "ts": [0, 40 * DAY], "kind": ["message"] * 2}
    assert eq.reciprocity(ev, half_life="10D")["arc"].to_pylist() == [1.0]
    # the old message weighs 3 / 16 < 0.5 now: no tie 1 -> 2 any more
    assert eq.reciprocity(ev, half_life="10D", min_weight=0.5)["arc"].to_pylist() == [0.0]


def test_bad_window_and_options() -> None:
    ev = {"actor": [1], "target": [2], "ts": [0]}
    with pytest.raises(OptionError, match="after its start"):
        eq.reciprocity(ev, window=(10, 10))
    with pytest.raises(OptionError, match="pair"):
        eq.reciprocity(ev, window=(1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="min_weight"):
        eq.reciprocity(ev, min_weight=-1)
    with pytest.raises(OptionError, match="half_life"):
        eq.reciprocity(ev, half_life=0)
    with pytest.raises(OptionError, match="ISO"):
        eq.reciprocity(ev, window=("yesterday", None))


SPAN = 30_000_000  # the strategy's times lie in [1.5e9, 1.53e9] seconds


@given(event_tables(weights=True), st.integers(0, SPAN), st.integers(1, SPAN),
       st.booleans(), st.booleans())
def test_windows_match_naive_reference(table: pa.Table, start: int, length: int,
                                       open_lo: bool, open_hi: bool) -> None:
    t0 = None if open_lo else 1_500_000_000 + start
    t1 = None if open_hi else 1_500_000_000 + start + length
    check_all_levels(table, weight="weight", window=(t0, t1))


@given(event_tables(weights=True), st.sampled_from([3600.0, 86400 * 7.0, "30D", 1e7]),
       st.one_of(st.none(), st.integers(0, SPAN)), st.sampled_from([0.0, 0.05, 1.0]))
def test_decay_matches_naive_reference(table: pa.Table, half_life: object, end: int | None,
                                       mw: float) -> None:
    window = None if end is None else (None, 1_500_000_000 + end + 1)
    check_all_levels(table, weight="weight", half_life=half_life, window=window, min_weight=mw)


def test_reference_time_defaults() -> None:
    ev = eq.read_events({"actor": [1, 2], "target": [2, 1], "ts": [5, 9]})
    assert tie_options(ev, half_life=1).reference == 9 * 10**9
    assert tie_options(ev, half_life=1, window=(0, 20)).reference == 20 * 10**9
    assert tie_options(ev).reference is None
