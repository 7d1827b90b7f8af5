"""analyze(): one path, the same answers as the individual metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import engagequal as eq
from engagequal.errors import NullValueError, OptionError
from engagequal.synth import population, simple_events


@pytest.fixture(scope="module")
def pop() -> pa.Table:
    t, _ = population(400, 12_000, seed=3)
    return t


TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}


def _close(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    for c in a.column_names:
        x, y = a.column(c).to_pylist(), b.column(c).to_pylist()
        if pa.types.is_floating(a.schema.field(c).type):
            assert [v is None for v in x] == [v is None for v in y], c
            assert [v for v in x if v is not None] == pytest.approx(
                [v for v in y if v is not None], rel=1e-9, abs=1e-12), c
        else:
            assert x == y, c


def test_analyze_equals_the_individual_metrics(pop: pa.Table) -> None:
    r = eq.analyze(pop, layer_method="rank", progress=False, **TREE)
    ev = eq.read_events(pop, **TREE)
    _close(r.dyads, eq.reciprocity(ev, level="dyad"))
    _close(r.details["reciprocity_user"], eq.reciprocity(ev, level="user"))
    _close(r.threads, eq.conversations(ev, level="thread"))
    _close(r.layers, eq.dunbar_layers(ev, method="rank", level="ego"))
    _close(r.details["layers_tie"], eq.dunbar_layers(ev, method="rank", level="tie"))
    _close(r.details["quality"], eq.quality(ev))
    _close(r.details["responsiveness_user"], eq.responsiveness(ev))
    # users joins them all, one row per user, in id order
    users = r.users
    assert users.column("user").to_pylist() == eq.quality(ev).column("user").to_pylist()
    q = dict(zip(eq.quality(ev).column("user").to_pylist(),
                 eq.quality(ev).column("score").to_pylist(), strict=True))
    assert dict(zip(users.column("user").to_pylist(), users.column("score").to_pylist(),
                    strict=True)) == q


def test_metrics_subset_and_summary(pop: pa.Table) -> None:
    r = eq.analyze(pop, metrics=("reciprocity", "conversations", "layers"),
                   layer_method="rank", progress=False, **TREE)
    assert "score" not in r.users.column_names
    assert "quality" not in r.details and "responsiveness_user" not in r.details
    h = r.headline()
    assert h["events"] == pop.num_rows and h["rows_in"] == pop.num_rows
    assert h["threads"] == r.threads.num_rows
    assert 0 <= h["arc"] <= 1


def test_natural_layers_match_dunbar_layers() -> None:
    t = simple_events(150, 4_000, seed=2)
    r = eq.analyze(t, metrics=["layers"], progress=False)
    _close(r.layers, eq.dunbar_layers(t, method="natural", level="ego"))
    _close(r.details["layers_global"], eq.dunbar_layers(t, method="natural", level="global"))


def test_options_are_shared(pop: pa.Table) -> None:
    ev = eq.read_events(pop, **TREE)
    t0, t1 = int(ev.ts.min() // 10**9), int(ev.ts.min() // 10**9) + 90 * 86_400
    r = eq.analyze(ev, metrics=["reciprocity", "quality"], window=(t0, t1), min_weight=0.5,
                   progress=False)
    _close(r.dyads, eq.reciprocity(ev, level="dyad", window=(t0, t1), min_weight=0.5))
    _close(r.details["quality"], eq.quality(ev, window=(t0, t1), min_weight=0.5))


def test_bad_options_and_strictness() -> None:
    with pytest.raises(OptionError, match="unknown metrics"):
        eq.analyze({"actor": [1], "target": [2], "ts": [0]}, metrics=["popularity"])
    with pytest.raises(OptionError, match="layer_method"):
        eq.analyze({"actor": [1], "target": [2], "ts": [0]}, layer_method="kmeans")
    bad: dict[str, Any] = {"actor": [1, 2, 3], "target": [2, None, 1], "ts": [0, 1, 2]}
    with pytest.raises(NullValueError):
        eq.analyze(bad)
    r = eq.analyze(bad, strict=False, layer_method="rank", progress=False)
    d = dict(zip(r.dropped.column("reason").to_pylist(), r.dropped.column("rows").to_pylist(),
                 strict=True))
    assert d["null_target"] == 1
    assert r.headline()["rows_set_aside"] == 1 and r.headline()["events"] == 2


def test_row_order_does_not_change_the_report(pop: pa.Table) -> None:
    rng = np.random.default_rng(0)
    shuffled = pop.take(pa.array(rng.permutation(pop.num_rows)))
    a = eq.analyze(pop, layer_method="rank", progress=False, **TREE)
    b = eq.analyze(shuffled, layer_method="rank", progress=False, **TREE)
    for name in ("users", "dyads", "threads", "layers", "summary"):
        _close(getattr(a, name), getattr(b, name))


def test_progress_bar_is_optional(capsys: pytest.CaptureFixture[str]) -> None:
    t = simple_events(50, 500, seed=1)
    eq.analyze(t, layer_method="rank", progress=True)
    err = capsys.readouterr().err
    assert "engagequal analyze" in err
    eq.analyze(t, layer_method="rank", progress=False)
    assert capsys.readouterr().err == ""
