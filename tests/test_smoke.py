"""The DESIGN.md regression fixtures, end to end through the public API."""

from __future__ import annotations

import pytest

import engagequal as eq


def test_igraph_fixture() -> None:
    ev = {"actor": [1, 2, 2, 3, 4], "target": [2, 1, 3, 4, 4], "ts": [0, 1, 2, 3, 4]}
    g = eq.reciprocity(ev).to_pylist()[0]
    assert g["arc"] == 0.5
    assert g["pair_ratio"] == pytest.approx(1 / 3)
    assert g["rho"] == pytest.approx(0.25)
    assert g["self_interactions"] == 1


def test_weighted_fixture() -> None:
    # W = [[0,5,0],[1,0,2],[0,0,0]]
    ev = {"actor": [0, 1, 1], "target": [1, 0, 2], "ts": [0, 0, 0], "w": [5.0, 1.0, 2.0]}
    g = eq.reciprocity(ev, weight="w").to_pylist()[0]
    assert g["weighted"] == pytest.approx(0.25)
