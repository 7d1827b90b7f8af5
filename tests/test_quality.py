"""Quality score: hand-worked cases, a naive reference, and the score's guarantees."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS
from engagequal.metrics.quality import COMPONENTS, DEFAULT_WEIGHTS

DELTA = 7 * 86_400
KINDS = ["like", "comment", "reply", "message", "mention", "share", "follow", "view"]
PASSIVE = {"like", "view", "reaction"}
STRUCT = {"follow", "connection"}


def _events(rows: list[tuple[int, int, int, str]]) -> dict[str, list[Any]]:
    return {"actor": [r[0] for r in rows], "target": [r[1] for r in rows],
            "ts": [r[2] for r in rows], "kind": [r[3] for r in rows]}


def _scores(rows: list[tuple[int, int, int, str]]) -> dict[Any, float]:
    q = eq.quality(_events(rows))
    return dict(zip(q.column("user").to_pylist(), q.column("score").to_pylist()))


# --------------------------------------------------------------------------- exact
def test_hand_worked_pair_and_a_liker() -> None:
    ev = _events([(1, 2, 0, "message"), (2, 1, 60, "reply"), (1, 2, 120, "reply"),
                  (3, 1, 180, "like")])
    q = {r["user"]: r for r in eq.quality(ev).to_pylist()}
    a, b, c = q[1], q[2], q[3]
    assert a["reciprocity"] == 1.0 and b["reciprocity"] == 1.0
    assert c["reciprocity"] is None  # a like is no meaningful tie
    assert a["conversation_share"] == 1.0
    # reciprocated weight min(3 + 2, 2) = 2 over threshold 10, one of 5 slots
    assert a["inner_circle"] == pytest.approx(2 / 10 / 5)
    assert a["responsiveness"] == 1.0 and b["responsiveness"] == 1.0
    assert a["substance"] == pytest.approx(7 / 7.1)
    assert c["substance"] == 0.0
    assert a["effective_contacts"] == pytest.approx(1.0) and a["diversity"] == 0.0
    assert a["connections"] == 1 and c["contacts"] == 1
    expected = 100 * (0.2 + 0.2 + 0.15 * 0.04 + 0.15 + 0.15 + 0.15 * 7 / 7.1)
    assert a["score"] == pytest.approx(expected)
    assert c["score"] == 0.0


def test_two_turns_are_a_reaction_not_a_conversation() -> None:
    q = eq.quality(_events([(1, 2, 0, "message"), (2, 1, 60, "reply")])).to_pylist()
    assert [r["conversation_share"] for r in q] == [0.0, 0.0]
    # 2 answered 1; 1 left 2's reply unanswered
    assert [r["responsiveness"] for r in q] == [0.0, 1.0]


def test_answers_later_than_delta_do_not_count() -> None:
    rows = [(1, 2, 0, "message"), (2, 1, DELTA + 10, "message"), (1, 2, 2 * DELTA + 20, "reply")]
    q = eq.quality(_events(rows)).to_pylist()
    assert all(r["conversation_share"] == 0.0 for r in q)
    assert all(r["steadiness"] == 0.0 for r in q)


def test_diversity_effective_number() -> None:
    # user 0 writes equal weight to four people: D = 4, diversity = 3/4
    rows = [(0, v, v, "message") for v in (1, 2, 3, 4)]
    r = eq.quality(_events(rows)).to_pylist()[0]
    assert r["effective_contacts"] == pytest.approx(4.0)
    assert r["diversity"] == pytest.approx(0.75)


def test_followers_engaged_audience_and_rates() -> None:
    ev = {"actor": [9, 1, 2, 3, 1, 2, 3, 1], "target": [None, 9, 9, 9, 9, 9, 9, 2],
          "ts": list(range(8)),
          "kind": ["comment", "follow", "follow", "follow", "comment", "like", "share", "message"],
          "id": list(range(8)), "parent": [None, None, None, None, 0, 0, 0, None]}
    q = eq.quality(ev, event_id="id", parent="parent")
    r = {x["user"]: x for x in q.to_pylist()}[9]
    assert r["followers"] == 3
    assert r["engaged_audience"] == 2  # 1 commented, 3 shared; 2 only liked
    assert r["posts"] == 1
    assert (r["conversation_rate"], r["amplification_rate"], r["applause_rate"]) == (1.0, 1.0, 1.0)
    assert r["engagement_rate"] == pytest.approx(3 / 3)


def test_rates_follow_the_reply_tree() -> None:
    ev = {"id": [1, 2, 3, 4], "parent": [None, 1, 2, 1], "actor": [9, 1, 9, 2],
          "target": [None, None, None, None], "ts": [0, 1, 2, 3],
          "kind": ["comment", "reply", "reply", "like"]}
    q = eq.quality(ev, event_id="id", parent="parent")
    r = {x["user"]: x for x in q.to_pylist()}[9]
    # the author's own reply in the thread is not a response to the post
    assert r["posts"] == 1 and r["conversation_rate"] == 1.0 and r["applause_rate"] == 1.0


def test_embeddedness_triangle_and_pendant() -> None:
    pairs = [(1, 2), (2, 3), (1, 3), (3, 4)]
    rows = [(a, b, 0, "message") for a, b in pairs] + [(b, a, 1, "message") for a, b in pairs]
    q = {r["user"]: r for r in eq.quality(_events(rows), embeddedness=True).to_pylist()}
    # tie 1-2: one shared neighbour (3), (2 - 1) + (2 - 1) - 1 = 1 -> overlap 1;
    # tie 1-3: one shared neighbour (2), (2 - 1) + (3 - 1) - 1 = 2 -> overlap 1/2
    assert q[1]["embeddedness"] == pytest.approx((1.0 + 0.5) / 2)
    # node 3: ties to 1 and 2 (overlap 1/(1+2-1) = 0.5 each) and 4 (0/(0+2) = 0)
    assert q[3]["embeddedness"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert q[4]["embeddedness"] == pytest.approx(0.0)
    assert "embeddedness" not in eq.quality(_events(rows)).column_names


def test_weights_are_validated_and_used() -> None:
    ev = _events([(1, 2, 0, "message"), (2, 1, 60, "reply"), (3, 1, 70, "like")])
    only_sub = eq.quality(ev, weights=dict.fromkeys(DEFAULT_WEIGHTS, 0.0) | {"substance": 1.0})
    assert only_sub.column("score").to_pylist() == pytest.approx(
        [100 * x for x in only_sub.column("substance").to_pylist()])
    with pytest.raises(OptionError, match="unknown component"):
        eq.quality(ev, weights={"followers": 1.0})
    with pytest.raises(OptionError, match=">= 0"):
        eq.quality(ev, weights={"reciprocity": -1})
    with pytest.raises(OptionError, match="positive weight"):
        eq.quality(ev, weights=dict.fromkeys(COMPONENTS, 0.0))


def test_empty_window_gives_an_empty_table() -> None:
    q = eq.quality(_events([(1, 2, 0, "message")]), window=(100, 200))
    assert q.num_rows == 0 and "score" in q.column_names


# --------------------------------------------------------------- naive reference
def naive_quality(rows: list[tuple[int, int, int, str]], theta: float = 10.0, k: int = 5
                  ) -> dict[int, dict[str, float | None]]:
    """Pure-Python reference of the components (definitions of ``eq.quality``)."""
    w = {r: DEFAULT_KIND_WEIGHTS[r[3]] for r in rows}
    users = sorted({r[0] for r in rows} | {r[1] for r in rows})

    def meaningful(r: tuple[int, int, int, str]) -> bool:
        return r[0] != r[1] and r[3] not in PASSIVE | STRUCT and w[r] > 0

    def message(r: tuple[int, int, int, str]) -> bool:
        return meaningful(r) and DEFAULT_KIND_WEIGHTS[r[3]] >= 1

    wm: dict[tuple[int, int], float] = defaultdict(float)
    for r in rows:
        if meaningful(r):
            wm[r[0], r[1]] += w[r]
    msgs = [r for r in rows if message(r)]

    def order(r: tuple[int, int, int, str]) -> tuple[int, int]:
        return (r[2], int(r[0] > r[1]))

    def rev(r: tuple[int, int, int, str], s: tuple[int, int, int, str]) -> bool:
        return (s[0], s[1]) == (r[1], r[0])

    def answered(r: tuple[int, int, int, str]) -> bool:
        return any(rev(r, s) and order(s) > order(r) and s[2] - r[2] <= DELTA for s in msgs)

    def answering(r: tuple[int, int, int, str]) -> bool:
        return any(rev(r, s) and order(s) < order(r) and r[2] - s[2] <= DELTA for s in msgs)

    def in_triple(r: tuple[int, int, int, str]) -> bool:
        pair = [s for s in msgs if {s[0], s[1]} == {r[0], r[1]}]
        for a in pair:
            for b in pair:
                if not (rev(a, b) and order(a) < order(b) and b[2] - a[2] <= DELTA):
                    continue
                for c in pair:
                    if rev(b, c) and order(b) < order(c) and c[2] - b[2] <= DELTA \
                            and r in (a, b, c):
                        return True
        return False

    week = {r: (r[2] + 3 * 86_400) // (7 * 86_400) for r in rows}
    out: dict[int, dict[str, float | None]] = {}
    for u in users:
        partners = {b for (a, b), x in wm.items() if a == u and x > 0} | {
            a for (a, b), x in wm.items() if b == u and x > 0}
        two_way = {v for v in partners if wm.get((u, v), 0) > 0 and wm.get((v, u), 0) > 0}
        mine = [r for r in rows if meaningful(r) and u in (r[0], r[1])]
        conv = sum(1 for r in mine if message(r) and in_triple(r))
        caps = sorted((min(1.0, min(wm.get((u, v), 0), wm.get((v, u), 0)) / theta)
                       for v in two_way), reverse=True)
        writers = {r[0] for r in msgs if r[1] == u}
        answered_w = {r[0] for r in msgs if r[1] == u and answered(r)}
        active = {week[r] for r in rows if r[0] != r[1] and r[3] not in STRUCT
                  and u in (r[0], r[1])}
        tw = {week[r] for r in msgs if u in (r[0], r[1]) and (answered(r) or answering(r))}
        tot = sum(w[r] for r in rows if r[0] != r[1] and r[3] not in STRUCT and u in (r[0], r[1]))
        mw = sum(w[r] for r in mine)
        x = {v: wm.get((u, v), 0) + wm.get((v, u), 0) for v in partners}
        s = sum(x.values())
        ent = -sum(p / s * math.log(p / s) for p in x.values() if p > 0) if s else None

        def frac(a: float, b: float) -> float | None:
            return a / b if b else None

        out[u] = {
            "reciprocity": frac(len(two_way), len(partners)),
            "conversation_share": frac(conv, len(mine)),
            "inner_circle": sum(caps[:k]) / k if partners else None,
            "responsiveness": frac(len(answered_w), len(writers)),
            "steadiness": frac(len(tw), len(active)),
            "substance": frac(mw, tot),
            "diversity": None if ent is None else 1 - math.exp(-ent),
        }
    return out


def _assert_tables_close(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema and a.num_rows == b.num_rows
    for name in a.column_names:
        x, y = a.column(name).to_pylist(), b.column(name).to_pylist()
        if pa.types.is_floating(a.schema.field(name).type):
            assert [v is None for v in x] == [v is None for v in y], name
            assert [v for v in x if v is not None] == pytest.approx(
                [v for v in y if v is not None], rel=1e-12, abs=1e-12), name
        else:
            assert x == y, name


_row = st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 40 * 86_400),
                 st.sampled_from(KINDS))


@given(st.lists(_row, min_size=1, max_size=25))
def test_matches_naive_reference(rows: list[tuple[int, int, int, str]]) -> None:
    got = {r["user"]: r for r in eq.quality(_events(rows)).to_pylist()}
    want = naive_quality(rows)
    assert set(got) == set(want)
    for u, comps in want.items():
        for c, v in comps.items():
            if v is None:
                assert got[u][c] is None, (u, c)
            else:
                assert got[u][c] == pytest.approx(v, abs=1e-9), (u, c)
        assert 0.0 <= got[u]["score"] <= 100.0


# --------------------------------------------------------------- the guarantees
_extra_hollow = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 40 * 86_400),
              st.sampled_from(["like", "view", "follow"])), min_size=1, max_size=15)


@given(st.lists(_row, min_size=1, max_size=25), _extra_hollow)
def test_hollow_followers_and_likes_never_raise_a_score(
        rows: list[tuple[int, int, int, str]], extra: list[tuple[int, int, int, str]]) -> None:
    before = _scores(rows)
    after = _scores(rows + extra)
    for u, s in before.items():
        assert after[u] <= s + 1e-9, (u, s, after[u])


@st.composite
def _conversation(draw: st.DrawFn) -> list[tuple[int, int, int, str]]:
    u = draw(st.integers(0, 5))
    v = draw(st.integers(0, 5).filter(lambda x: x != u))
    turns = draw(st.integers(3, 6))
    t = draw(st.integers(0, 40 * 86_400))
    out = []
    for i in range(turns):
        a, b = (u, v) if i % 2 == 0 else (v, u)
        out.append((a, b, t, draw(st.sampled_from(["comment", "reply", "message"]))))
        t += draw(st.integers(1, DELTA))
    return out


@given(st.lists(_row, min_size=1, max_size=25), _conversation())
def test_a_reciprocated_conversation_never_lowers_a_score(
        rows: list[tuple[int, int, int, str]], conv: list[tuple[int, int, int, str]]) -> None:
    before = _scores(rows)
    after = _scores(rows + conv)
    pair = {conv[0][0], conv[0][1]}
    for u, s in before.items():
        if u in pair:
            assert after[u] >= s - 1e-9, (u, s, after[u])
        else:
            assert after[u] == pytest.approx(s, abs=1e-9)
    for u in pair:
        assert after[u] > 0.0


@given(st.lists(_row, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_row_order_and_id_relabelling_do_not_matter(rows: list[tuple[int, int, int, str]],
                                                    rnd: Any) -> None:
    q1 = eq.quality(_events(rows))
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    q2 = eq.quality(_events(shuffled))
    _assert_tables_close(q1, q2)
    relabel = {i: f"user-{i}" for i in range(5)}
    q3 = eq.quality(_events([(relabel[a], relabel[b], t, k) for a, b, t, k in rows]))
    assert q3.column("score").to_pylist() == pytest.approx(q1.column("score").to_pylist())


def test_real_data_college_msg(college_msg: Any) -> None:
    import pyarrow.csv as pcsv

    t = pcsv.read_csv(college_msg, read_options=pcsv.ReadOptions(
        column_names=["actor", "target", "ts"]), parse_options=pcsv.ParseOptions(delimiter=" "))
    t = t.append_column("kind", pa.array(["message"] * t.num_rows))
    q = eq.quality(t)
    assert q.num_rows == 1899
    score = q.column("score").to_numpy()
    assert np.isfinite(score).all() and (score >= 0).all() and (score <= 100).all()
    # messages only: substance is 1 for everyone who has any weight
    sub = q.column("substance").drop_null().to_numpy()
    assert np.allclose(sub, 1.0)
    # users with a two-way partner score above users without one, on average
    rec = q.column("reciprocity").fill_null(0).to_numpy()
    assert score[rec > 0].mean() > score[rec == 0].mean()


@given(st.lists(_row, min_size=1, max_size=25))
def test_week_counts_by_blocks_and_without_bitmap_agree(rows: list[tuple[int, int, int, str]]
                                                        ) -> None:
    """The (user, week) marks are the same block by block and as unique keys."""
    from engagequal.metrics import quality as qm

    want = eq.quality(_events(rows))
    mp = pytest.MonkeyPatch()
    with mp.context() as m:
        m.setattr(qm, "_ROWS", 3)
        m.setattr(qm, "_BITMAP_LIMIT", 0)
        got = eq.quality(_events(rows))
    _assert_tables_close(got, want)
