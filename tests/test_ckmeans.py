"""Ckmeans kernel: exact optimum against exhaustive search over all breakpoints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagequal.kernels.ckmeans import ckmeans, ckmeans_segments, ckmeans_sse, gaussian_bic


def brute_sse(x: list[float], k: int) -> float:
    """Minimum within-cluster sum of squares over every way to cut sorted ``x`` into ``k`` runs."""
    xs = sorted(x)
    n = len(xs)
    if k > n:
        return float("inf")
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        tot = 0.0
        for a, b in itertools.pairwise(bounds):
            seg = xs[a:b]
            m = sum(seg) / len(seg)
            tot += sum((v - m) ** 2 for v in seg)
        best = min(best, tot)
    return best


values = st.lists(st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 3)),
                  min_size=1, max_size=9)


@given(st.lists(values, min_size=1, max_size=6), st.integers(1, 5))
def test_sse_matches_exhaustive_search(segments: list[list[float]], k_max: int) -> None:
    flat = np.concatenate([np.sort(s) for s in segments])
    starts = np.cumsum([0] + [len(s) for s in segments[:-1]]).astype(np.int64)
    got = ckmeans_sse(flat, starts, k_max)
    for s, seg in enumerate(segments):
        scale = max(1.0, float(np.var(seg)) * len(seg))
        for k in range(1, k_max + 1):
            want = brute_sse(seg, k)
            if np.isinf(want):
                assert np.isinf(got[s, k - 1])
            else:
                assert got[s, k - 1] == pytest.approx(want, abs=1e-9 * scale)


@given(values, st.integers(1, 4))
def test_labels_realise_the_optimum(x: list[float], k: int) -> None:
    lab, sse = ckmeans(np.array(x), k)
    arr = np.array(x)
    # labels are contiguous runs in sorted order and their SSE is the reported optimum
    order = np.argsort(arr, kind="stable")
    assert np.all(np.diff(lab[order]) >= 0)
    tot = sum(float(((arr[lab == c] - arr[lab == c].mean()) ** 2).sum()) for c in np.unique(lab))
    assert tot == pytest.approx(sse, abs=1e-9 * max(1.0, float(np.var(arr)) * arr.size))
    n_distinct = len(set(x))
    assert np.unique(lab).size == min(k, n_distinct)
    assert sse == pytest.approx(brute_sse(x, min(k, n_distinct)),
                                abs=1e-9 * max(1.0, float(np.var(arr)) * arr.size))


def test_hand_worked() -> None:
    # 1, 2 | 10, 11: SSE 0.5 + 0.5; one cluster: mean 6, 25 + 16 + 16 + 25
    sse = ckmeans_sse(np.array([1.0, 2.0, 10.0, 11.0]), np.array([0]), 4)
    assert sse.tolist() == [[82.0, 1.0, 0.5, 0.0]]
    lab, s = ckmeans(np.array([10.0, 1.0, 11.0, 2.0]), 2)
    assert lab.tolist() == [1, 0, 1, 0]
    assert s == 1.0


def test_bic_picks_planted_clusters() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([1.0, 3.0, 9.0, 27.0])
    x = np.sort(np.concatenate([c + rng.normal(0, 0.05 * c, 20) for c in centres]))
    r = ckmeans_segments(x, np.array([0]), k_max=8, var_floor=1e-4)
    assert r.k.tolist() == [4]
    assert np.bincount(r.labels).tolist() == [20, 20, 20, 20]


def test_bic_prefers_one_cluster_for_ties() -> None:
    r = ckmeans_segments(np.array([2.0, 2.0, 2.0]), np.array([0]), k_max=3, var_floor=0.1)
    assert r.k.tolist() == [1]
    assert np.isneginf(r.bic[0, 1])


def test_gaussian_bic_formula() -> None:
    size = np.array([[2, 2]])
    sse = np.array([[0.5, 0.5]])
    got = gaussian_bic(size, sse, np.array([4]), np.array([0.0]))
    v = 0.25
    ll = 2 * (2 * np.log(0.5) - np.log(2 * np.pi * v) - 0.5 / (2 * v))
    assert got[0] == pytest.approx(2 * ll - 5 * np.log(4))


def test_long_segments_across_buckets() -> None:
    rng = np.random.default_rng(0)
    lens = [1, 2, 3, 17, 40, 300]
    segs = [np.sort(rng.lognormal(0, 1, n)) for n in lens]
    flat = np.concatenate(segs)
    starts = np.cumsum([0, *lens[:-1]]).astype(np.int64)
    got = ckmeans_sse(flat, starts, 3)
    for s, seg in enumerate(segs[:5]):
        for k in (1, 2, 3):
            if k <= seg.size and seg.size <= 17:
                assert got[s, k - 1] == pytest.approx(brute_sse(list(seg), k), abs=1e-9)
    # the long segment: the DP is never worse than any contiguous 2-split
    x = segs[5]
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    i = np.arange(1, x.size)
    left = c2[i - 1] - c1[i - 1] ** 2 / i
    right = (c2[-1] - c2[i - 1]) - (c1[-1] - c1[i - 1]) ** 2 / (x.size - i)
    assert got[5, 1] == pytest.approx((left + right).min(), rel=1e-9)


def naive_dp_sse(xs: list[float], k_max: int) -> list[float]:
    """The textbook O(k n^2) programme in pure Python (sorted ``xs``), an independent oracle."""
    n = len(xs)

    def cost(a: int, b: int) -> float:  # values a .. b inclusive
        seg = xs[a:b + 1]
        m = sum(seg) / len(seg)
        return sum((v - m) ** 2 for v in seg)

    d = [[cost(0, i) for i in range(n)]]
    for k in range(1, k_max):
        row = [float("inf")] * n
        for i in range(k, n):
            row[i] = min(d[k - 1][j - 1] + cost(j, i) for j in range(k, i + 1))
        d.append(row)
    return [d[k][n - 1] for k in range(k_max)]


@pytest.mark.parametrize("cells", [None, 97])  # 97: each level cut into many groups
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_long_segments_divide_and_conquer_equals_the_quadratic_programme(
        seed: int, cells: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    import engagequal.kernels.ckmeans as ck

    if cells is not None:
        monkeypatch.setattr(ck, "_CHUNK_CELLS", cells)
        monkeypatch.setattr(ck, "_LEVEL_CELLS", cells)
    rng = np.random.default_rng(seed)
    # three egos past the divide-and-conquer threshold, with ties (rounded rates)
    segs = [np.sort(np.round(np.exp(rng.normal(1, 1, n)) * 3, d))
            for n, d in ((300, 0), (520, 1), (700, 2))]
    flat = np.concatenate(segs)
    starts = np.cumsum([0] + [len(s) for s in segs[:-1]]).astype(np.int64)
    fast = ckmeans_segments(flat, starts, k_max=6, var_floor=0.01)
    fast_sse = ckmeans_sse(flat, starts, 6)
    monkeypatch.setattr(ck, "_WIDE", 10**9)  # force the quadratic programme
    slow = ckmeans_segments(flat, starts, k_max=6, var_floor=0.01)
    slow_sse = ckmeans_sse(flat, starts, 6)
    np.testing.assert_allclose(fast_sse, slow_sse, rtol=1e-12)
    assert (fast.k == slow.k).all() and (fast.labels == slow.labels).all()
    # and both agree with a pure-Python programme on the first ego
    expect = naive_dp_sse(segs[0].tolist(), 4)
    np.testing.assert_allclose(fast_sse[0, :4], expect, rtol=1e-9)


def test_an_ego_with_many_alters_is_not_quadratic() -> None:
    x = np.sort(np.random.default_rng(0).exponential(5.0, 200_000))
    r = ckmeans_segments(x, np.array([0]), k_max=6)
    assert r.labels.size == x.size and int(r.k[0]) >= 1
    assert (np.diff(r.labels) >= 0).all()  # clusters are runs of the sorted values


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0.1, 50.0), min_size=1, max_size=12), min_size=1,
                max_size=8), st.integers(1, 4))
def test_layers_skip_single_tie_egos_with_the_same_answer(segments: list[list[float]],
                                                          k_max: int) -> None:
    """Egos with one tie bypass the programme; every answer is as if they had not."""
    from engagequal.metrics.layers import _cluster_egos

    flat = np.concatenate([np.sort(s) for s in segments])
    lengths = np.array([len(s) for s in segments], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
    full = ckmeans_segments(flat, starts, k_max=k_max, var_floor=0.01, rate_years=2.0)
    k, labels, sse = _cluster_egos(flat, starts, lengths, k_max=k_max, var_floor=0.01,
                                   rate_years=2.0, log_rates=False)
    assert k.tolist() == full.k.tolist()
    assert labels.tolist() == full.labels.tolist()
    np.testing.assert_array_equal(sse, full.sse)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), st.integers(2, 4))
def test_explained_share_matches_exhaustive_search(segments: list[list[float]], k: int) -> None:
    """The flat two-cluster share (and the programme's for k > 2) against every cut."""
    from engagequal.kernels.ckmeans import explained_share

    flat = np.concatenate([np.sort(s) for s in segments])
    starts = np.cumsum([0] + [len(s) for s in segments[:-1]]).astype(np.int64)
    got = explained_share(flat, starts, k)
    for s, seg in enumerate(segments):
        total, best = brute_sse(seg, 1), brute_sse(seg, k)
        if len(seg) < k or total <= 1e-9 * max(1.0, float(np.abs(seg).max()) ** 2):
            continue  # no spread (or too short): NaN or a share of rounding noise
        assert got[s] == pytest.approx(1.0 - best / total, abs=1e-9)
    for s, seg in enumerate(segments):
        if len(set(seg)) == 1:
            assert np.isnan(got[s])


def test_explained_share_hand_worked() -> None:
    from engagequal.kernels.ckmeans import explained_share

    # 1, 2 | 10, 11: between-cluster 4 * 4.5**2 = 81 of the total 82
    got = explained_share(np.array([1.0, 2.0, 10.0, 11.0, 5.0]), np.array([0, 4]), 2)
    assert got[0] == pytest.approx(81 / 82, abs=1e-15) and np.isnan(got[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_two_cluster_share_blocks_do_not_change_it(seed: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import engagequal.kernels.ckmeans as ck

    rng = np.random.default_rng(seed)
    n = rng.integers(1, 30, 3000)
    flat = np.concatenate([np.sort(rng.lognormal(2, 1, m)) for m in n])
    starts = np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.int64)
    whole = ck.explained_share(flat, starts, 2)
    monkeypatch.setattr(ck, "_BLOCK", 7)
    np.testing.assert_allclose(ck.explained_share(flat, starts, 2), whole, rtol=1e-12)
    sse = ckmeans_sse(flat, starts, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = 1.0 - sse[:, 1] / sse[:, 0]
    ok = n >= 2
    np.testing.assert_allclose(whole[ok], want[ok], rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(0.0, 100.0).map(lambda v: round(v, 1)), min_size=1,
                         max_size=30), min_size=1, max_size=10), st.integers(1, 6))
def test_programme_variants_agree_to_the_last_bit(segments: list[list[float]],
                                                 k_max: int) -> None:
    """Step by step, with the kept costs, and in whole-array steps: same values and splits."""
    import engagequal.kernels.ckmeans as ck

    flat = np.concatenate([np.sort(s) for s in segments])
    starts = np.cumsum([0] + [len(s) for s in segments[:-1]]).astype(np.int64)
    lengths = ck._lengths(starts, flat.size)
    idx = np.arange(starts.size)
    width = int(lengths.max())
    p1, p2, _, _ = ck._padded(flat, starts, lengths, idx, width)
    out = []
    for dense, kept in ((0, 0), (0, 1 << 40), (1 << 40, 0)):
        old = ck._DENSE_CELLS, ck._KEPT_CELLS
        ck._DENSE_CELLS, ck._KEPT_CELLS = dense, kept
        try:
            out.append(ck._dp(p1, p2, k_max) + ck._dp(p1, p2, k_max, costs=False))
        finally:
            ck._DENSE_CELLS, ck._KEPT_CELLS = old
    for other in out[1:]:
        for a, b in zip(out[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_more_clusters_than_distinct_values_cost_nothing() -> None:
    # 2, 2, 2, 5: two distinct values; with 3 or 4 clusters the SSE is exactly 0,
    # and the choice never goes past the distinct values
    r = ckmeans_segments(np.array([2.0, 2.0, 2.0, 5.0, 1.0, 4.0, 9.0]), np.array([0, 4]),
                         k_max=4, var_floor=0.01)
    assert r.sse[0].tolist() == [6.75, 0.0, 0.0, 0.0]
    assert np.isneginf(r.bic[0, 2:]).all() and int(r.k[0]) <= 2
    assert np.isinf(r.sse[1, 3]) and r.sse[1, 2] == 0.0  # three values: no fourth cluster
    assert r.sse[1, :2] == pytest.approx([brute_sse([1.0, 4.0, 9.0], k) for k in (1, 2)])


@pytest.mark.parametrize("k", [2, 3])
def test_explained_share_of_a_repeated_value_is_undefined(k: int) -> None:
    """43.312 three times: the mean rounds, leaving a spread of rounding noise only."""
    from engagequal.kernels.ckmeans import explained_share

    got = explained_share(np.array([43.312] * 3 + [1.0, 2.0, 4.0]), np.array([0, 3]), k)
    assert np.isnan(got[0]) and not np.isnan(got[1])
