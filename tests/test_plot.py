"""Plots render to real PNG files with data on them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engagequal as eq
from engagequal.report import Report
from engagequal.synth import population

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TREE = {"event_id": "event_id", "parent": "parent", "thread": "thread"}


@pytest.fixture(scope="module")
def report() -> Report:
    t, _ = population(300, 9_000, seed=8)
    return eq.analyze(t, layer_method="natural", progress=False, **TREE)


def _busiest(report: Report) -> Any:
    return report.layers.sort_by([("active_size", "descending")]).column("ego")[0].as_py()


PLOTS: dict[str, Callable[..., Any]] = {
    "layers": lambda r, ax: eq.plot.layer_sizes(r, ax=ax),
    "reciprocity": lambda r, ax: eq.plot.reciprocity_distribution(r, ax=ax),
    "depth": lambda r, ax: eq.plot.depth_distribution(r, ax=ax),
    "exchanges": lambda r, ax: eq.plot.exchange_lengths(r, ax=ax),
    "quality": lambda r, ax: eq.plot.quality_vs_followers(r, ax=ax),
    "circles": lambda r, ax: eq.plot.ego_circles(r, _busiest(r), ax=ax),
}


def _ink(path: Path) -> float:
    img = plt.imread(path)[..., :3]
    return float((img.min(axis=2) < 0.9).mean())


@pytest.mark.parametrize("name", list(PLOTS))
def test_plot_renders_to_a_non_blank_png(report: Report, name: str, tmp_path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 4), dpi=80)
    try:
        got = PLOTS[name](report, ax)
        assert got is ax
        assert ax.has_data()  # something was drawn, not the "no data" note
        p = tmp_path / f"{name}.png"
        fig.savefig(p)
    finally:
        plt.close(fig)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _ink(p) > 0.01  # not blank


def test_default_axes_and_no_show(report: Report, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[bool] = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append(True))
    plt.figure()
    try:
        ax = eq.plot.reciprocity_distribution(report)
        assert ax is plt.gca()
    finally:
        plt.close("all")
    assert shown == []


def test_empty_report_says_so() -> None:
    fig, ax = plt.subplots()
    try:
        eq.plot.depth_distribution(Report(), ax=ax)
        assert any("no reply threads" in t.get_text() for t in ax.texts)
    finally:
        plt.close(fig)


def test_importing_plot_does_not_import_matplotlib() -> None:
    import subprocess

    code = ("import sys, engagequal, engagequal.plot; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_circles_place_inner_alters_closer(report: Report) -> None:
    ego = _busiest(report)
    fig, ax = plt.subplots()
    try:
        eq.plot.ego_circles(report, ego, ax=ax)
        pts = ax.collections[0].get_offsets()
        radius = np.hypot(pts[:, 0], pts[:, 1])
    finally:
        plt.close(fig)
    layers = report.ego(ego).layers.column("layer").to_pylist()
    assert radius.size == len(layers)
    assert radius.min() == pytest.approx(1.0)
