"""Plots of a :class:`~engagequal.report.Report` (matplotlib, extra ``plot``).

Every function draws on ``ax`` (default: the current axes, ``plt.gca()``),
returns the axes and never calls ``plt.show()``, so it composes with the
caller's figures.  matplotlib is imported only when a function is called.

>>> import engagequal as eq
>>> import engagequal.plot  # does not import matplotlib
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from engagequal.errors import MissingExtraError, OptionError

__all__ = ["depth_distribution", "ego_circles", "exchange_lengths", "layer_sizes",
           "quality_vs_followers", "reciprocity_distribution"]

_BLUE, _ORANGE, _GREY = "#3465a4", "#e07b39", "#888888"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is in the test extra
        raise MissingExtraError("plots need matplotlib: pip install 'engagequal[plot]'") from exc
    return plt.gca()


def _col(t: pa.Table, name: str) -> NDArray[np.float64]:
    """A column as float64 with nulls dropped (empty when absent)."""
    if name not in t.column_names:
        return np.zeros(0)
    out: NDArray[np.float64] = pc.drop_null(t.column(name)).to_numpy().astype(np.float64)
    return out


def _no_data(ax: Any, what: str) -> Any:
    ax.text(0.5, 0.5, f"no {what} in this report", ha="center", va="center",
            transform=ax.transAxes, color=_GREY)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def layer_sizes(report: Any, *, ax: Any = None) -> Any:
    """Cumulative Dunbar layer sizes per ego (box per layer, log scale) with the
    mean size and the mean scaling ratio between consecutive layers.

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses ``report.layers`` (``layer_1`` ..., ``scaling_ratio``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> eq.plot.layer_sizes(report, ax=ax).get_xlabel()
    'layer (1 = innermost)'
    """
    ax = _axes(ax)
    t = report.layers
    names = [c for c in t.column_names if c.startswith("layer_")]
    names.sort(key=lambda c: int(c.split("_")[1]))
    data = [v[v > 0] for v in (_col(t, c) for c in names)]
    keep = [i for i, v in enumerate(data) if v.size]
    if not keep:
        return _no_data(ax, "Dunbar layers")
    data = [data[i] for i in keep]
    labels = [str(int(names[i].split("_")[1])) for i in keep]
    pos = np.arange(1, len(data) + 1)
    ax.boxplot(data, positions=pos, widths=0.5, showfliers=False)
    means = [float(v.mean()) for v in data]
    ax.plot(pos, means, "o-", color=_ORANGE, label="mean")
    for x, m in zip(pos, means, strict=True):
        ax.annotate(f"{m:.1f}", (x, m), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(pos, labels)
    ratio = _col(t, "scaling_ratio")
    title = "Dunbar layers per ego (cumulative size)"
    if ratio.size:
        title += f"; mean scaling ratio {ratio.mean():.2f}"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("layer (1 = innermost)")
    ax.set_ylabel("alters")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def reciprocity_distribution(report: Any, *, ax: Any = None) -> Any:
    """Histogram of per-user node reciprocity, with the global arc reciprocity.

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses ``report.users["node_reciprocity"]`` and ``report.summary["arc"]``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> eq.plot.reciprocity_distribution(report, ax=ax).get_title()
    'Reciprocity per user'
    """
    ax = _axes(ax)
    x = _col(report.users, "node_reciprocity")
    if x.size == 0:
        return _no_data(ax, "reciprocity")
    ax.hist(x, bins=np.linspace(0, 1, 21), color=_BLUE, edgecolor="white")
    s = report.summary
    if "arc" in s.column_names and s.num_rows and s.column("arc")[0].is_valid:
        arc = s.column("arc")[0].as_py()
        ax.axvline(arc, color=_ORANGE, lw=2, label=f"global arc reciprocity {arc:.2f}")
        ax.legend(fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("Reciprocity per user", fontsize=10)
    ax.set_xlabel("node reciprocity 2|mutual| / (|out| + |in|)")
    ax.set_ylabel("users")
    return ax


def _count_bars(ax: Any, values: NDArray[np.float64], color: str) -> None:
    vals, counts = np.unique(values.astype(np.int64), return_counts=True)
    ax.bar(vals, counts, color=color, width=0.8)
    ax.set_yscale("log")


def depth_distribution(report: Any, *, ax: Any = None) -> Any:
    """Threads by maximum reply depth (log count).

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses ``report.threads["max_depth"]`` (empty without a reply tree).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> eq.plot.depth_distribution(report, ax=ax).get_xlabel()
    'maximum reply depth'
    """
    ax = _axes(ax)
    x = _col(report.threads, "max_depth")
    if x.size == 0:
        return _no_data(ax, "reply threads")
    _count_bars(ax, x, _BLUE)
    ax.set_title(f"Thread depth ({x.size:,} threads, mean {x.mean():.2f})", fontsize=10)
    ax.set_xlabel("maximum reply depth")
    ax.set_ylabel("threads")
    return ax


def exchange_lengths(report: Any, *, ax: Any = None) -> Any:
    """Threads by their longest two-person exchange (turns); 3 or more is a
    conversation.

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses ``report.threads["longest_exchange"]`` (empty without a reply tree).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> eq.plot.exchange_lengths(report, ax=ax).get_xlabel()
    'turns'
    """
    ax = _axes(ax)
    x = _col(report.threads, "longest_exchange")
    if x.size == 0:
        return _no_data(ax, "reply threads")
    _count_bars(ax, x, _BLUE)
    ax.axvline(2.5, color=_ORANGE, ls="--", lw=1.5, label="conversation: 3+ turns")
    ax.legend(fontsize=8)
    ax.set_title("Longest back-and-forth exchange per thread", fontsize=10)
    ax.set_xlabel("turns")
    ax.set_ylabel("threads")
    return ax


def quality_vs_followers(report: Any, *, ax: Any = None) -> Any:
    """Quality score against follower count: quality is not quantity.

    Without follow events the x axis is the number of people who reach the
    user (``in_ties``).  The title gives the Spearman rank correlation of the
    two.

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses ``report.users`` (``score``, ``followers`` or ``in_ties``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> eq.plot.quality_vs_followers(report, ax=ax).get_ylabel()
    'quality score (0-100)'
    """
    ax = _axes(ax)
    u = report.users
    if "score" not in u.column_names or u.num_rows == 0:
        return _no_data(ax, "quality scores")
    score = u.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    xname, xlabel = "followers", "followers (follow events)"
    x = (u.column("followers").to_numpy(zero_copy_only=False).astype(np.float64)
         if "followers" in u.column_names else np.zeros(u.num_rows))
    if not np.any(x > 0) and "in_ties" in u.column_names:
        xname, xlabel = "in_ties", "people reaching the user (no follow events)"
        x = u.column("in_ties").to_numpy(zero_copy_only=False).astype(np.float64)
    ax.scatter(x, score, s=6, alpha=0.35, color=_BLUE, edgecolors="none")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_ylim(-2, 102)
    if x.size > 2 and np.ptp(x) > 0 and np.ptp(score) > 0:
        rho = _spearman(x, score)
        ax.set_title(f"Quality score vs {xname} (Spearman {rho:+.2f})", fontsize=10)
    else:
        ax.set_title(f"Quality score vs {xname}", fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("quality score (0-100)")
    return ax


def _spearman(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    def ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
        order = np.argsort(x, kind="stable")
        r = np.empty(x.size)
        r[order] = np.arange(x.size, dtype=np.float64)
        # average ranks of ties
        _, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        out: NDArray[np.float64] = sums[inv] / cnt[inv]
        return out

    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def ego_circles(report: Any, user: Any, *, ax: Any = None) -> Any:
    """One ego's circles: alters on concentric rings by Dunbar layer (innermost
    closest), dot size by tie strength.

    Parameters
    ----------
    report : Report
        The result of :func:`engagequal.analyze` (or
        :meth:`Report.from_parquet <engagequal.Report.from_parquet>`).
        Uses the ego's layer ties (``report.ego(user).layers``).
    user : id
        The ego, as an original user id.
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default the current axes (``plt.gca()``).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``, drawn on (a "no ... in this report" note when the table is
        empty).

    Raises
    ------
    KeyError
        When ``user`` is not in the report.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> import engagequal as eq
    >>> events, _ = eq.synth.population(200, 5_000, seed=1)
    >>> report = eq.analyze(events, event_id="event_id", parent="parent",
    ...                     thread="thread", layer_method="rank")
    >>> ax = Figure().subplots()
    >>> top = report.users.sort_by([("connections", "descending")])["user"][0].as_py()
    >>> eq.plot.ego_circles(report, top, ax=ax).get_title().split(" (")[1]
    'L1: 5, L2: 10, L3: 20; grey: outside the layers)'
    """
    ax = _axes(ax)
    ego = report.ego(user)
    t = ego.layers
    if t.num_rows == 0 or "layer" not in t.column_names:
        return _no_data(ax, f"layered ties for {user!r}")
    layer = t.column("layer").fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    strength = _col(t, "strength")
    if strength.size != layer.size:
        raise OptionError("layer ties need a non-null strength")
    n_rings = int(layer.max()) if layer.size else 0
    ring = np.where(layer > 0, layer, n_rings + 1).astype(np.float64)
    # spread the alters of each ring evenly around it
    order = np.lexsort((-strength, ring))
    ring_s = ring[order]
    first = np.searchsorted(ring_s, ring_s, side="left")
    size = np.searchsorted(ring_s, ring_s, side="right") - first
    k = np.arange(ring_s.size) - first
    angle = np.empty(ring.size)
    angle[order] = 2 * np.pi * k / size + 0.3 * ring_s
    theta = np.linspace(0, 2 * np.pi, 200)
    for r in range(1, n_rings + 2):
        ax.plot(r * np.cos(theta), r * np.sin(theta), color="#dddddd", lw=0.8, zorder=0)
    s = 10 + 60 * strength / max(float(strength.max()), 1e-12)
    colors = np.where(layer > 0, _BLUE, _GREY)
    ax.scatter(ring * np.cos(angle), ring * np.sin(angle), s=s, c=list(colors), alpha=0.8,
               edgecolors="none")
    ax.scatter([0], [0], s=120, color=_ORANGE, zorder=3)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    counts = ", ".join(f"L{i}: {int(np.count_nonzero(layer == i))}" for i in range(1, n_rings + 1))
    ax.set_title(f"Circles of {user!r} ({counts}; grey: outside the layers)", fontsize=9)
    return ax
