"""Reciprocity: how many ties are two-way, each variant under its own name.

Notation: ``w(u, v)`` is the summed weight of the events from ``u`` to ``v``
(self-interactions excluded, optionally windowed and decayed); a directed tie
``u -> v`` exists when ``w(u, v) > min_weight``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.kernels.dyads import Dyads, Pairs, pairs_from_dyads
from engagequal.kernels.pages import small_pages
from engagequal.kernels.segments import bincount
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, pairs_of, tie_options, windowed

__all__ = [
    "present_users",
    "reciprocity",
    "reciprocity_dyad",
    "reciprocity_global",
    "reciprocity_tables",
    "reciprocity_user",
]

_LEVELS = ("global", "user", "dyad")


@small_pages()
def reciprocity(
    source: Any,
    *,
    level: str = "global",
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    **read_options: Any,
) -> pa.Table:
    r"""Reciprocity of the ties, globally, per user or per dyad.

    Parameters
    ----------
    source : Events or table-like
        Events, or anything :func:`engagequal.read_events` accepts (with its
        column-mapping keywords in ``read_options``).
    level : {"global", "user", "dyad"}
        Which table to return.
    window : (t0, t1), optional
        Only events with ``t0 <= ts < t1`` (either end may be None).
    half_life : duration, optional
        Exponential decay of event weights towards the window end (or the
        latest event): each event counts ``w * 2 ** (-(T - t) / h)``.
    min_weight : float, default 0
        A directed tie ``u -> v`` exists when ``w(u, v) > min_weight``.

    Returns
    -------
    pyarrow.Table
        ``level="global"``, one row:

        ========================  =======  =============================================
        column                    type     meaning
        ========================  =======  =============================================
        arc                       float64  :math:`r = L^{\leftrightarrow} / L`, share of
                                           directed ties whose reverse is a tie
        pair_ratio                float64  :math:`q` = mutual pairs / connected pairs;
                                           :math:`r = 2q / (1 + q)`
        rho                       float64  :math:`(r - a) / (1 - a)`, density
                                           :math:`a = L / (N (N - 1))`
        weighted                  float64  :math:`r_w = \sum \min(w_{uv}, w_{vu}) / \sum w_{uv}`
        users                     int64    :math:`N`, users with an event in the window
        ties                      int64    :math:`L`, directed ties
        mutual_pairs              int64    unordered pairs tied both ways
        connected_pairs           int64    unordered pairs tied at least one way
        self_interactions         int64    events from a user to themself (excluded)
        ========================  =======  =============================================

        ``level="user"``: ``user``, ``node_reciprocity`` (:math:`2 |M| / (|O| +
        |I|)`), ``out_share`` (:math:`|M| / |O|`), ``connections`` (two-way
        ties), ``contacts`` (ties sent, never returned), ``audience`` (ties
        received, never returned), ``out_ties``, ``in_ties``, ``out_strength``,
        ``in_strength``, ``reciprocated_strength`` (:math:`\sum_v \min(w_{uv},
        w_{vu})`), ``nonreciprocated_out``, ``nonreciprocated_in``,
        ``weighted_reciprocity`` (reciprocated / out strength) and ``balance``
        (:math:`\min(s_{out}, s_{in}) / \max(s_{out}, s_{in})`).

        ``level="dyad"``: one row per unordered pair ``u < v`` (in id order)
        with an event: ``u``, ``v``, ``w_uv``, ``w_vu``, ``n_uv``, ``n_vu``,
        ``first``, ``last`` (in the input's time type), ``balance``
        (:math:`\min / \max` of the two weights) and ``mutual``.

    Raises
    ------
    OptionError
        For an unknown ``level`` or a bad option.

    Notes
    -----
    Undefined ratios (a zero denominator) are null.  Self-interactions are
    excluded and counted; parallel events are summed into one weighted tie.
    ``arc`` equals networkx ``overall_reciprocity`` on the loop-free simple
    graph (networkx keeps a self-loop in its denominator), and ``pair_ratio``
    igraph's ``reciprocity(mode="ratio")``.  The density of ``rho`` counts all
    :math:`N` users with an event in the window, including users whose only
    event is a self-interaction.  Time: one sort of the events by packed dyad
    key, then linear passes.

    References
    ----------
    .. [1] D. Garlaschelli and M. I. Loffredo, "Patterns of link reciprocity in
       directed networks", Phys. Rev. Lett. 93, 268701 (2004).
       doi:10.1103/PhysRevLett.93.268701
    .. [2] T. Squartini, F. Picciolo, F. Ruzzenenti and D. Garlaschelli,
       "Reciprocity of weighted networks", Sci. Rep. 3, 2729 (2013).
       doi:10.1038/srep02729

    Examples
    --------
    The igraph regression fixture: 1->2, 2->1, 2->3, 3->4 and a self-loop 4->4.

    >>> import engagequal as eq
    >>> ev = {"actor": [1, 2, 2, 3, 4], "target": [2, 1, 3, 4, 4], "ts": [0, 1, 2, 3, 4]}
    >>> g = eq.reciprocity(ev).to_pylist()[0]
    >>> g["arc"], round(g["pair_ratio"], 6), round(g["rho"], 6)
    (0.5, 0.333333, 0.25)
    """
    if level not in _LEVELS:
        raise OptionError(f"level must be one of {_LEVELS}, got {level!r}")
    return reciprocity_tables(source, levels=(level,), window=window, half_life=half_life,
                              min_weight=min_weight, **read_options)[level]


@small_pages()
def reciprocity_tables(
    source: Any,
    *,
    levels: Sequence[str] = _LEVELS,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    **read_options: Any,
) -> dict[str, pa.Table]:
    """Several levels of :func:`reciprocity` from one aggregation of the events.

    Parameters
    ----------
    source : Events or table-like
        As for :func:`reciprocity`.
    levels : sequence of {"global", "user", "dyad"}
        The tables wanted (default: all three).
    window, half_life, min_weight
        As for :func:`reciprocity`.

    Returns
    -------
    dict of str to pyarrow.Table
        One table per requested level, with the schemas of :func:`reciprocity`.

    Notes
    -----
    The events are aggregated into unordered pairs once (one sort of a packed
    ``int64`` key); the three tables are derived from the pairs in linear
    passes.  First and last contact are computed only when the dyad table is
    asked for.

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = {"actor": [1, 2, 2], "target": [2, 1, 3], "ts": [0, 1, 2]}
    >>> tabs = eq.reciprocity_tables(ev)
    >>> sorted(tabs), tabs["global"].column("arc").to_pylist(), tabs["dyad"].num_rows
    (['dyad', 'global', 'user'], [0.6666666666666666], 2)
    """
    bad = [lv for lv in levels if lv not in _LEVELS]
    if bad:
        raise OptionError(f"levels must be among {_LEVELS}, got {bad!r}")
    ev = read_events(source, **read_options)
    opts = tie_options(ev, window=window, half_life=half_life, min_weight=min_weight)
    p = pairs_of(ev, opts, times="dyad" in levels)
    present = present_users(ev, opts) if {"global", "user"} & set(levels) else None
    out: dict[str, pa.Table] = {}
    for lv in levels:
        if lv == "global":
            out[lv] = reciprocity_global(ev, p, opts, present=present)
        elif lv == "user":
            out[lv] = reciprocity_user(ev, p, opts, present=present)
    if "dyad" in levels:  # last: it may reuse the pairs' buffers
        out["dyad"] = _dyad_table(ev, p, opts, consume=True)
    return {lv: out[lv] for lv in levels}


def present_users(ev: Events, opts: TieOptions) -> NDArray[np.bool_]:
    """Users with at least one event (as actor or target) in the window
    (:attr:`Events.active <engagequal.Events.active>` of the windowed events;
    do not modify)."""
    return windowed(ev, opts).active


def _as_pairs(d: Dyads | Pairs) -> Pairs:
    return d if isinstance(d, Pairs) else pairs_from_dyads(d)


class _Ties:
    """Per pair: tie flags and tie weights of both directions (weights below
    the threshold count as no tie and weigh 0)."""

    def __init__(self, p: Pairs, min_weight: float) -> None:
        self.uv = p.w_uv > min_weight
        self.vu = p.w_vu > min_weight
        self.mutual = self.uv & self.vu
        # weights are >= 0, so with no threshold a non-tie already weighs 0
        self.w_uv = p.w_uv if min_weight == 0 else np.where(self.uv, p.w_uv, 0.0)
        self.w_vu = p.w_vu if min_weight == 0 else np.where(self.vu, p.w_vu, 0.0)
        self.w_min = np.minimum(self.w_uv, self.w_vu)


def reciprocity_global(ev: Events, d: Dyads | Pairs, opts: TieOptions, *,
                       present: NDArray[np.bool_] | None = None) -> pa.Table:
    """The one-row global table from aggregated dyads or pairs (see :func:`reciprocity`).

    ``present`` may pass :func:`present_users` when already computed.
    """
    p = _as_pairs(d)
    t = _Ties(p, opts.min_weight)
    if present is None:
        present = present_users(ev, opts)
    n = int(np.count_nonzero(present))
    ties = int(np.count_nonzero(t.uv)) + int(np.count_nonzero(t.vu))
    mutual_pairs = int(np.count_nonzero(t.mutual))
    connected = ties - mutual_pairs
    arc = ratio(np.array([2 * mutual_pairs]), np.array([ties]))
    q = ratio(np.array([mutual_pairs]), np.array([connected]))
    a = ties / (n * (n - 1)) if n > 1 else 0.0
    r = arc[0].as_py()
    rho_undefined = r is None or n < 2 or a >= 1.0
    rho = pa.array([0.0 if rho_undefined else (r - a) / (1.0 - a)], pa.float64(),
                   mask=np.array([rho_undefined]))
    weighted = ratio(np.array([2.0 * float(t.w_min.sum())]),
                     np.array([float(t.w_uv.sum()) + float(t.w_vu.sum())]))
    sub = windowed(ev, opts)
    selfs = int(np.count_nonzero(sub.actor == sub.target))
    return pa.table({
        "arc": arc, "pair_ratio": q, "rho": rho, "weighted": weighted,
        "users": pa.array([n], pa.int64()), "ties": pa.array([ties], pa.int64()),
        "mutual_pairs": pa.array([mutual_pairs], pa.int64()),
        "connected_pairs": pa.array([connected], pa.int64()),
        "self_interactions": pa.array([selfs], pa.int64()),
    })


def reciprocity_user(ev: Events, d: Dyads | Pairs, opts: TieOptions, *,
                     present: NDArray[np.bool_] | None = None) -> pa.Table:
    """The per-user table from aggregated dyads or pairs (see :func:`reciprocity`).

    ``present`` may pass :func:`present_users` when already computed.
    """
    p = _as_pairs(d)
    t = _Ties(p, opts.min_weight)
    nu = ev.n_users
    pu, pv = p.u.astype(np.intp), p.v.astype(np.intp)  # converted once, not per bincount

    def per_user(from_u: NDArray[Any], from_v: NDArray[Any]) -> NDArray[np.float64]:
        out = bincount(pu, weights=from_u, minlength=nu)
        out += bincount(pv, weights=from_v, minlength=nu)
        return np.asarray(out, dtype=np.float64)

    o = per_user(t.uv, t.vu)
    i = per_user(t.vu, t.uv)
    m = per_user(t.mutual, t.mutual)
    so = per_user(t.w_uv, t.w_vu)
    si = per_user(t.w_vu, t.w_uv)
    sr = per_user(t.w_min, t.w_min)
    if present is None:
        present = present_users(ev, opts)
    if not present.all():
        users = np.flatnonzero(present)
        o, i, m, so, si, sr = (x[users] for x in (o, i, m, so, si, sr))
        ids = ev.user_ids(users)
    else:
        ids = ev.users
    return pa.table({
        "user": ids,
        "node_reciprocity": ratio(2 * m, o + i),
        "out_share": ratio(m, o),
        "connections": pa.array(m.astype(np.int64)),
        "contacts": pa.array((o - m).astype(np.int64)),
        "audience": pa.array((i - m).astype(np.int64)),
        "out_ties": pa.array(o.astype(np.int64)),
        "in_ties": pa.array(i.astype(np.int64)),
        "out_strength": pa.array(so),
        "in_strength": pa.array(si),
        "reciprocated_strength": pa.array(sr),
        "nonreciprocated_out": pa.array(np.maximum(so - sr, 0.0)),
        "nonreciprocated_in": pa.array(np.maximum(si - sr, 0.0)),
        "weighted_reciprocity": ratio(sr, so),
        "balance": ratio(np.minimum(so, si), np.maximum(so, si)),
    })


def _balance(a: NDArray[np.float64], b: NDArray[np.float64]) -> pa.Array:
    """``min(a, b) / max(a, b)``, null where both are 0 (two temporaries only)."""
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    undefined = hi == 0
    np.divide(lo, hi, out=lo, where=~undefined)
    del hi
    return pa.array(lo, pa.float64(), mask=undefined if undefined.any() else None)


def reciprocity_dyad(ev: Events, d: Dyads | Pairs, opts: TieOptions) -> pa.Table:
    """The per-pair table from aggregated dyads or pairs (see :func:`reciprocity`)."""
    return _dyad_table(ev, _as_pairs(d), opts, consume=False)


def _dyad_table(ev: Events, p: Pairs, opts: TieOptions, *, consume: bool) -> pa.Table:
    """The dyad table; with ``consume`` the pairs' time arrays are converted in place."""
    if len(p) and p.first.size != len(p):
        raise OptionError("the dyad table needs first / last contact: aggregate with times")
    mutual = (p.w_uv > opts.min_weight) & (p.w_vu > opts.min_weight)
    return pa.table({
        "u": ev.user_ids(p.u),
        "v": ev.user_ids(p.v),
        "w_uv": pa.array(p.w_uv),
        "w_vu": pa.array(p.w_vu),
        "n_uv": pa.array(p.n_uv),
        "n_vu": pa.array(p.n_vu),
        "first": ev.times(p.first, inplace=consume),
        "last": ev.times(p.last, inplace=consume),
        "balance": _balance(p.w_uv, p.w_vu),
        "mutual": pa.array(mutual),
    })
