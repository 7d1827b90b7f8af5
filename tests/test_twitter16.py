"""Real data: the Twitter16 propagation trees (Ma, Gao & Wong 2017).

The figures come from ``shared/data/twitter16-trees/README.md`` ("Figures
computed here"): nodes are (uid, tweet, delay) triples within a tree, the root
is the child of the ROOT line at depth 0, self-loop lines are ignored and a node
with several parents gets its shortest (breadth-first) distance.  engagequal
reads one row per edge line (:func:`propagation_tree_table`) in lenient mode:
a node listed under several parents keeps the nearest (``second_parent``), so
the same definition holds and the figures must match exactly.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from tests.conftest import data_path

import engagequal as eq
from engagequal.metrics.conversations import conversation_tables, propagation_tree_table

OPTS = {"actor": "actor", "target": None, "ts": "ts", "kind": "kind", "event_id": "event_id",
        "parent": "parent", "thread": "thread", "strict": False}


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return propagation_tree_table(data_path("twitter16-trees", "twitter16_tree.tar.gz"))


@pytest.fixture(scope="module")
def tables(table: pa.Table) -> dict[str, pa.Table]:
    return conversation_tables(eq.read_events(table, **OPTS))


def test_loader_counts(table: pa.Table) -> None:
    meta = {k.decode(): int(v) for k, v in table.schema.metadata.items()}
    assert meta == {"trees": 818, "lines": 363_536, "self_loop_lines": 953}
    assert table.num_rows == 363_536 - 953


def test_every_row_is_accounted_for(table: pa.Table) -> None:
    ev = eq.read_events(table, **OPTS)
    acc = ev.accounting
    assert acc.rows_in == acc.rows_used + sum(acc.set_aside.values())
    assert ev.n_events == 347_828  # distinct nodes, summed over trees
    assert set(acc.set_aside) <= {"duplicate_row", "duplicate_event_id"}
    # 3,398 nodes have two or more parents; 27 of them are also a tree's root
    # (the child of the ROOT line) and stay roots, as in the README's BFS
    assert acc.notes["second_parent"] == 3_398 - 27
    assert "orphan_parent" not in acc.notes and "parent_cycle" not in acc.set_aside


def test_readme_depth_figures(tables: dict[str, pa.Table]) -> None:
    th = tables["thread"].to_pydict()
    assert len(th["thread"]) == 818 and set(th["roots"]) == {1}
    max_depth = np.array(th["max_depth"])
    assert max_depth.max() == 16
    assert max_depth.mean() == pytest.approx(3.792, abs=5e-4)
    assert np.median(max_depth) == 3
    assert dict(Counter(max_depth.tolist())) == {1: 1, 2: 147, 3: 286, 4: 190, 5: 87, 6: 50,
                                                 7: 33, 8: 11, 9: 6, 10: 2, 11: 3, 12: 1, 16: 1}
    # pooled over non-root nodes: sum of depths / replies
    depth_sum = np.array(th["mean_depth"]) * np.array(th["size"])
    assert depth_sum.sum() / np.sum(th["replies"]) == pytest.approx(1.3985, abs=5e-5)
    ev = tables["event"]
    assert ev["depth"].to_numpy().max() == 16
    assert sum(th["size"]) == 347_828 and ev.num_rows == 347_828


@pytest.mark.slow
def test_row_order_does_not_change_the_tables(table: pa.Table,
                                              tables: dict[str, pa.Table]) -> None:
    perm = np.random.default_rng(7).permutation(table.num_rows)
    shuffled = conversation_tables(eq.read_events(table.take(pa.array(perm)), **OPTS))
    for level in ("thread", "dyad", "user"):
        assert shuffled[level].equals(tables[level])
    assert shuffled["event"].sort_by("event_id").equals(tables["event"].sort_by("event_id"))
