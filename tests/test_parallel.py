"""Both cores: the thread pool, the grouped reduction and the threaded kernels.

Every threaded kernel is checked against a naive reference and against
itself on one thread, with the piece sizes shrunk so that small inputs are
really cut into several blocks and key ranges.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import threading
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.ingest import encode
from engagequal.kernels import groups, parallel
from engagequal.kernels.ckmeans import _chunks, _dp, _lengths, _padded, ckmeans_sse
from engagequal.kernels.dyads import aggregate_dyads, aggregate_pairs


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut even a few events into several blocks, key ranges and hashing runs."""
    monkeypatch.setattr(parallel, "MIN_PIECE", 1)
    monkeypatch.setattr(groups, "_BLOCK", 7)
    monkeypatch.setattr(groups, "_SAMPLE", 64)
    monkeypatch.setattr(encode, "_SLICE", 5)


# --------------------------------------------------------------------------- the pool
def test_set_num_threads_validates_and_restores() -> None:
    before = eq.get_num_threads()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(OptionError, match="threads"):
            eq.set_num_threads(bad)  # type: ignore[arg-type]
    with eq.num_threads(3):
        assert eq.get_num_threads() == 3
        with eq.num_threads(1):
            assert eq.get_num_threads() == 1
        assert eq.get_num_threads() == 3
    assert eq.get_num_threads() == before


def test_environment_variable_sets_the_default() -> None:
    code = "import engagequal as eq; print(eq.get_num_threads())"
    env = dict(os.environ, ENGAGEQUAL_NUM_THREADS="5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "5"


def test_pmap_keeps_order_and_raises() -> None:
    with eq.num_threads(2):
        assert parallel.pmap(lambda x: x * 10, list(range(20))) == [x * 10 for x in range(20)]

        def boom(x: int) -> int:
            if x == 3:
                raise ValueError("three")
            return x

        with pytest.raises(ValueError, match="three"):
            parallel.pmap(boom, [1, 2, 3, 4])


def test_work_is_split_only_from_the_main_thread(tiny_pieces: None) -> None:
    seen: list[int] = []
    with eq.num_threads(2):
        assert parallel.workers(100) == 2
        t = threading.Thread(target=lambda: seen.append(parallel.workers(100)))
        t.start()
        t.join()
        # pmap from another thread runs in that thread
        names: list[list[str]] = []
        t = threading.Thread(target=lambda: names.append(
            parallel.pmap(lambda _: threading.current_thread().name, [0, 1])))
        t.start()
        t.join()
    assert seen == [1]
    assert len(set(names[0])) == 1 and not names[0][0].startswith("engagequal")


@given(st.integers(0, 50), st.integers(1, 8))
def test_chunk_bounds_cover_the_range(size: int, pieces: int) -> None:
    b = parallel.chunk_bounds(size, pieces)
    assert b[0][0] == 0 and b[-1][1] == size
    assert all(x[1] == y[0] for x, y in itertools.pairwise(b))
    sizes = [e - s for s, e in b]
    assert max(sizes) - min(sizes) <= 1


# --------------------------------------------------------------------------- grouped reduction
def _naive_groups(keys: np.ndarray, bound: int, w: np.ndarray, t: np.ndarray) -> dict:
    acc: dict[int, list] = defaultdict(lambda: [0, 0.0, None, None])
    for k, wi, ti in zip(keys.tolist(), w.tolist(), t.tolist(), strict=True):
        if k == bound:
            continue
        a = acc[k]
        a[0] += 1
        a[1] += wi
        a[2] = ti if a[2] is None else min(a[2], ti)
        a[3] = ti if a[3] is None else max(a[3], ti)
    return dict(sorted(acc.items()))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=120), st.integers(1, 3), st.randoms())
def test_group_reduce_matches_a_naive_reduction(keys: list[int], threads: int, rnd) -> None:
    bound = 40  # key 40 drops the event
    k = np.array(keys, dtype=np.int64)
    w = np.array([rnd.choice([0.5, 1.0, 2.0]) for _ in keys])
    t = np.array([rnd.randrange(-10**12, 10**12) for _ in keys], dtype=np.int64)
    mp = pytest.MonkeyPatch()
    with mp.context() as m:
        m.setattr(parallel, "MIN_PIECE", 1)
        m.setattr(groups, "_BLOCK", 7)
        m.setattr(groups, "_SAMPLE", 64)
        with eq.num_threads(threads):
            g = groups.group_reduce(k.size, lambda a, b: k[a:b].copy(), bound, w, t)
    want = _naive_groups(k, bound, w, t)
    assert g.key.tolist() == list(want)
    assert g.n.tolist() == [v[0] for v in want.values()]
    assert g.w.tolist() == pytest.approx([v[1] for v in want.values()])
    assert g.first.tolist() == [v[2] for v in want.values()]
    assert g.last.tolist() == [v[3] for v in want.values()]


@settings(max_examples=60, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=60),
       st.randoms(use_true_random=False))
def test_reverse_index_matches_a_dictionary(pairs: set[tuple[int, int]],
                                            rnd: random.Random) -> None:
    """In any row order; a self-pair is its own reverse."""
    from engagequal.kernels.dyads import reverse_pairs

    rows = sorted(pairs)
    rnd.shuffle(rows)
    u = np.array([a for a, _ in rows], dtype=np.int32)
    v = np.array([b for _, b in rows], dtype=np.int32)
    where = {p: i for i, p in enumerate(rows)}
    got = reverse_pairs(u, v, 10).index()
    assert got.tolist() == [where.get((b, a), -1) for a, b in rows]


def test_group_reduce_skips_what_is_not_asked(tiny_pieces: None) -> None:
    k = np.array([5, 1, 5, 2, 1, 9])
    with eq.num_threads(2):
        g = groups.group_reduce(6, lambda a, b: k[a:b].copy(), 9)
    assert g.key.tolist() == [1, 2, 5] and g.n.tolist() == [2, 1, 2]
    assert g.w.size == g.first.size == g.last.size == 0


def test_group_reduce_without_room_for_positions_sorts_by_argsort() -> None:
    k = np.array([2**60, 3, 2**60, 7], dtype=np.int64)
    bound = 2**61
    g = groups.group_reduce(4, lambda a, b: k[a:b].copy(), bound, np.arange(4.0),
                            np.array([4, 3, 2, 1]))
    assert g.key.tolist() == [3, 7, 2**60]
    assert g.w.tolist() == [1.0, 3.0, 2.0] and g.first.tolist() == [3, 1, 2]


def _stream(seed: int, n: int, users: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, users, n).astype(np.int32)
    b = rng.integers(-1, users, n).astype(np.int32)  # -1: no target
    return a, b, rng.choice([0.5, 1.0, 3.0], n), rng.integers(0, 10**6, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dyads_and_pairs_do_not_depend_on_the_thread_count(tiny_pieces: None, seed: int) -> None:
    a, b, w, t = _stream(seed, 3000, 40)
    out = {}
    for threads in (1, 2, 3):
        with eq.num_threads(threads):
            d = aggregate_dyads(a, b, w, t, 40)
            p = aggregate_pairs(a, b, w, t, 40)
        out[threads] = (d, p)
    for threads in (2, 3):
        for x, y in zip(out[1], out[threads], strict=True):
            for f in x.__dataclass_fields__:
                if f != "n_users":
                    np.testing.assert_array_equal(getattr(x, f), getattr(y, f), err_msg=f)
    # and equal a naive count
    d = out[1][0]
    naive: dict[tuple[int, int], int] = defaultdict(int)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        if y >= 0 and x != y:
            naive[(x, y)] += 1
    assert list(zip(d.u.tolist(), d.v.tolist(), strict=True)) == sorted(naive)
    assert d.n.tolist() == [naive[k] for k in sorted(naive)]


# --------------------------------------------------------------------------- ingest
@pytest.mark.parametrize("strings", [False, True])
def test_threaded_id_hashing_gives_the_same_codes(tiny_pieces: None, strings: bool) -> None:
    rng = np.random.default_rng(5)
    ids = rng.integers(-2**62, 2**62, 60)
    pick = lambda n: ids[rng.integers(0, ids.size, n)]  # noqa: E731
    a = pa.chunked_array([pick(17), pick(4), pick(30)])
    b = pa.chunked_array([pick(51)])
    if strings:
        a = pa.chunked_array([c.cast(pa.string()) for c in a.chunks])
        b = pa.chunked_array([c.cast(pa.string()) for c in b.chunks])
    typ = pa.string() if strings else pa.int64()
    res = {}
    for threads in (1, 2):
        with eq.num_threads(threads):
            res[threads] = encode.encode_ids([a, b], typ)
    (a1, b1), d1 = res[1]
    (a2, b2), d2 = res[2]
    assert d1.equals(d2)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    assert d1.take(pa.array(a1)).equals(a.combine_chunks())
    assert d1.take(pa.array(b1)).equals(b.combine_chunks())


# ------------------------------------------------------------ ckmeans and the null model
@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=40), min_size=1,
                max_size=8), st.integers(1, 5))
def test_last_level_shortcut_equals_the_full_programme(segs: list[list[float]],
                                                       k_max: int) -> None:
    vals = np.concatenate([np.sort(s) for s in segs])
    starts = np.cumsum([0] + [len(s) for s in segs[:-1]]).astype(np.int64)
    got = ckmeans_sse(vals, starts, k_max)
    lengths = _lengths(starts, vals.size)
    want = np.full_like(got, np.inf)
    for idx, width in _chunks(lengths):
        p1, p2, _, _ = _padded(vals, starts, lengths, idx, width)
        d, _ = _dp(p1, p2, k_max, lengths[idx], splits=False)
        want[idx] = d[:, np.arange(idx.size), lengths[idx] - 1].T
    np.testing.assert_array_equal(got, want)


def test_null_model_does_not_depend_on_the_thread_count() -> None:
    table, _ = eq.synth.population(300, 15_000, seed=4)
    ev = eq.read_events(table)
    tabs = {}
    for threads in (1, 2):
        with eq.num_threads(threads):
            tabs[threads] = eq.dunbar_layers(ev, method="natural", level="ego", seed=3)
    assert tabs[1].equals(tabs[2])
    p = tabs[1].column("null_p").drop_null().to_numpy()
    assert p.size > 10 and p.min() >= 1 / 20 and p.max() <= 1.0


def _hint() -> bool:
    """numpy's current huge-page hint (read by setting it to itself)."""
    from numpy._core import multiarray

    on = multiarray._set_madvise_hugepage(True)
    multiarray._set_madvise_hugepage(on)
    return bool(on)


def test_small_pages_scoped_nested_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    from engagequal.kernels.pages import small_pages

    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("ENGAGEQUAL_HUGE_PAGES", raising=False)
    before = _hint()
    with small_pages():
        assert _hint() is False
        with small_pages():
            assert _hint() is False
        assert _hint() is False  # the inner exit does not restore early
    assert _hint() is before
    with pytest.raises(RuntimeError), small_pages():
        raise RuntimeError
    assert _hint() is before


@pytest.mark.parametrize("env", [("NUMPY_MADVISE_HUGEPAGE", "1"), ("ENGAGEQUAL_HUGE_PAGES", "1")])
def test_small_pages_leaves_a_users_choice(monkeypatch: pytest.MonkeyPatch,
                                           env: tuple[str, str]) -> None:
    from engagequal.kernels.pages import small_pages

    monkeypatch.setenv(*env)
    before = _hint()
    with small_pages():
        assert _hint() is before


def test_small_pages_allocates_from_the_system_and_restores_the_pool(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from engagequal.kernels.pages import small_pages

    for var in ("ARROW_DEFAULT_MEMORY_POOL", "ENGAGEQUAL_HUGE_PAGES"):
        monkeypatch.delenv(var, raising=False)
    old = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    try:
        with small_pages():
            with small_pages():
                assert pa.default_memory_pool().backend_name == "system"
                arr = pa.array(np.arange(1 << 16))
            assert pa.default_memory_pool().backend_name == "system"
        assert pa.default_memory_pool().backend_name == "mimalloc"
        assert arr.sum().as_py() == (1 << 16) * ((1 << 16) - 1) // 2  # still valid
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")  # the user's choice
        with small_pages():
            assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(old)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=80), st.sampled_from([None, "bool", "int", "float"]),
       st.integers(0, 40))
def test_blockwise_bincount_is_numpys(xs: list[int], weights: str | None, minlength: int) -> None:
    from engagequal.kernels import segments

    x = np.array(xs, dtype=np.int32)
    rng = np.random.default_rng(len(xs))
    w = {None: None, "bool": rng.random(x.size) < 0.5,
         "int": rng.integers(-5, 5, x.size), "float": rng.random(x.size)}[weights]
    want = np.bincount(x, weights=w, minlength=minlength)
    mp = pytest.MonkeyPatch()
    with mp.context() as m:
        m.setattr(segments, "_COUNT_BLOCK", 3)
        got = segments.bincount(x, weights=w, minlength=minlength)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-50, 50), max_size=20), st.lists(st.integers(-60, 60), max_size=50),
       st.sampled_from(["left", "right"]))
def test_few_edges_is_searchsorted(edges: list[int], x: list[int], side: str) -> None:
    from engagequal.kernels.segments import few_edges

    e = np.array(sorted(edges), dtype=np.int64)
    v = np.array(x, dtype=np.int64)
    assert few_edges(e, v, side=side).tolist() == np.searchsorted(e, v, side=side).tolist()
