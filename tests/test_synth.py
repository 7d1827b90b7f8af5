"""The synthetic population: determinism, planted truth against the events, recovery."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import engagequal as eq
from engagequal.errors import OptionError
from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS
from engagequal.synth import parse_count, population


def _bytes(t: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return sink.getvalue()


@pytest.fixture(scope="module")
def pop() -> tuple[pa.Table, eq.synth.Truth]:
    # small chunks so that several chunks (and chunk boundaries) are exercised
    return population(400, 30_000, seed=3, chunk_events=9_000)


def test_shape_and_schema(pop: tuple[pa.Table, eq.synth.Truth]) -> None:
    ev, truth = pop
    assert ev.num_rows == 30_000
    assert ev.schema == pa.schema([("actor", pa.int64()), ("target", pa.int64()),
                                   ("ts", pa.int64()), ("kind", pa.string()),
                                   ("event_id", pa.int64()), ("parent", pa.int64()),
                                   ("thread", pa.int64())])
    assert set(pc.unique(ev["kind"]).to_pylist()) <= set(DEFAULT_KIND_WEIGHTS)
    assert ev["event_id"].to_numpy().tolist() == list(range(30_000))
    for name in ("actor", "target", "ts", "kind", "event_id", "thread"):
        assert ev[name].null_count == 0
    assert truth.params["n_chunks"] == 4
    # realistic mix: many likes, few meetings
    counts = dict(zip(*(pc.value_counts(ev["kind"]).flatten())))
    assert counts[pa.scalar("like")].as_py() > 5 * counts[pa.scalar("meeting")].as_py()


def test_same_seed_same_bytes_and_generator_seed() -> None:
    a, ta = population(300, 5_000, seed=11)
    b, tb = population(300, 5_000, seed=11)
    c, _ = population(300, 5_000, seed=np.random.default_rng(11))
    d, td = population(300, 5_000, seed=12)
    assert _bytes(a) == _bytes(b) == _bytes(c)
    for name in ("ties", "users", "events", "threads", "exchanges"):
        assert _bytes(getattr(ta, name)) == _bytes(getattr(tb, name))
    assert _bytes(a) != _bytes(d)
    assert _bytes(ta.ties) != _bytes(td.ties)


def test_parquet_out_matches_memory(tmp_path: Path) -> None:
    mem, tm = population(300, 7_000, seed=5, chunk_events=2_000)
    path, tf = population(300, 7_000, seed=5, chunk_events=2_000, out=tmp_path / "ev.parquet",
                          truth_out=tmp_path / "truth")
    assert path == tmp_path / "ev.parquet"
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    assert pq.read_table(path).equals(mem)
    assert tf.events is None and tf.ties.equals(tm.ties)
    assert tm.events is not None and pq.read_table(tmp_path / "truth" / "events.parquet").equals(
        tm.events)
    folder, _ = population(300, 7_000, seed=5, chunk_events=2_000, out=tmp_path / "parts")
    assert len(list(Path(folder).glob("part-*.parquet"))) == 4
    assert pq.read_table(folder).sort_by("event_id").equals(mem)


def test_every_engagement_follows_a_planted_tie(pop: tuple[pa.Table, eq.synth.Truth]) -> None:
    ev, truth = pop
    engage = ev.filter(pc.and_(pc.not_equal(ev["kind"], "follow"),
                               pc.not_equal(ev["actor"], ev["target"])))
    a, t = engage["actor"].to_numpy(), engage["target"].to_numpy()
    ego, alter = truth.ties["ego"].to_numpy(), truth.ties["alter"].to_numpy()
    planted = set(zip(ego.tolist(), alter.tolist()))
    observed = defaultdict(int)
    weight = defaultdict(float)
    kinds = engage["kind"].to_pylist()
    for x, y, k in zip(a.tolist(), t.tolist(), kinds):
        observed[(x, y)] += 1
        weight[(x, y)] += DEFAULT_KIND_WEIGHTS[k]
    assert set(observed) <= planted
    # the realised counts in the truth are the counts in the events
    events = truth.ties["events"].to_numpy()
    w = truth.ties["weight"].to_numpy()
    for i, pair in enumerate(zip(ego.tolist(), alter.tolist())):
        assert events[i] == observed.get(pair, 0)
        assert w[i] == pytest.approx(weight.get(pair, 0.0))
    # one-way ties: never an engagement back; reciprocated: the reverse tie is planted
    recip = truth.ties["reciprocated"].to_numpy()
    for i, (x, y) in enumerate(zip(ego.tolist(), alter.tolist())):
        assert ((y, x) in planted) == bool(recip[i])
        if not recip[i]:
            assert observed.get((y, x), 0) == 0
    assert 0.15 < 1 - recip.mean() < 0.5  # one_way=0.3 of pairs; fan ties are one-way too


def _naive_depths(eid: list[int], parent: list[int | None]) -> dict[int, int]:
    up = dict(zip(eid, parent))
    out = {}
    for e in eid:
        d, cur = 0, up[e]
        while cur is not None:
            d += 1
            cur = up[cur]
        out[e] = d
    return out


def test_planted_depths_and_exchanges_match_parent_pointers(
        pop: tuple[pa.Table, eq.synth.Truth]) -> None:
    ev, truth = pop
    assert truth.events is not None and truth.threads is not None and truth.exchanges is not None
    eid = ev["event_id"].to_pylist()
    parent = ev["parent"].to_pylist()
    actor = dict(zip(eid, ev["actor"].to_pylist()))
    target = dict(zip(eid, ev["target"].to_pylist()))
    ts = dict(zip(eid, ev["ts"].to_pylist()))
    up = dict(zip(eid, parent))
    depth = _naive_depths(eid, parent)
    t_eid = truth.events["event_id"].to_pylist()
    t_depth = truth.events["depth"].to_pylist()
    assert all(depth[e] == d for e, d in zip(t_eid, t_depth))
    # every reply is in the truth, aimed at its parent's actor, after it
    replies = [e for e in eid if up[e] is not None]
    assert set(replies) <= set(t_eid)
    assert all(target[e] == actor[up[e]] and ts[e] > ts[up[e]] for e in replies)

    # exchange: a naive walk down each root path
    def run(e: int) -> int:
        path = []
        cur: int | None = e
        while cur is not None:
            path.append(actor[cur])
            cur = up[cur]
        path.reverse()
        n = 1
        for i in range(1, len(path)):
            if path[i] == path[i - 1]:
                n = 1
            elif i >= 2 and path[i] == path[i - 2] and n >= 2:
                n += 1
            else:
                n = 2
        return n

    t_ex = truth.events["exchange"].to_pylist()
    assert all(run(e) == x for e, x in zip(t_eid, t_ex))
    # threads: thread id is the root's event id; max depth and longest exchange agree
    thread = dict(zip(eid, ev["thread"].to_pylist()))
    per: dict[int, list[int]] = defaultdict(list)
    for e in t_eid:
        per[thread[e]].append(e)
    th = truth.threads.to_pydict()
    for i, t in enumerate(th["thread"]):
        members = per[t]
        assert up[t] is None and th["size"][i] == len(members)
        assert th["max_depth"][i] == max(depth[e] for e in members)
        assert th["longest_exchange"][i] == max(run(e) for e in members)
    # a maximal exchange: no child continues it
    children: dict[int, list[int]] = defaultdict(list)
    for e in replies:
        children[up[e]].append(e)
    ex = truth.exchanges.to_pydict()
    for last, turns, u, v in zip(ex["last_event"], ex["turns"], ex["u"], ex["v"]):
        assert run(last) == turns >= 2
        assert {u, v} == {actor[last], actor[up[last]]}
        assert all(run(c) != turns + 1 for c in children[last])
    # replies mostly alternate: most threads with 3+ events hold a conversation
    big = [i for i, s in enumerate(th["size"]) if s >= 4]
    assert np.mean([th["longest_exchange"][i] >= 3 for i in big]) > 0.6


def test_depth_is_geometric(pop: tuple[pa.Table, eq.synth.Truth]) -> None:
    _, truth = pop
    assert truth.events is not None
    d = truth.events["depth"].to_numpy()
    counts = np.bincount(d[d > 0])[1:8].astype(float)
    # P(depth >= i) falls by (1 - depth_p) per level: counts fall by about 0.7
    ratios = counts[1:] / counts[:-1]
    assert np.all((ratios > 0.5) & (ratios < 0.9))


def test_engagequal_reads_the_tree_as_planted(pop: tuple[pa.Table, eq.synth.Truth]) -> None:
    ev, truth = pop
    e = eq.read_events(ev, event_id="event_id", parent="parent", thread="thread")
    assert e.tree is not None and e.accounting.rows_used == ev.num_rows
    assert e.accounting.notes.get("orphan_parent", 0) == 0
    assert truth.events is not None
    depth = dict(zip(e.tree.event_ids.to_pylist(), e.tree.depth.tolist()))
    assert all(depth[i] == d for i, d in zip(truth.events["event_id"].to_pylist(),
                                                truth.events["depth"].to_pylist()))


def test_heavy_tails_and_broadcast_contrast() -> None:
    ev, truth = population(3_000, 150_000, seed=2, broadcast_share=0.003)
    users = truth.users
    out_deg = np.bincount(np.searchsorted(users["user"].to_numpy(),
                                          truth.ties["ego"].to_numpy()),
                          minlength=users.num_rows)
    assert out_deg.max() > 10 * max(np.median(out_deg), 1)  # heavy-tailed activity
    rec = eq.reciprocity(ev, level="user")
    b_ids = users.filter(users["broadcast"])["user"]
    is_b = pc.is_in(rec["user"], b_ids).to_numpy(zero_copy_only=False)
    followers = dict(zip(users["user"].to_pylist(), users["followers"].to_pylist()))
    f = np.array([followers[u] for u in rec["user"].to_pylist()])
    share = pc.fill_null(rec["node_reciprocity"], 0.0).to_numpy()
    assert np.median(f[is_b]) > 20 * np.median(f[~is_b])  # huge follower counts
    assert np.median(share[is_b]) < 0.5 * np.median(share[~is_b])  # little two-way engagement


def test_planted_layers_are_recoverable() -> None:
    """Contact counts separate the planted layers (a simple check; the layers
    module carries the full recovery test)."""
    _, truth = population(300, 600_000, seed=4, thread_share=0.0, follow_share=0.0,
                          broadcast_share=0.0, one_way=0.0, rate_noise=0.1,
                          outer_rate=10.0)
    t = truth.ties
    layer = t["layer"].to_numpy()
    n = t["events"].to_numpy().astype(float)
    means = np.array([n[layer == k].mean() for k in range(1, 6)])
    assert np.all(np.abs(means[:-1] / means[1:] - 3.0) < 0.6)  # about 3x apart
    # nearest planted rate on the log scale recovers the layer of most ties
    rate = t["rate"].to_numpy()
    centres = np.array([np.median(rate[layer == k]) for k in range(1, 6)])
    guess = np.argmin(np.abs(np.log(np.maximum(n, 0.5))[:, None] - np.log(centres)[None, :]),
                      axis=1) + 1
    assert (guess == layer).mean() > 0.95
    # cumulative layer sizes per unit scale follow the planted 1.5 / 5 / 15 / 50 / 150
    sizes = np.cumsum(np.bincount(layer, minlength=6)[1:]).astype(float)
    assert np.all(np.abs(sizes[1:] / sizes[:-1] - np.array([5 / 1.5, 3, 50 / 15, 3])) < 1.0)


def test_options_are_checked() -> None:
    with pytest.raises(OptionError):
        population(10, 100, one_way=1.5)
    with pytest.raises(OptionError):
        population(10, 100, kinds={"hug": 1.0})
    with pytest.raises(OptionError):
        population(1, 100)
    ev, _ = population(50, 0, seed=1)
    assert ev.num_rows == 0
    ev, truth = population(50, 500, seed=1, one_way=1.0)  # no thread can start
    assert ev.num_rows == 500 and truth.events is None
    assert not pc.any(truth.ties["reciprocated"]).as_py()
    ev, _ = population(50, 500, seed=1, order="shuffled", ids="dense")
    assert pc.max(ev["actor"]).as_py() < 50
    assert not np.all(np.diff(ev["ts"].to_numpy()) >= 0)


def test_parse_count() -> None:
    assert parse_count("10M") == 10_000_000
    assert parse_count("2.5k") == 2_500
    assert parse_count("1_000") == 1_000
    with pytest.raises(OptionError):
        parse_count("ten")


def test_cli_synth(tmp_path: Path) -> None:
    from engagequal.cli import main

    out = tmp_path / "ev.parquet"
    assert main(["synth", "--events", "3k", "--users", "100", "--seed", "2", "--out", str(out),
                 "--truth", str(tmp_path / "truth")]) == 0
    t = pq.read_table(out)
    assert t.num_rows == 3_000
    assert t.equals(population(100, 3_000, seed=2)[0])
    assert pq.read_table(tmp_path / "truth" / "ties.parquet").num_rows > 0
    assert (tmp_path / "truth" / "events.parquet").exists()
