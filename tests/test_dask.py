"""engagequal.dask.analyze on real local clusters: the same Report as engagequal.analyze."""

from __future__ import annotations

import glob
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
from engagequal.testing import assert_tables_equal  # noqa: E402
from engagequal.testing.strategies import event_tables  # noqa: E402

TREE = {"event_id": "event_id", "parent": "parent"}
TREE_THREAD = {**TREE, "thread": "thread"}
MAIN = ("users", "dyads", "threads", "layers", "summary", "dropped")
#: the natural layers' null-model p-values compare a null statistic with the
#: observed one for equality; partial sums added in another order move the
#: observed one by an ulp and can flip a tie (see docs/dask.md)
NULL_MODEL_COLUMNS = frozenset({"null_p", "chance", "chance_share", "layer_null_p",
                                "layer_chance"})


#: floats equal up to summation order: relative 1e-9 (the default), and 1e-12
#: absolute for values that are zero in one order of additions (diversity
#: 1 - 1/exp(H) of one partner)
ATOL = 1e-12


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            cluster.get_client() as c:
        yield c


def _comparable(t: pa.Table, skip: frozenset[str]) -> pa.Table:
    keep = [c for c, f in zip(t.column_names, t.schema, strict=True)
            if c not in skip and not pa.types.is_null(f.type)]
    return t.select(keep)


def assert_reports_equal(got: eq.Report, want: eq.Report, *, natural: bool = False) -> None:
    """Every table of the two reports equal (floats up to summation order)."""
    skip = NULL_MODEL_COLUMNS if natural else frozenset()
    assert set(want.details) <= set(got.details), set(want.details) - set(got.details)
    for name, t in want.details.items():
        try:
            assert_tables_equal(_comparable(got.details[name], skip), _comparable(t, skip),
                                atol=ATOL)
        except AssertionError as exc:
            raise AssertionError(f"details[{name!r}]: {exc}") from exc
    for name in MAIN:
        try:
            assert_tables_equal(_comparable(getattr(got, name), skip),
                                _comparable(getattr(want, name), skip), atol=ATOL)
        except AssertionError as exc:
            raise AssertionError(f"report.{name}: {exc}") from exc
    assert isinstance(got, eq.Report) and got.profile is got.options["dask"]
    assert "dask_profile" in got.details and got.profile["partitions"] >= 1
    assert got.accounting is not None
    assert got.accounting.rows_in == want.summary["rows_in"][0].as_py()


def frame(table: pa.Table, cuts: Sequence[int]) -> Any:
    """A Dask DataFrame cut at ``cuts`` (repeated cuts give empty partitions)."""
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    bounds = [0, *sorted(cuts), len(df)]
    pieces = [df.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return dd.from_delayed([delayed(p) for p in pieces], meta=df.iloc[:0], verify_meta=False)


def both(table: pa.Table, cuts: Sequence[int], client: Any, **options: Any
         ) -> tuple[eq.Report, eq.Report]:
    got = eq.dask.analyze(frame(table, cuts), client, **options)
    want = eq.analyze(table, progress=False, **options)
    return got, want


@st.composite
def streams(draw: Any) -> tuple[pa.Table, list[int], dict[str, str]]:
    mapping = draw(st.sampled_from([{}, TREE, TREE_THREAD]))
    table = draw(event_tables(min_events=1, max_events=40, reply_trees=bool(mapping)))
    if mapping == TREE_THREAD:  # threads that cut some trees: cross-thread parents
        n = table.num_rows
        thread = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
        table = table.append_column("thread", pa.array(thread))
    cuts = draw(st.lists(st.integers(0, table.num_rows), max_size=4))
    return table, cuts, mapping


@settings(max_examples=12, deadline=None)
@given(data=streams())
def test_hypothesis_reports_equal_memory(client: Any,
                                         data: tuple[pa.Table, list[int], dict[str, str]]
                                         ) -> None:
    table, cuts, mapping = data
    got, want = both(table, cuts, client, kind="kind", layer_method="rank", delta="30D",
                     **mapping)
    assert got.options["dask"]["partitions"] == len(cuts) + 1
    assert_reports_equal(got, want)


@pytest.fixture(scope="module")
def population() -> pa.Table:
    return eq.synth.population(150, 4000, seed=4)[0]


@pytest.mark.parametrize("cuts", [[], [1300, 2700], [500, 1000, 1000, 1800, 2600, 3300, 3900],
                                  [0, 0, 4000]], ids=["1", "3", "7+empty", "all-in-one"])
def test_partitions_and_empty_partitions_do_not_change_results(
        client: Any, population: pa.Table, cuts: list[int]) -> None:
    got, want = both(population, cuts, client, **TREE)
    assert_reports_equal(got, want, natural=True)


@pytest.mark.parametrize("method", ["rank", "frequency", "natural"])
@pytest.mark.parametrize("mapping", [{}, TREE, TREE_THREAD], ids=["flat", "tree", "thread"])
def test_layer_methods_and_thread_columns(client: Any, population: pa.Table, method: str,
                                          mapping: dict[str, str]) -> None:
    got, want = both(population, [900, 2000, 3100], client, layer_method=method, **mapping)
    assert_reports_equal(got, want, natural=method == "natural")


def test_natural_layers_without_null_model_run_in_blocks_and_are_exact(
        client: Any, population: pa.Table) -> None:
    opts = {"layer_options": {"null_model": None}}
    got, want = both(population, [1000, 2000, 3000], client, **opts, **TREE)
    assert_reports_equal(got, want)
    assert got.options["dask"]["tasks"]["layer_tables"]["tasks"] == 4


@pytest.mark.parametrize("null_model", ["lognormal", "shuffle"])
def test_natural_null_model_in_blocks_is_exact_with_integer_weights(
        client: Any, population: pa.Table, null_model: str) -> None:
    # integer weights: every partial sum is exact, so the null-model p-values
    # (which compare floats for equality) must match the in-memory ones too
    w = pa.array((np.arange(population.num_rows) % 3 + 1).astype(np.float64))
    table = population.append_column("w", w)
    opts = {"weight": "w", "metrics": ["layers"], "layer_options": {"null_model": null_model}}
    got, want = both(table, [700, 1900, 2600, 3500], client, **opts)
    assert_reports_equal(got, want)
    assert got.options["dask"]["tasks"]["layer_tables"]["tasks"] == 5
    assert want.layers.column("null_p").null_count < want.layers.num_rows


def test_string_ids_window_decay_and_min_weight(client: Any, population: pa.Table) -> None:
    names = pa.array([f"user-{i}" for i in range(2000)])
    codes = pa.chunked_array([pa.array(np.unique(np.concatenate([
        population["actor"].to_numpy(), population["target"].drop_null().to_numpy()])))])
    table = population
    for col in ("actor", "target"):
        idx = pa.compute.index_in(table[col], value_set=codes.combine_chunks())
        table = table.set_column(table.column_names.index(col), col, names.take(idx))
    t0 = population["ts"].to_numpy().min()
    opts = {"window": (int(t0) + 30 * 86_400, int(t0) + 200 * 86_400), "half_life": "30D",
            "min_weight": 0.5, "metrics": ["reciprocity", "layers", "quality", "conversations"]}
    got, want = both(table, [1500, 1500, 3000], client, **opts, **TREE)
    assert_reports_equal(got, want, natural=True)


@pytest.mark.parametrize("mapping", [{}, TREE], ids=["flat", "tree"])
def test_no_events_in_any_partition(client: Any, mapping: dict[str, str]) -> None:
    cols = ["actor", "target", "ts", *(["event_id", "parent"] if mapping else [])]
    table = pa.table({c: pa.array([], pa.int64()) for c in cols})
    got, want = both(table, [0, 0], client, **mapping)
    assert_reports_equal(got, want)
    assert got.users.num_rows == 0 and got.accounting.rows_in == 0


def test_lenient_duplicates_and_cycles_across_partitions(client: Any) -> None:
    # event 3 twice (rows 2 and 5, in different partitions); 7 -> 8 -> 7 is a
    # cycle split over two partitions; 11 replies to a missing parent
    table = pa.table({
        "actor": [1, 2, 1, 3, 2, 3, 1, 2, 3, 1],
        "target": [2, None, None, 1, None, 2, 2, None, None, None],
        "ts": [0, 10, 20, 30, 40, 20, 60, 70, 80, 90],
        "event_id": [1, 2, 3, 4, 5, 3, 7, 8, 9, 11],
        "parent": [None, 1, 2, 3, 4, 1, 8, 7, 8, 99],
    })
    got, want = both(table, [3, 7], client, strict=False, **TREE)
    assert_reports_equal(got, want, natural=True)
    acc = got.accounting
    mem = eq.read_events(table, strict=False, **TREE).accounting
    assert acc.set_aside_rows.equals(mem.set_aside_rows)
    assert dict(acc.notes) == dict(mem.notes) and mem.notes["orphan_parent"] >= 1
    with pytest.raises(eq.errors.InputError):
        eq.dask.analyze(frame(table, [3, 7]), client, **TREE)


def _college_msg() -> pa.Table:
    path = data_path("college-msg", "CollegeMsg.txt")
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(
        column_names=["actor", "target", "ts"]), parse_options=pacsv.ParseOptions(delimiter=" "))


def test_college_msg_parquet_glob_equals_memory(client: Any, tmp_path: Path) -> None:
    table = _college_msg()
    for i, start in enumerate(range(0, table.num_rows, 20_000)):
        pq.write_table(table.slice(start, 20_000), tmp_path / f"part-{i}.parquet",
                       row_group_size=7_000)
    got = eq.dask.analyze(str(tmp_path / "*.parquet"), client, layer_method="rank")
    want = eq.analyze(table, layer_method="rank", progress=False)
    assert got.options["dask"]["partitions"] >= 3
    assert_reports_equal(got, want)
    # the published figure: 63.6% of the ties are reciprocated (SNAP)
    assert got.summary.column("arc")[0].as_py() == pytest.approx(0.636, abs=0.001)


@pytest.mark.parametrize("mapping", [{}, {"thread": None}], ids=["thread", "no-thread"])
def test_apache_mbox_equals_memory(client: Any, mapping: dict[str, Any]) -> None:
    from engagequal.io import READ_OPTIONS, read_mbox

    files = sorted(glob.glob(str(data_path("apache-mbox") / "*.mbox")))
    table = read_mbox(files).drop_columns(["record"])
    opts = {**READ_OPTIONS, **mapping}
    opts = {k: v for k, v in opts.items() if v is not None}
    got, want = both(table, [200, 450], client, **opts)
    assert got.threads.num_rows == want.threads.num_rows > 100
    assert_reports_equal(got, want, natural=True)


def test_twitter16_trees_equal_memory(client: Any) -> None:
    from engagequal.metrics.conversations import propagation_tree_table

    table = propagation_tree_table(data_path("twitter16-trees", "twitter16_tree.tar.gz"))
    table = table.slice(0, 120_000)  # a third of the trees keeps the test short
    opts = {"target": None, "kind": "kind", "strict": False, **TREE_THREAD}
    got, want = both(table, [40_000, 80_000], client,
                     metrics=["reciprocity", "conversations"], **opts)
    assert_reports_equal(got, want)
    assert got.details["accounting"].num_rows > 0


def test_worker_killed_mid_job_does_not_change_result(population: pa.Table) -> None:
    table = population
    df = table.to_pandas(types_mapper=pd.ArrowDtype)
    n = 12
    bounds = np.linspace(0, len(df), n + 1).astype(int)

    def slow_piece(i: int) -> Any:  # slow storage: each partition takes a moment to load
        import time as _time

        _time.sleep(0.3)
        return df.iloc[bounds[i]:bounds[i + 1]]

    source = dd.from_map(slow_piece, list(range(n)), meta=df.iloc[:0], enforce_metadata=False)
    want = eq.analyze(table, progress=False, layer_method="rank", **TREE)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            cluster.get_client() as c:
        out: dict[str, Any] = {}

        def job() -> None:
            out["res"] = eq.dask.analyze(source, c, layer_method="rank", **TREE)

        th = threading.Thread(target=job)
        th.start()
        deadline = time.time() + 60
        victim = None
        while time.time() < deadline and victim is None:
            for addr, keys in c.has_what().items():
                if sum("to_arrow" in str(k) or "local_components" in str(k)
                       for k in keys) >= 2:
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
    assert_reports_equal(out["res"], want)


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


def test_thread_components_join_rows_linked_across_partitions() -> None:
    from engagequal.distributed import threads as T

    parts = [pa.table({"event_id": [1, 2], "parent": [None, 5], "thread": ["x", "y"]}),
             pa.table({"event_id": [5, 6], "parent": [None, 1], "thread": ["z", "y"]}),
             pa.table({"event_id": [9], "parent": [None], "thread": ["w"]})]
    comps = [T.local_components(t, i, "event_id", "parent", "thread") for i, t in enumerate(parts)]
    splits = [T.split_nodes(c, 3) for c in comps]
    edges = [T.shared_edges(*[s[j] for s in splits]) for j in range(3)]
    mapping = T.join_labels(*edges)
    keys = [T.row_keys(c, mapping, 0) for c in comps]
    # 1 and 6 (parent 1), 2 and 6 (thread y), 2 and 5 (parent 5): one group; 9 alone
    assert len({*keys[0].tolist(), *keys[1].tolist()}) == 1
    assert keys[2][0] not in set(keys[0].tolist())


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
    with pytest.raises(eq.errors.OptionError):
        eq.dask.analyze(frame(table, []), client, quality_weights={"embeddedness": 1.0})
    bad = pa.table({"actor": [1, None], "target": [2, 1], "ts": [0, 1]})
    with pytest.raises(eq.errors.NullValueError):
        eq.dask.analyze(frame(bad, [1]), client)
    res = eq.dask.analyze(frame(bad, [1]), client, strict=False)
    acc = res.accounting
    assert acc.set_aside == {"null_actor": 1}
    assert acc.set_aside_rows.column("row").to_pylist() == [1]


def test_arrow_kernels_batch_by_batch_equal_memory() -> None:
    """The engine-free core of the Ray / Spark recipes, on slices of CollegeMsg."""
    from engagequal.distributed import recipes

    table = _college_msg()
    parts = [recipes.dyads_batch(b) for b in table.to_batches(max_chunksize=7_000)]
    assert len(parts) > 5
    got = recipes.reciprocity_from_partials(parts, time_type=pa.int64())
    for level in ("global", "user", "dyad"):
        assert_tables_equal(got[level], eq.reciprocity(table, level=level))
