"""Reciprocity: how many ties are two-way, each variant under its own name.

Notation: ``w(u, v)`` is the summed weight of the events from ``u`` to ``v``
(self-interactions excluded, optionally windowed and decayed); a directed tie
``u -> v`` exists when ``w(u, v) > min_weight``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.kernels.dyads import Dyads, reverse_index
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, dyads_of, tie_options, windowed

__all__ = [
    "present_users",
    "reciprocity",
    "reciprocity_dyad",
    "reciprocity_global",
    "reciprocity_user",
]

_LEVELS = ("global", "user", "dyad")


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
    ev = read_events(source, **read_options)
    opts = tie_options(ev, window=window, half_life=half_life, min_weight=min_weight)
    d = dyads_of(ev, opts)
    if level == "global":
        return reciprocity_global(ev, d, opts)
    if level == "user":
        return reciprocity_user(ev, d, opts)
    return reciprocity_dyad(ev, d, opts)


def present_users(ev: Events, opts: TieOptions) -> NDArray[np.bool_]:
    """Users with at least one event (as actor or target) in the window."""
    sub = windowed(ev, opts)
    present = np.zeros(ev.n_users, dtype=bool)
    present[sub.actor] = True
    present[sub.target[sub.target >= 0]] = True
    return present


def _tie_parts(d: Dyads, opts: TieOptions) -> tuple[NDArray[np.bool_], NDArray[np.bool_],
                                                      NDArray[np.float64], NDArray[np.float64]]:
    """Per dyad: is a tie, is a mutual tie, its weight, the reverse tie's weight."""
    tie = d.w > opts.min_weight
    rev = reverse_index(d)
    has_rev = rev >= 0
    rev_tie = np.zeros(len(d), dtype=bool)
    rev_tie[has_rev] = tie[rev[has_rev]]
    mutual = tie & rev_tie
    w = np.where(tie, d.w, 0.0)
    w_rev = np.zeros(len(d))
    w_rev[has_rev] = w[rev[has_rev]]
    return tie, mutual, w, w_rev


def reciprocity_global(ev: Events, d: Dyads, opts: TieOptions) -> pa.Table:
    """The one-row global table from aggregated dyads (see :func:`reciprocity`)."""
    tie, mutual, w, w_rev = _tie_parts(d, opts)
    n = int(present_users(ev, opts).sum())
    ties = int(tie.sum())
    m_dir = int(mutual.sum())
    mutual_pairs = m_dir // 2
    connected = ties - mutual_pairs
    arc = ratio(np.array([m_dir]), np.array([ties]))
    q = ratio(np.array([mutual_pairs]), np.array([connected]))
    a = ties / (n * (n - 1)) if n > 1 else 0.0
    r = arc[0].as_py()
    rho_undefined = r is None or n < 2 or a >= 1.0
    rho = pa.array([0.0 if rho_undefined else (r - a) / (1.0 - a)], pa.float64(),
                   mask=np.array([rho_undefined]))
    weighted = ratio(np.array([np.minimum(w, w_rev).sum()]), np.array([w.sum()]))
    sub = windowed(ev, opts)
    selfs = int(np.count_nonzero(sub.actor == sub.target))
    return pa.table({
        "arc": arc, "pair_ratio": q, "rho": rho, "weighted": weighted,
        "users": pa.array([n], pa.int64()), "ties": pa.array([ties], pa.int64()),
        "mutual_pairs": pa.array([mutual_pairs], pa.int64()),
        "connected_pairs": pa.array([connected], pa.int64()),
        "self_interactions": pa.array([selfs], pa.int64()),
    })


def reciprocity_user(ev: Events, d: Dyads, opts: TieOptions) -> pa.Table:
    """The per-user table from aggregated dyads (see :func:`reciprocity`)."""
    tie, mutual, w, w_rev = _tie_parts(d, opts)
    nu = ev.n_users
    out_t = np.bincount(d.u, weights=tie, minlength=nu)
    in_t = np.bincount(d.v, weights=tie, minlength=nu)
    mut = np.bincount(d.u, weights=mutual, minlength=nu)
    s_out = np.bincount(d.u, weights=w, minlength=nu)
    s_in = np.bincount(d.v, weights=w, minlength=nu)
    s_rec = np.bincount(d.u, weights=np.minimum(w, w_rev), minlength=nu)
    users = np.flatnonzero(present_users(ev, opts))
    o, i, m = out_t[users], in_t[users], mut[users]
    so, si, sr = s_out[users], s_in[users], s_rec[users]
    return pa.table({
        "user": ev.user_ids(users),
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


def reciprocity_dyad(ev: Events, d: Dyads, opts: TieOptions) -> pa.Table:
    """The per-pair table from aggregated dyads (see :func:`reciprocity`)."""
    _, mutual, _, _ = _tie_parts(d, opts)
    rev = reverse_index(d)
    # one row per unordered pair: the (u < v) dyad, or the (u > v) one without reverse
    row = (d.u < d.v) | (rev < 0)
    idx = np.flatnonzero(row)
    flip = d.u[idx] > d.v[idx]
    r = rev[idx]
    has_r = r >= 0
    rr = np.where(has_r, r, 0)
    u = np.where(flip, d.v[idx], d.u[idx])
    v = np.where(flip, d.u[idx], d.v[idx])
    w_a, n_a = d.w[idx], d.n[idx]
    w_b = np.where(has_r, d.w[rr], 0.0)
    n_b = np.where(has_r, d.n[rr], 0)
    w_uv, w_vu = np.where(flip, w_b, w_a), np.where(flip, w_a, w_b)
    n_uv, n_vu = np.where(flip, n_b, n_a), np.where(flip, n_a, n_b)
    first = np.where(has_r, np.minimum(d.first[idx], d.first[rr]), d.first[idx])
    last = np.where(has_r, np.maximum(d.last[idx], d.last[rr]), d.last[idx])
    order = np.lexsort((v, u))
    u, v, w_uv, w_vu, n_uv, n_vu, first, last = (
        x[order] for x in (u, v, w_uv, w_vu, n_uv, n_vu, first, last))
    mut = mutual[idx][order]
    return pa.table({
        "u": ev.user_ids(u),
        "v": ev.user_ids(v),
        "w_uv": pa.array(w_uv),
        "w_vu": pa.array(w_vu),
        "n_uv": pa.array(n_uv.astype(np.int64)),
        "n_vu": pa.array(n_vu.astype(np.int64)),
        "first": ev.times(first),
        "last": ev.times(last),
        "balance": ratio(np.minimum(w_uv, w_vu), np.maximum(w_uv, w_vu)),
        "mutual": pa.array(mut),
    })
