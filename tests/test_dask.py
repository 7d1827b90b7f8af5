"""engagequal.dask.analyze on real local clusters equals the in-memory tables."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engagequal as eq

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from dask.delayed import delayed  # noqa: E402

from conftest import data_path  # noqa: E402
from engagequal.distributed import partials as P  # noqa: E402
from engagequal.kernels.dyads import aggregate_dyads  # noqa: E402
from engagequal.synth import simple_events  # noqa: E402

LEVELS = ("global", "user", "dyad")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            cluster.get_client() as c:
        yield c


def assert_tables_equal(got: pa.Table, want: pa.Table) -> None:
    """Same schema, rows and values; floats equal up to summation order."""
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    for name in want.column_names:
        a, b = got.column(name), want.column(name)
        assert a.null_count == b.null_count, name
        if pa.types.is_floating(b.type):
            assert np.array_equal(a.is_null().to_numpy(zero_copy_only=False),
                                  b.is_null().to_numpy(zero_copy_only=False)), name
            x = a.fill_null(0.0).to_numpy()
            y = b.fill_null(0.0).to_numpy()
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-300, err_msg=name)
        else:
            assert a.equals(b), name


def assert_same_as_memory(res: Any, table: pa.Table, *, delta: Any = "7D",
                          **options: Any) -> None:
    read = {k: options.pop(k) for k in list(options)
            if k in ("actor", "target", "ts", "kind", "weight", "strict")}
    for level in LEVELS:
        want = eq.reciprocity(table, level=level, **options, **read)
        assert_tables_equal(res[f"reciprocity_{level}"], want)
    if "responsiveness" in res.tables:
        want = eq.responsiveness(table, delta=delta, window=options.get("window"), **read)
        assert_tables_equal(res["responsiveness"], want)


def frame(table: pa.Table, cuts: Sequence[int]) -> Any:
    """A Dask DataFrame cut at ``cuts`` (repeated cuts give empty partitions)."""
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    bounds = [0, *sorted(cuts), len(df)]
    pieces = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return dd.from_delayed([delayed(p) for p in pieces], meta=df.iloc[:0], verify_meta=False)


KINDS = ["like", "comment", "reply", "message", "share"]


@st.composite
def streams(draw: Any) -> tuple[pa.Table, list[int]]:
    n = draw(st.integers(1, 60))
    users = st.integers(0, 9)
    actor = draw(st.lists(users, min_size=n, max_size=n))
    target = draw(st.lists(users, min_size=n, max_size=n))
    ts = draw(st.lists(st.integers(0, 3 * 86_400), min_size=n, max_size=n))
    kind = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    cuts = draw(st.lists(st.integers(0, n), max_size=5))
    table = pa.table({"actor": pa.array(actor, pa.int64()), "target": pa.array(target, pa.int64()),
                      "ts": pa.array(ts, pa.int64()), "kind": pa.array(kind)})
    return table, cuts


@settings(max_examples=12)
@given(data=streams())
def test_hypothesis_streams_equal_memory(client: Any, data: tuple[pa.Table, list[int]]) -> None:
    table, cuts = data
    res = eq.dask.analyze(frame(table, cuts), client, delta="1D")
    assert res.profile["partitions"] == len(cuts) + 1
    assert res.accounting.rows_in == table.num_rows
    assert_same_as_memory(res, table, delta="1D")


def test_partitions_and_empty_partitions_do_not_change_results(client: Any) -> None:
    table = simple_events(60, 3000, seed=3)
    runs = [[], [1500], [0, 0, 700, 700, 2999, 3000, 3000], list(range(100, 3000, 250))]
    for cuts in runs:
        res = eq.dask.analyze(frame(table, cuts), client, fanin=2)
        assert_same_as_memory(res, table)


def test_string_ids_window_decay_and_min_weight(client: Any) -> None:
    t = simple_events(40, 2000, seed=5)
    names = pa.array([f"user-{i:03d}" for i in range(40)])
    table = t.set_column(0, "src", names.take(t.column("actor")))
    table = table.set_column(1, "dst", names.take(t.column("target")))
    opts = {"window": (1_600_000_000 + 30 * 86_400, 1_600_000_000 + 200 * 86_400),
            "half_life": "30D", "min_weight": 0.5}
    res = eq.dask.analyze(frame(table, [500, 1000, 1000]), client, actor="src", target="dst",
                          **opts)
    assert_same_as_memory(res, table, actor="src", target="dst", **opts)


def test_all_events_in_one_of_many_partitions_and_no_events(client: Any) -> None:
    table = pa.table({"actor": [1, 2, 2], "target": [2, 1, 2], "ts": [0, 5, 9],
                      "kind": ["message", "message", "reply"]})
    res = eq.dask.analyze(frame(table, [0, 0, 3, 3]), client)
    assert_same_as_memory(res, table)
    assert res["reciprocity_global"].column("self_interactions").to_pylist() == [1]
    assert res["responsiveness"].column("median_response_s").to_pylist() == [None, 5.0]


def test_college_msg_parquet_glob_equals_memory(client: Any, tmp_path: Path) -> None:
    path = data_path("college-msg", "CollegeMsg.txt")
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(
        column_names=["actor", "target", "ts"]), parse_options=pacsv.ParseOptions(delimiter=" "))
    for i, start in enumerate(range(0, table.num_rows, 20_000)):
        pq.write_table(table.slice(start, 20_000), tmp_path / f"part-{i}.parquet",
                       row_group_size=7_000)
    res = eq.dask.analyze(str(tmp_path / "*.parquet"), client)
    assert res.profile["partitions"] >= 3
    assert_same_as_memory(res, table)
    # the published figure: 63.6% of the ties are reciprocated (SNAP)
    arc = res["reciprocity_global"].column("arc")[0].as_py()
    assert arc == pytest.approx(0.636, abs=0.001)


def test_worker_killed_mid_job_does_not_change_result() -> None:
    table = simple_events(300, 40_000, seed=11)
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    n = 16
    bounds = np.linspace(0, len(df), n + 1).astype(int)

    def slow_piece(i: int) -> Any:  # slow storage: each partition takes a moment to load
        import time as _time

        _time.sleep(0.25)
        return df.iloc[bounds[i]:bounds[i + 1]]

    source = dd.from_map(slow_piece, list(range(n)), meta=df.iloc[:0], enforce_metadata=False)
    want = eq.dask.analyze(frame(table, []), metrics=["reciprocity", "responsiveness"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            cluster.get_client() as c:
        out: dict[str, Any] = {}

        def job() -> None:
            out["res"] = eq.dask.analyze(source, c)

        th = threading.Thread(target=job)
        th.start()
        deadline = time.time() + 60
        victim = None
        while time.time() < deadline and victim is None:
            held = c.has_what()
            for addr, keys in held.items():
                if sum("read_partition" in str(k) for k in keys) >= 2:
                    victim = addr
                    break
            time.sleep(0.05)
        assert victim is not None, "the job never got going"
        assert th.is_alive(), "the job ended before the worker was killed"
        pid = c.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        th.join(timeout=120)
        assert not th.is_alive()
        assert victim not in c.scheduler_info()["workers"]
    got = out["res"]
    for name, t in want.tables.items():
        assert_tables_equal(got[name], t)
    assert_same_as_memory(got, table)


def test_merge_is_associative_and_equals_one_aggregation() -> None:
    rng = np.random.default_rng(0)
    n, nu = 500, 12
    a, b = rng.integers(0, nu, n).astype(np.int32), rng.integers(0, nu, n).astype(np.int32)
    w, t = rng.integers(1, 5, n).astype(np.float64), rng.integers(0, 1000, n)
    whole = aggregate_dyads(a, b, w, t, nu)
    cuts = [0, 100, 100, 260, 499, n]
    parts = [aggregate_dyads(a[i:j], b[i:j], w[i:j], t[i:j], nu)
             for i, j in itertools.pairwise(cuts)]
    left = P.merge_dyads(P.merge_dyads(*parts[:2]), P.merge_dyads(*parts[2:]))
    flat = P.merge_dyads(*parts[::-1])
    for m in (left, flat):
        for f in ("u", "v", "w", "n", "first", "last"):
            assert np.array_equal(getattr(m, f), getattr(whole, f)), f


def test_import_engagequal_does_not_import_dask_and_missing_extra_is_named() -> None:
    code = ("import sys, engagequal; assert 'dask' not in sys.modules, 'dask imported'; "
            "sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
            "try:\n    engagequal.dask.analyze('x.parquet')\n"
            "except engagequal.errors.MissingExtraError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "engagequal[dask]" in out.stdout


def test_bad_source_and_options(client: Any) -> None:
    with pytest.raises(eq.errors.SourceError):
        eq.dask.analyze({"actor": [1]}, client)
    table = pa.table({"actor": [1], "target": [2], "ts": [0]})
    with pytest.raises(eq.errors.OptionError):
        eq.dask.analyze(frame(table, []), client, metrics=["nonsense"])
    bad = pa.table({"actor": [1, None], "target": [2, 1], "ts": [0, 1]})
    with pytest.raises(eq.errors.NullValueError):
        eq.dask.analyze(frame(bad, [1]), client)
    res = eq.dask.analyze(frame(bad, [1]), client, strict=False)
    assert res.accounting.set_aside == {"null_actor": 1}
    assert res.accounting.set_aside_rows.column("row").to_pylist() == [1]


def test_arrow_kernels_batch_by_batch_equal_memory() -> None:
    """The engine-free core of the Ray / Spark recipes, on slices of CollegeMsg."""
    from engagequal.distributed import recipes

    path = data_path("college-msg", "CollegeMsg.txt")
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(
        column_names=["actor", "target", "ts"]), parse_options=pacsv.ParseOptions(delimiter=" "))
    parts = [recipes.dyads_batch(b) for b in table.to_batches(max_chunksize=7_000)]
    assert len(parts) > 5
    got = recipes.reciprocity_from_partials(parts, time_type=pa.int64())
    for level in LEVELS:
        assert_tables_equal(got[level], eq.reciprocity(table, level=level))
