"""Streams: analyze_stream over files and iterators, Tracker, rolling, write_events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.io.write import hash_ids, write_events
from engagequal.stream import BatchError
from test_state import assert_tables_close, event_tables, split

TREE = {"event_id": "id", "parent": "parent", "target": None}


def forest(n: int, seed: int, n_users: int = 12) -> pa.Table:
    """Random reply forest: about 30% roots, replies to any earlier event."""
    rng = np.random.default_rng(seed)
    par: list[int | None] = []
    for i in range(n):
        par.append(None if i == 0 or rng.random() < 0.3 else int(rng.integers(0, i)))
    return pa.table({
        "id": pa.array(np.arange(n) * 3 + 1, pa.int64()),
        "parent": pa.array([None if p is None else p * 3 + 1 for p in par], pa.int64()),
        "actor": pa.array([f"u{a}" for a in rng.integers(0, n_users, n)]),
        "ts": pa.array(np.sort(rng.integers(0, 90 * 86_400, n))),
        "kind": pa.array(rng.choice(["reply", "comment", "like"], n)),
    })


def memory_tables(table: pa.Table, **read: Any) -> dict[str, pa.Table]:
    ev = eq.read_events(table, **read)
    out = {f"reciprocity_{lv}": eq.reciprocity(ev, level=lv) for lv in ("global", "user", "dyad")}
    out["responsiveness_user"] = eq.responsiveness(ev)
    if ev.tree is not None:
        for lv in ("thread", "dyad", "user"):
            out[f"conversations_{lv}"] = eq.conversations(ev, level=lv)
    return out


def stream(source: Any, **options: Any) -> dict[str, pa.Table]:
    """The per-family tables of the streamed report."""
    return dict(eq.analyze_stream(source, **options).details)


def check(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    for name, table in want.items():
        assert_tables_close(got[name], table)


# ------------------------------------------------------------ write_events
def test_write_events_keeps_every_thread_in_one_file(tmp_path: Path) -> None:
    t = forest(400, 1)
    files = write_events(t, tmp_path, buckets=5, event_id="id", parent="parent")
    assert 1 < len(files) <= 5
    threads = eq.conversations(t, level="event", **TREE).select(["event_id", "thread"])
    seen: dict[int, int] = {}
    for i, f in enumerate(files):
        part = pq.read_table(f)
        assert part.schema.metadata[b"engagequal.bucketed_by"] == b"thread"
        ids = pc.index_in(part.column("id"), value_set=threads.column("event_id"))
        for th in set(threads.column("thread").take(ids).to_pylist()):
            assert seen.setdefault(th, i) == i, "a thread spans two files"
    assert sum(pq.read_metadata(f).num_rows for f in files) == t.num_rows


def test_write_events_by_thread_column_streams_batches(tmp_path: Path) -> None:
    t = pa.table({"actor": [1, 2, 3, 4], "target": [2, 1, 4, 3], "ts": [0, 1, 2, 3],
                  "thread": ["a", "a", "b", "c"]})
    files = write_events(t.to_batches(max_chunksize=1), tmp_path, buckets=3, thread="thread")
    by_file = [set(pq.read_table(f).column("thread").to_pylist()) for f in files]
    assert sorted(x for s in by_file for x in s) == ["a", "b", "c"]
    with pytest.raises(eq.errors.SourceError, match="already holds"):
        write_events(t, tmp_path, buckets=3, thread="thread")


def test_hash_ids_is_stable_and_spread() -> None:
    a = hash_ids(pa.array(["", "a", "ab", "ba", None, "a"]))
    assert a[1] == a[5] and len({int(x) for x in a[:4]}) == 4 and a[4] == 0
    b = hash_ids(pa.array(np.arange(10_000)))
    counts = np.bincount((b % np.uint64(8)).astype(np.int64), minlength=8)
    assert counts.min() > 1000


# ------------------------------------------------------------ analyze_stream
def test_bucketed_folder_equals_in_memory(tmp_path: Path) -> None:
    t = forest(600, 2)
    write_events(t, tmp_path, buckets=4, event_id="id", parent="parent")
    got = stream(tmp_path, progress=False, **TREE)
    check(got, memory_tables(t, **TREE))


@given(event_tables(), st.lists(st.integers(0, 60), max_size=5))
def test_iterator_of_batches_equals_in_memory(table: pa.Table, cuts: list[int]) -> None:
    batches = [b for p in split(table, cuts) for b in p.to_batches()] or [
        pa.RecordBatch.from_pylist([], schema=table.schema)]
    check(stream(iter(batches), progress=False), memory_tables(table))


@given(st.integers(0, 10_000), st.lists(st.integers(0, 300), max_size=4))
def test_open_threads_buffered_until_the_end(seed: int, cuts: list[int]) -> None:
    t = forest(300, seed)
    got = stream(split(t, cuts), progress=False, **TREE)
    check(got, memory_tables(t, **TREE))


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of a few rows, so the merge reads many runs, ranges and batches."""
    from engagequal import spill

    monkeypatch.setattr(spill, "RUN_ROWS", 40)
    monkeypatch.setattr(spill, "BATCH_ROWS", 7)
    monkeypatch.setattr(spill, "SAMPLE", 3)


@pytest.mark.parametrize("ids", ["int", "str"])
def test_spilled_thread_table_equals_in_memory(tmp_path: Path, small_runs: None,
                                               ids: str) -> None:
    t = forest(900, 5)
    if ids == "str":
        t = t.set_column(0, "id", pc.cast(t.column("id"), pa.string()))
        t = t.set_column(1, "parent", pc.cast(t.column("parent"), pa.string()))
    write_events(t, tmp_path / "in", buckets=6, event_id="id", parent="parent")
    rep = eq.analyze_stream(tmp_path / "in", spill=tmp_path / "spill", progress=False, **TREE)
    check(dict(rep.details), memory_tables(t, **TREE))
    assert rep.threads.equals(rep.details["conversations_thread"])
    assert sorted(p.name for p in (tmp_path / "spill").iterdir()) == ["threads.arrow"]
    mapped = pa.ipc.open_file(pa.memory_map(str(tmp_path / "spill" / "threads.arrow")))
    assert mapped.read_all().equals(rep.threads)


@given(st.integers(0, 10_000), st.lists(st.integers(0, 300), max_size=4))
def test_spill_with_open_threads_and_batches(seed: int, cuts: list[int]) -> None:
    import tempfile

    from engagequal import spill

    t = forest(300, seed)
    mp = pytest.MonkeyPatch()
    with mp.context() as m, tempfile.TemporaryDirectory() as folder:
        m.setattr(spill, "RUN_ROWS", 16)
        m.setattr(spill, "BATCH_ROWS", 5)
        m.setattr(spill, "SAMPLE", 2)
        got = stream(split(t, cuts), spill=folder, progress=False, **TREE)
        check(got, memory_tables(t, **TREE))


def test_spill_refuses_checkpoints_and_used_folders(tmp_path: Path) -> None:
    t = forest(50, 1)
    with pytest.raises(eq.errors.OptionError, match="checkpoint"):
        eq.analyze_stream(t, spill=tmp_path / "s", checkpoint=tmp_path / "c", **TREE)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "threads.arrow").write_bytes(b"")
    with pytest.raises(eq.errors.OptionError, match="already holds"):
        eq.analyze_stream(t, spill=tmp_path / "used", progress=False, **TREE)
    rep = eq.analyze_stream(t, metrics=["reciprocity"], spill=tmp_path / "r", progress=False,
                            **TREE)
    assert "conversations_thread" not in rep.details


def test_pyarrow_dataset_source(tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    t = eq.synth.simple_events(50, 2000, seed=4) if hasattr(eq, "synth") else None
    if t is None:
        from engagequal.synth import simple_events

        t = simple_events(50, 2000, seed=4)
    for i, part in enumerate(split(t, [500, 1300])):
        pq.write_table(part, tmp_path / f"p{i}.parquet")
    got = stream(ds.dataset(tmp_path), progress=False)
    check(got, memory_tables(t))
    # an in-memory dataset is streamed batch by batch
    got2 = stream(ds.dataset(t), metrics=["reciprocity"], progress=False)
    assert_tables_close(got2["reciprocity_user"], got["reciprocity_user"])


def _good_files(tmp_path: Path) -> pa.Table:
    from engagequal.synth import simple_events

    t = simple_events(40, 1500, seed=5)
    for i, part in enumerate(split(t, [700])):
        pq.write_table(part, tmp_path / f"part-{i}.parquet")
    return t


def test_truncated_file_names_the_file_and_keeps_what_was_merged(tmp_path: Path) -> None:
    t = _good_files(tmp_path)
    raw = (tmp_path / "part-0.parquet").read_bytes()
    (tmp_path / "part-9.parquet").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BatchError, match=r"part-9\.parquet") as info:
        stream(tmp_path, progress=False)
    assert info.value.where.endswith("part-9.parquet")
    resumed = stream([], state=info.value.state, progress=False)
    check(resumed, memory_tables(t))


def test_schema_drift_names_the_file(tmp_path: Path) -> None:
    t = _good_files(tmp_path)
    drift = t.slice(0, 10).set_column(2, "ts", t.column("ts").slice(0, 10).cast(pa.float64()))
    pq.write_table(drift, tmp_path / "part-5.parquet")
    with pytest.raises(BatchError, match=r"part-5\.parquet.*schema drift") as info:
        stream(tmp_path, progress=False)
    check(info.value.state.finalize(), memory_tables(t))


def test_bad_rows_in_a_batch_merge_nothing_of_it() -> None:
    good = pa.table({"actor": [1, 2], "target": [2, 1], "ts": [0, 1]})
    bad = pa.table({"actor": [1, None], "target": [2, 1], "ts": [2, 3]})
    tr = eq.Tracker().update(good)
    before = tr.tables()
    with pytest.raises(BatchError, match=r"batch 0.*null actor"):
        tr.update(bad)
    check(tr.tables(), before)


def test_checkpoint_and_resume(tmp_path: Path) -> None:
    from engagequal.state import StreamState

    t = forest(300, 7)
    first, second = split(t, [150])
    stream([first], checkpoint=tmp_path / "ck", progress=False, **TREE)
    got = stream([second], state=StreamState.load(tmp_path / "ck"),
                            progress=False)
    check(got, memory_tables(t, **TREE))


@pytest.mark.parametrize("method", ["rank", "natural"])
def test_layers_and_report_equal_analyze(tmp_path: Path, method: str) -> None:
    from engagequal.synth import population

    t, _ = population(300, 20_000, seed=3)
    write_events(t, tmp_path, buckets=3, thread="thread")
    read = {"event_id": "event_id", "parent": "parent", "thread": "thread"}
    mets = ["reciprocity", "conversations", "layers"]
    got = eq.analyze_stream(tmp_path, metrics=mets, layer_method=method, progress=False,
                            **read)
    want = eq.analyze(t, metrics=mets, layer_method=method, **read)
    def drop_mc(t: pa.Table) -> pa.Table:
        # the natural method's Monte-Carlo null p-value reacts to last-bit float
        # differences of summed weights; every deterministic column must match
        return t.drop_columns([c for c in t.column_names if c.startswith("null_p")])

    for name in ("layers_tie", "layers_ego", "layers_global", "conversations_thread",
                 "reciprocity_user"):
        assert_tables_close(drop_mc(got.details[name]), drop_mc(want.details[name]))
    assert_tables_close(drop_mc(got.users), drop_mc(want.users))
    assert got.summary.column("events").to_pylist() == [t.num_rows]


def test_unknown_metric_is_an_option_error() -> None:
    with pytest.raises(eq.errors.OptionError, match="unknown metric"):
        stream([], metrics=["size"])


# ------------------------------------------------------------------- Tracker
@given(event_tables(min_size=1), st.lists(st.integers(0, 60), max_size=4))
def test_tracker_answers_at_any_time(table: pa.Table, cuts: list[int]) -> None:
    tr = eq.Tracker(half_life="7D")
    seen: list[pa.Table] = []
    for part in split(table, cuts):
        tr.update(part)
        seen.append(part)
        so_far = pa.concat_tables(seen)
        for lv in ("global", "user"):
            assert_tables_close(tr.reciprocity(lv),
                                eq.reciprocity(so_far, level=lv, half_life="7D"))
    assert_tables_close(tr.responsiveness(), eq.responsiveness(table))


def test_tracker_save_load(tmp_path: Path) -> None:
    tr = eq.Tracker(actor="a", target="b", ts="t")
    tr.update({"a": ["x"], "b": ["y"], "t": [0]})
    tr.save(tmp_path / "tr")
    back = eq.Tracker.load(tmp_path / "tr").update({"a": ["y"], "b": ["x"], "t": [5]})
    assert back.reciprocity().column("arc").to_pylist() == [1.0]


# ------------------------------------------------------------------- rolling
def test_rolling_equals_in_memory_per_window() -> None:
    from engagequal.synth import simple_events

    t = simple_events(30, 1500, seed=6, days=100)
    day = 86_400
    got = eq.rolling(t.to_batches(max_chunksize=400), window="30D", step="10D",
                     metrics=["reciprocity"], progress=False)
    ts = t.column("ts").to_numpy()
    starts = sorted(set(got.column("window_start").to_pylist()))
    first_k = (ts.min() - 30 * day) // (10 * day) + 1
    last_k = ts.max() // (10 * day)
    assert starts == [k * 10 * day for k in range(first_k, last_k + 1)]
    for s in starts:
        m = (ts >= s) & (ts < s + 30 * day)
        want_g = eq.reciprocity(t.filter(pa.array(m))).to_pylist()[0]
        want_u = eq.reciprocity(t.filter(pa.array(m)), level="user")
        rows = got.filter(pc.equal(got["window_start"], s))
        g = rows.filter(pc.equal(rows["entity_kind"], "global"))
        vals = dict(zip(g.column("metric").to_pylist(), g.column("value").to_pylist()))
        for metric in ("arc", "pair_ratio", "rho", "weighted", "ties"):
            assert vals[metric] == pytest.approx(want_g[metric], rel=1e-9)
        u = rows.filter(pc.equal(rows["metric"], "node_reciprocity"))
        assert u.column("entity").to_pylist() == want_u.column("user").to_pylist()
        assert u.column("value").combine_chunks().equals(
            want_u.column("node_reciprocity").combine_chunks())


def test_rolling_lateness_frees_windows_and_rejects_late_events() -> None:
    day = 86_400
    t = pa.table({"actor": [1, 2, 1, 2], "target": [2, 1, 2, 1],
                  "ts": [0, day, 50 * day, 100 * day]})
    ordered = eq.rolling(t.to_batches(max_chunksize=1), window="10D", step="10D",
                         lateness=0, metrics=["reciprocity"], progress=False)
    unordered = eq.rolling(t, window="10D", step="10D", metrics=["reciprocity"],
                           progress=False)
    assert ordered.equals(unordered)
    late = [t.slice(0, 1), t.slice(3, 1), t.slice(1, 1)]
    with pytest.raises(BatchError, match="after it was finished"):
        eq.rolling(late, window="10D", step="10D", lateness=0, metrics=["reciprocity"],
                   progress=False)


def test_rolling_conversations_per_window() -> None:
    t = forest(300, 8)
    got = eq.rolling(t, window="30D", step="30D", metrics=["conversations"], progress=False,
                     **TREE)
    ts = t.column("ts").to_numpy()
    for s in sorted(set(got.column("window_start").to_pylist())):
        m = (ts >= s) & (ts < s + 30 * 86_400)
        th = eq.conversations(t.filter(pa.array(m)), **TREE)
        rows = got.filter(pc.and_(pc.equal(got["window_start"], s),
                                  pc.equal(got["metric"], "threads")))
        assert rows.column("value").to_pylist() == [float(th.num_rows)]


# ------------------------------------------------------------------ progress
def test_progress_bar_can_be_forced_and_silenced(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    batches = [pa.record_batch({"actor": [1], "target": [2], "ts": [i]}) for i in range(3)]
    stream(batches, progress=True)
    assert "engagequal stream" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    stream(batches)
    assert capsys.readouterr().err == ""
    stream(batches, progress=False)
    assert capsys.readouterr().err == ""
