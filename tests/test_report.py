"""Report: contract over every table, exports, display, one person's view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.report import Report
from engagequal.synth import population
from engagequal.testing import assert_no_nan

TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}


@pytest.fixture(scope="module")
def report() -> Report:
    t, _ = population(300, 9_000, seed=5)
    return eq.analyze(t, layer_method="rank", progress=False, **TREE)


SHARES = ("node_reciprocity", "out_share", "weighted_reciprocity", "balance", "reciprocity",
          "conversation_share", "inner_circle", "responsiveness", "steadiness", "substance",
          "diversity", "response_rate", "answered_share", "tree_conversation_share")
COUNTS = ("connections", "contacts", "audience", "out_ties", "in_ties", "followers",
          "engaged_audience", "posts", "received", "answered", "active_size")


def test_users_contract(report: Report) -> None:
    u = report.users
    assert u.column_names[0] == "user"
    ids = u.column("user").to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert_no_nan(u)
    for c in SHARES:
        if c in u.column_names:
            v = pc.drop_null(u.column(c)).to_numpy()
            assert ((v >= 0) & (v <= 1 + 1e-12)).all(), c
    for c in COUNTS:
        assert pa.types.is_integer(u.schema.field(c).type), c
        v = pc.drop_null(u.column(c)).to_numpy()
        assert (v >= 0).all(), c
    s = u.column("score")
    assert s.null_count == 0 and pa.types.is_float64(s.type)
    assert 0 <= pc.min(s).as_py() <= pc.max(s).as_py() <= 100
    eng = u.column("engaged_audience").to_numpy()
    assert (eng <= u.column("followers").to_numpy()).all()


def test_dyads_threads_layers_contract(report: Report) -> None:
    d = report.dyads
    for c, typ in (("w_uv", pa.float64()), ("w_vu", pa.float64()), ("n_uv", pa.int64()),
                   ("mutual", pa.bool_())):
        assert d.schema.field(c).type == typ
    assert_no_nan(d)
    assert pc.all(pc.less(d.column("u"), d.column("v"))).as_py()
    th = report.threads
    assert_no_nan(th)
    assert th.num_rows > 0
    assert pc.min(th.column("size")).as_py() >= 1
    assert pc.all(pc.less_equal(th.column("max_depth"),
                                pc.subtract(th.column("size"), 1))).as_py()
    lay = report.layers
    assert_no_nan(lay)
    names = sorted((c for c in lay.column_names if c.startswith("layer_")),
                   key=lambda c: int(c.split("_")[1]))
    sizes = np.stack([lay.column(c).fill_null(0).to_numpy() for c in names], axis=1)
    assert (np.diff(sizes, axis=1) >= 0).all()  # cumulative: nested layers


def test_summary_and_dropped(report: Report) -> None:
    s = report.summary
    assert s.num_rows == 1
    h = report.headline()
    assert h["events"] == report.options["events"]
    assert h["users"] == report.users.num_rows
    assert 0 <= h["score_q1"] <= h["median_score"] <= h["score_q3"] <= 100
    dr = report.dropped
    assert dr.column_names == ["reason", "rows", "action"]
    kept = sum(r for r, a in zip(dr.column("rows").to_pylist(), dr.column("action").to_pylist(),
                                 strict=True) if a == "set_aside")
    assert h["rows_in"] == h["events"] + kept


def test_exports(report: Report, tmp_path: Path) -> None:
    import pandas as pd
    import polars as pl

    assert pl.DataFrame(report).shape == (report.users.num_rows, report.users.num_columns)
    assert report.to_polars("dyads").height == report.dyads.num_rows
    df = report.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == report.users.num_rows
    assert pa.table(report).equals(report.users)  # via __arrow_c_stream__
    paths = report.to_parquet(tmp_path / "out")
    assert {p.stem for p in paths} >= {"users", "dyads", "threads", "layers", "summary",
                                       "dropped", "layers_tie"}
    assert pq.read_table(tmp_path / "out" / "users.parquet").equals(report.users)
    with pytest.raises(OptionError, match="overwrite"):
        report.to_parquet(tmp_path / "out")
    report.to_parquet(tmp_path / "out", overwrite=True)
    with pytest.raises(OptionError, match="no table"):
        report.table("nope")


def test_display(report: Report) -> None:
    text = repr(report)
    assert text.startswith("<engagequal.Report>") and ".users" in text and "arc=" in text
    html = report._repr_html_()
    assert "Top users by quality score" in html and "<table" in html
    assert len(html) < 50_000  # truncated, not the whole table


def test_ego_view(report: Report) -> None:
    best = report.layers.sort_by([("active_size", "descending")]).column("ego")[0].as_py()
    e = report.ego(best)
    assert e.row["user"] == best
    assert e.layers.num_rows == pc.sum(pc.equal(report.details["layers_tie"].column("ego"),
                                                best)).as_py()
    w = e.ties.column("weight").to_numpy()
    assert (np.diff(w) <= 0).all() and e.ties.num_rows <= 10
    assert "engagequal.Ego" in repr(e)
    with pytest.raises(KeyError):
        report.ego(-12345)


def test_from_tables_is_simple_and_checked() -> None:
    ev = {"actor": [1, 2, 3], "target": [2, 1, 1], "ts": [0, 1, 2]}
    r = Report.from_tables({"reciprocity_user": eq.reciprocity(ev, level="user"),
                            "quality": eq.quality(ev)})
    assert r.users.num_rows == 3 and "score" in r.users.column_names
    assert r.threads.num_columns == 0
    with pytest.raises(OptionError, match="unknown report parts"):
        Report.from_tables({"popularity": pa.table({"x": [1]})})
    empty = Report()
    assert "0 rows" in repr(empty) and empty.headline() == {}
