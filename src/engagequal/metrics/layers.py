"""Dunbar layers: tie strength, the active network and each ego's inner circles.

Notation: ``w(u, v)`` is the summed (optionally windowed and decayed) weight of
the events from ``u`` to ``v``; ``Y`` is the length of the observation window
in years.  The strength of the tie from ego ``u`` to alter ``v`` is the
contact frequency ``f(u, v) = w(u, v) / Y`` (weighted contacts per year).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy import special

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import to_ns_scalar, to_seconds_duration
from engagequal.kernels.ckmeans import ckmeans_segments, explained_share
from engagequal.kernels.dyads import Dyads, reverse_pairs
from engagequal.kernels.pages import small_pages
from engagequal.kernels.parallel import aside, pmap
from engagequal.kernels.ranks import segment_order, segment_ranks
from engagequal.kernels.segments import (
    bincount,
    few_edges,
    segment_blocks,
    segment_starts,
    stable_order,
    starts_of,
)
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, dyads_of, tie_options, windowed

__all__ = [
    "DEFAULT_SIZES",
    "DEFAULT_THRESHOLDS",
    "dunbar_layers",
    "layer_stability",
    "layer_tables",
    "layers_from_dyads",
]

#: cumulative layer sizes of the ``rank`` method (Zhou, Sornette, Hill & Dunbar 2005)
DEFAULT_SIZES: tuple[int, ...] = (5, 15, 50, 150, 500, 1500)
#: contacts per year of the ``frequency`` method: weekly, monthly, a few times a year, yearly
DEFAULT_THRESHOLDS: tuple[float, ...] = (52.0, 12.0, 4.0, 1.0)

_METHODS = ("rank", "frequency", "natural")
_LEVELS = ("tie", "ego", "global")
_DIRECTIONS = ("out", "both", "reciprocated")
_NULLS = ("lognormal", "shuffle")
_YEAR_S = 365.25 * 86_400.0
_DAY_S = 86_400.0
#: variance floor of the BIC on the log scale (natural log units squared)
_LOG_VAR_FLOOR = 1e-4
#: values per block of a null draw (the temporaries of a block stay in the cache)
_NULL_BLOCK = 1 << 16
#: sampled values held at once by the chance check (draws x tested ties of a run)
_NULL_CELLS = 1 << 22


@dataclass(frozen=True, eq=False)
class _Ties:
    """Directed ego -> alter ties sorted by (ego, alter), with strength and activity."""

    ego: NDArray[np.int32]
    alter: NDArray[np.int32]
    strength: NDArray[np.float64]
    active: NDArray[np.bool_]
    years: float


@small_pages()
def dunbar_layers(
    source: Any,
    *,
    method: str = "rank",
    level: str = "tie",
    direction: str = "out",
    reciprocal: bool = True,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    min_age: Any = None,
    active_per_year: float = 1.0,
    sizes: Sequence[int] = DEFAULT_SIZES,
    thresholds: Sequence[float] | None = None,
    max_layers: int = 6,
    log_scale: bool = False,
    null_model: str | None = "lognormal",
    null_draws: int = 19,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
    **read_options: Any,
) -> pa.Table:
    r"""Dunbar layers of every ego: who sits in each inner circle.

    Tie strength is the contact frequency :math:`f(u, v) = w(u, v) / Y` in
    weighted contacts per year.  An alter is in ego ``u``'s **active network**
    when :math:`f(u, v) \ge` ``active_per_year`` (Dunbar's outer layer of about
    150 is defined by at-least-yearly contact), by default only when the tie
    runs both ways, and, with ``min_age``, only when the relationship is old
    enough.  Active alters are then placed in nested layers, innermost = 1.

    Parameters
    ----------
    source : Events or table-like
        Events, or anything :func:`engagequal.read_events` accepts (with its
        column-mapping keywords in ``read_options``).
    method : {"rank", "frequency", "natural"}
        ``rank``: active alters ranked by strength (ties broken by the smaller
        alter id) fill the cumulative ``sizes``; alters ranked beyond the last
        size are active but in no layer.  ``frequency``: the innermost layer
        whose threshold the strength reaches, ``thresholds`` in contacts per
        year (default :data:`DEFAULT_THRESHOLDS`: weekly 52, monthly 12, a few
        times a year 4, yearly 1).  ``natural``: the ego's active strengths
        clustered by exactly optimal one-dimensional k-means (Ckmeans), the
        number of clusters chosen by BIC, the strongest cluster layer 1.
    level : {"tie", "ego", "global"}
        Which table to return.
    direction : {"out", "both", "reciprocated"}
        Which weight makes the strength: ``out`` counts what the ego sends,
        ``w(u, v)``; ``both`` counts the two directions, ``w(u, v) + w(v, u)``
        (an alter who only writes to the ego is also a tie of the ego);
        ``reciprocated`` counts the reciprocated part ``min(w(u, v), w(v, u))``
        (only pairs tied both ways).
    reciprocal : bool, default True
        Require a tie in both directions (``w > min_weight`` each way) for an
        alter to be active.
    window : (t0, t1), optional
        Only events with ``t0 <= ts < t1``; ``Y`` is then ``t1 - t0`` (an open
        end is filled by the first or last event).
    half_life : duration, optional
        Exponential decay of event weights towards the window end (or the
        latest event).
    min_weight : float, default 0
        A directed tie exists when ``w(u, v) > min_weight``.
    min_age : duration, optional
        Ties whose first contact (either direction) is younger than this at the
        reference time (the window end, else the latest event) are not active:
        a frequency measured over a short relationship is unreliable.
    active_per_year : float, default 1
        Minimum strength of an active tie.
    sizes : sequence of int
        Cumulative sizes of the ``rank`` layers, increasing.
    thresholds : sequence of float, optional
        Decreasing strengths of the ``frequency`` layers.
    max_layers : int, default 6
        Largest number of ``natural`` layers tried.
    log_scale : bool, default False
        Cluster ``log f`` instead of ``f`` (``natural`` only).  The studies
        cluster the linear frequencies; on the log scale the noisy outer layers
        split and the inner ones merge.
    null_model : {"lognormal", "shuffle"} or None, default "lognormal"
        ``natural`` only: the chance check (see Notes).  None skips it.
    null_draws : int, default 19
        Null samples per ego.
    alpha : float, default 0.05
        An ego's layers are flagged as chance when the p-value exceeds ``alpha``.
    seed : int or numpy.random.Generator
        Randomness of the null model.

    Returns
    -------
    pyarrow.Table
        ``level="tie"``, one row per directed tie (for ``both``: per ordered
        pair tied either way), sorted by ego and alter:

        ========  =======  ===================================================
        column    type     meaning
        ========  =======  ===================================================
        ego       id       the ego
        alter     id       the alter
        strength  float64  :math:`f(u, v)`, weighted contacts per year
        layer     int64    innermost layer holding the alter (1 = inner);
                           null when not active or beyond the last layer
        active    bool     in the active network
        ========  =======  ===================================================

        ``level="ego"``, one row per ego with at least one tie: ``ego``,
        ``active_size`` (int64), ``layer_1`` .. ``layer_k`` (int64, cumulative
        sizes: ``layer_i`` counts the alters in layers ``1 .. i``; ``k`` is the
        number of sizes, thresholds or ``max_layers``; null beyond an ego's
        ``natural`` layers), ``ratio_2_1`` .. ``ratio_k_{k-1}`` (float64,
        ``layer_{i+1} / layer_i``, null when undefined), ``scaling_ratio``
        (mean of the ego's defined ratios), ``n_layers`` (int64, non-empty
        layers); for ``natural`` also ``null_p`` (float64, the p-value of the
        chance check, null when not run or when one layer was found) and
        ``chance`` (bool, ``null_p > alpha``).

        ``level="global"``, one row: ``egos`` (egos with an active network),
        ``mean_active_size``, ``mean_layer_1`` .., ``mean_ratio_2_1`` ..,
        ``mean_scaling_ratio``, ``mean_n_layers`` (means over those egos of the
        defined values), and for ``natural`` ``chance_share`` (share of tested
        egos flagged).

    Raises
    ------
    OptionError
        For an unknown ``method``, ``level``, ``direction`` or ``null_model``,
        or sizes / thresholds that are not strictly monotone.

    Notes
    -----
    **Window length.** ``Y`` is the given window, else the span from the first
    to the last event; a span shorter than a day counts as one day, so a
    stream of simultaneous events gives finite frequencies.  With decay the
    decayed weights are divided by the same ``Y``.

    **Natural layers.** Per ego, the active strengths are clustered for
    ``k = 1 .. max_layers`` by the exact dynamic programme of Ckmeans and
    ``k`` is chosen by the Bayesian information criterion of a hard-assignment
    Gaussian mixture (:func:`engagequal.kernels.ckmeans.gaussian_bic`).  A
    cluster's variance is floored at the counting noise of its mean rate
    :math:`m`: :math:`\max(m / Y, (1 / Y)^2 / 12)`, the Poisson variance of a
    rate estimated over ``Y`` years and the quantisation of one contact (on the
    log scale :math:`\max(e^{-m} / Y, 10^{-4})`).  Without it a single alter or
    a few tied ones would form a perfectly tight, hence infinitely likely,
    cluster, and BIC would split off singletons.  ``k`` never exceeds the
    number of distinct strengths.

    **Chance check.** Skewed frequencies always split into "layers".  For each
    ego with ``k >= 2`` layers the explained share
    :math:`R = 1 - SSE_k / SSE_1` is compared with the same statistic of the
    same clustering (same ``k``) on ``null_draws`` samples of the same size:
    ``lognormal`` draws from the lognormal fitted to the ego's strengths,
    ``shuffle`` from the active strengths of all egos shuffled together.
    ``null_p = (1 + #{R_null >= R}) / (1 + null_draws)``.

    Time: one dyad aggregation, one transposition to find reverse ties, one
    integer sort (``rank``); ``natural`` adds the vectorised dynamic
    programme, ``O(max_layers * n_e^2)`` per ego with ``n_e`` active alters,
    times ``1 + null_draws`` with the chance check.

    References
    ----------
    .. [1] R. I. M. Dunbar, V. Arnaboldi, M. Conti and A. Passarella, "The
       structure of online social networks mirrors those in the offline
       world", Social Networks 43, 39-47 (2015).
       doi:10.1016/j.socnet.2015.04.005
    .. [2] W.-X. Zhou, D. Sornette, R. A. Hill and R. I. M. Dunbar, "Discrete
       hierarchical organization of social group sizes", Proc. R. Soc. B 272,
       439-444 (2005). doi:10.1098/rspb.2004.2970
    .. [3] A. Sutcliffe, R. Dunbar, J. Binder and H. Arrow, "Relationships and
       the social brain: integrating psychological and evolutionary
       perspectives", Br. J. Psychol. 103, 149-168 (2012).
       doi:10.1111/j.2044-8295.2011.02061.x
    .. [4] H. Wang and M. Song, "Ckmeans.1d.dp: Optimal k-means clustering in
       one dimension by dynamic programming", The R Journal 3(2), 29-33
       (2011). doi:10.32614/RJ-2011-015

    Examples
    --------
    Ego 0 writes to 1 weekly-ish and to 2 once over a year; both write back.

    >>> import engagequal as eq
    >>> day = 86_400
    >>> ev = {"actor": [0] * 60 + [0, 1, 2, 0],
    ...       "target": [1] * 60 + [2, 0, 0, 3],
    ...       "ts": [i * 6 * day for i in range(60)] + [0, 5, 9, 365 * day]}
    >>> t = eq.dunbar_layers(ev, method="frequency").to_pylist()
    >>> [(r["ego"], r["alter"], r["layer"], r["active"]) for r in t]
    [(0, 1, 1, True), (0, 2, 4, True), (0, 3, None, False), (1, 0, 4, True), (2, 0, 4, True)]
    """
    _check(method, level, direction, null_model)
    ev = read_events(source, **read_options)
    opts = tie_options(ev, window=window, half_life=half_life, min_weight=min_weight)
    return layers_from_dyads(
        ev, dyads_of(ev, opts, times=min_age is not None), opts, method=method, level=level,
        direction=direction, reciprocal=reciprocal, min_age=min_age,
        active_per_year=active_per_year, sizes=sizes, thresholds=thresholds,
        max_layers=max_layers, log_scale=log_scale, null_model=null_model,
        null_draws=null_draws, alpha=alpha, seed=seed)


def _check(method: str, level: str, direction: str, null_model: str | None) -> None:
    if method not in _METHODS:
        raise OptionError(f"method must be one of {_METHODS}, got {method!r}")
    if level not in _LEVELS:
        raise OptionError(f"level must be one of {_LEVELS}, got {level!r}")
    if direction not in _DIRECTIONS:
        raise OptionError(f"direction must be one of {_DIRECTIONS}, got {direction!r}")
    if null_model is not None and null_model not in _NULLS:
        raise OptionError(f"null_model must be one of {_NULLS} or None, got {null_model!r}")


@small_pages()
def layers_from_dyads(
    ev: Events,
    d: Dyads,
    opts: TieOptions,
    *,
    method: str = "rank",
    level: str = "tie",
    direction: str = "out",
    reciprocal: bool = True,
    min_age: Any = None,
    active_per_year: float = 1.0,
    sizes: Sequence[int] = DEFAULT_SIZES,
    thresholds: Sequence[float] | None = None,
    max_layers: int = 6,
    log_scale: bool = False,
    null_model: str | None = "lognormal",
    null_draws: int = 19,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> pa.Table:
    """:func:`dunbar_layers` from already-aggregated dyads.

    The tie metrics of one analysis share a single dyad aggregation
    (:func:`engagequal.analyze` does this); this entry point takes that
    aggregation instead of recomputing it.

    Parameters
    ----------
    ev : Events
        The events, from :func:`engagequal.read_events`.
    d : Dyads
        The directed dyads of ``ev`` under ``opts``:
        ``engagequal.metrics._ties.dyads_of(ev, opts)``.
    opts : TieOptions
        Window, decay and minimum weight, resolved by
        ``engagequal.metrics._ties.tie_options(ev, ...)``.
    method, level, direction, reciprocal, min_age, active_per_year
        As in :func:`dunbar_layers`.
    sizes, thresholds, max_layers, log_scale, null_model, null_draws, alpha, seed
        As in :func:`dunbar_layers`.

    Returns
    -------
    pyarrow.Table
        The table of :func:`dunbar_layers` at ``level``.

    Examples
    --------
    >>> import engagequal as eq
    >>> from engagequal.metrics._ties import dyads_of, tie_options
    >>> day = 86_400
    >>> ev = eq.read_events({"actor": [0, 1, 0, 2, 0], "target": [1, 0, 2, 0, 1],
    ...                      "ts": [0, day, 2 * day, 3 * day, 365 * day]})
    >>> opts = tie_options(ev)
    >>> d = dyads_of(ev, opts)
    >>> t = eq.layers_from_dyads(ev, d, opts, sizes=(1, 2), level="ego")
    >>> t.select(["ego", "active_size", "layer_1", "layer_2"]).to_pylist()[0]
    {'ego': 0, 'active_size': 2, 'layer_1': 1, 'layer_2': 2}
    """
    return layer_tables(ev, d, opts, levels=(level,), method=method, direction=direction,
                        reciprocal=reciprocal, min_age=min_age,
                        active_per_year=active_per_year, sizes=sizes, thresholds=thresholds,
                        max_layers=max_layers, log_scale=log_scale, null_model=null_model,
                        null_draws=null_draws, alpha=alpha, seed=seed)[level]


def layer_tables(
    ev: Events,
    d: Dyads,
    opts: TieOptions,
    *,
    levels: Sequence[str] = ("tie", "ego", "global"),
    method: str = "rank",
    direction: str = "out",
    reciprocal: bool = True,
    min_age: Any = None,
    active_per_year: float = 1.0,
    sizes: Sequence[int] = DEFAULT_SIZES,
    thresholds: Sequence[float] | None = None,
    max_layers: int = 6,
    log_scale: bool = False,
    null_model: str | None = "lognormal",
    null_draws: int = 19,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> dict[str, pa.Table]:
    """The layer tables at several levels from one layer assignment.

    Takes the options of :func:`layers_from_dyads`; ``levels`` is any subset
    of ``"tie"``, ``"ego"``, ``"global"``.  The ties are ranked or clustered
    once, whatever the number of levels asked for.

    Returns
    -------
    dict of str to pyarrow.Table
        The table of :func:`dunbar_layers` at each level asked for.

    Examples
    --------
    >>> import engagequal as eq
    >>> from engagequal.metrics._ties import dyads_of, tie_options
    >>> ev = eq.read_events({"actor": [0, 1, 0, 2], "target": [1, 0, 2, 0],
    ...                      "ts": [0, 10, 20, 30]})
    >>> opts = tie_options(ev)
    >>> tabs = layer_tables(ev, dyads_of(ev, opts), opts, sizes=(1, 2))
    >>> sorted(tabs), tabs["tie"].num_rows
    (['ego', 'global', 'tie'], 4)
    """
    for level in levels:
        _check(method, level, direction, null_model)
    ties = _ties(ev, d, opts, direction=direction, reciprocal=reciprocal, min_age=min_age,
                 active_per_year=active_per_year)
    if "tie" in levels:  # the tie table's ids do not wait for the layers
        ids = aside(lambda: (ev.user_ids(ties.ego), ev.user_ids(ties.alter)))
    layer, n_cols, extra = _assign(ties, method=method, sizes=sizes, thresholds=thresholds,
                                   max_layers=max_layers, log_scale=log_scale,
                                   null_model=null_model, null_draws=null_draws, seed=seed)
    out: dict[str, pa.Table] = {}
    if "tie" in levels:
        out["tie"] = _tie_table(*ids(), ties, layer)
    if "ego" in levels or "global" in levels:
        ego = _ego_table(ev, ties, layer, n_cols, method=method, extra=extra, alpha=alpha)
        if "ego" in levels:
            out["ego"] = ego
        if "global" in levels:
            out["global"] = _global_table(ego, n_cols, natural=method == "natural")
    return out


def _tie_table(ego: pa.Array, alter: pa.Array, ties: _Ties,
               layer: NDArray[np.int64]) -> pa.Table:
    """``level="tie"``: one row per tie (its ego and alter ids given), its
    strength, layer (null: none) and active flag."""
    return pa.table({
        "ego": ego,
        "alter": alter,
        "strength": pa.array(ties.strength, pa.float64()),
        "layer": pa.array(layer, pa.int64(), mask=layer == 0),
        "active": pa.array(ties.active, pa.bool_()),
    })


def _window_years(ev: Events, opts: TieOptions) -> tuple[float, int]:
    """Window length in years (floored at a day) and the reference time in ns."""
    sub = windowed(ev, opts)
    src = sub if sub.n_events else ev
    lo, hi = src.time_range
    t0 = opts.t0 if opts.t0 is not None else lo
    t1 = opts.t1 if opts.t1 is not None else hi
    span_s = max((t1 - t0) / 1e9, _DAY_S)
    return span_s / _YEAR_S, t1


def _ties(ev: Events, d: Dyads, opts: TieOptions, *, direction: str, reciprocal: bool,
          min_age: Any, active_per_year: float) -> _Ties:
    years, ref = _window_years(ev, opts)
    keep = d.w > opts.min_weight
    if keep.all():  # the common case: no copies
        u, v, w = d.u, d.v, d.w
    else:
        u, v, w = d.u[keep], d.v[keep], d.w[keep]
    rev = reverse_pairs(u, v, d.n_users)
    has = rev.has()
    first_pair: NDArray[np.int64] | None = None  # of the tie either way: for min_age only
    if min_age is not None:
        if d.first.size != d.u.size:
            raise OptionError("min_age needs the dyads' first contact: aggregate with times")
        first = d.first if w is d.w else d.first[keep]
        first_pair = np.minimum(first, rev.of(first, fill=np.iinfo(np.int64).max))
    if direction == "out":
        total = w
    else:  # the reverse weights, for the other directions only
        w_rev = rev.of(w)
    if direction == "both":
        # add the mirror of every one-way tie, then restore (ego, alter) order
        one = ~has
        u, v = np.concatenate([u, v[one]]), np.concatenate([v, u[one]])
        w_out = np.concatenate([w, np.zeros(int(one.sum()))])
        w_rev = np.concatenate([w_rev, w[one]])
        has = np.concatenate([has, has[one]])
        order = np.argsort(u.astype(np.int64) * np.int64(d.n_users) + v)
        u, v, has = u[order], v[order], has[order]
        w_out, w_rev = w_out[order], w_rev[order]
        if first_pair is not None:
            first_pair = np.concatenate([first_pair, first_pair[one]])[order]
        total = w_out + w_rev
    elif direction == "reciprocated":
        u, v, w, w_rev = u[has], v[has], w[has], w_rev[has]
        if first_pair is not None:
            first_pair = first_pair[has]
        has = has[has]
        total = np.minimum(w, w_rev)
    strength = total / years
    apy = float(active_per_year)
    if not np.isfinite(apy) or apy < 0:
        raise OptionError(f"active_per_year must be a finite number >= 0, got {active_per_year!r}")
    active = strength >= apy
    if reciprocal:
        active &= has
    if first_pair is not None:
        age_ns = to_seconds_duration(min_age, name="min_age") * 1e9
        active &= (ref - first_pair) >= age_ns
    return _Ties(ego=u.astype(np.int32), alter=v.astype(np.int32), strength=strength,
                 active=active, years=years)


def _assign(ties: _Ties, *, method: str, sizes: Sequence[int],
            thresholds: Sequence[float] | None, max_layers: int, log_scale: bool,
            null_model: str | None, null_draws: int,
            seed: int | np.random.Generator) -> tuple[NDArray[np.int64], int, dict[str, Any]]:
    """Layer of every tie (0 = none), the number of layer columns, natural extras."""
    layer = np.zeros(ties.ego.size, dtype=np.int64)
    act = np.flatnonzero(ties.active)
    extra: dict[str, Any] = {}
    if method == "rank":
        cum = np.asarray(sizes, dtype=np.int64)
        if cum.size == 0 or np.any(cum <= 0) or np.any(np.diff(cum) <= 0):
            raise OptionError(f"sizes must be positive and strictly increasing, got {sizes!r}")
        ranks = segment_ranks(ties.ego[act], ties.strength[act])
        lay = few_edges(cum, ranks, side="left") + 1
        layer[act] = np.where(ranks <= cum[-1], lay, 0)
        return layer, int(cum.size), extra
    if method == "frequency":
        th = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, np.float64)
        if th.size == 0 or not np.all(np.isfinite(th)) or np.any(np.diff(th) >= 0):
            raise OptionError(f"thresholds must be finite and strictly decreasing, got "
                              f"{thresholds!r}")
        s = ties.strength[act]
        # layer i holds strengths >= th[i-1]: count the thresholds above s
        lay = few_edges(-th, -s, side="left") + 1
        layer[act] = np.where(lay <= th.size, lay, 0)
        return layer, int(th.size), extra
    if max_layers < 1:
        raise OptionError(f"max_layers must be >= 1, got {max_layers!r}")
    k_max = int(max_layers)
    if act.size == 0:
        extra.update(k=np.zeros(0, np.int64), egos=np.zeros(0, np.int32),
                     p=np.zeros(0), tested=np.zeros(0, bool))
        return layer, k_max, extra
    ego = ties.ego[act]
    x = np.log(ties.strength[act]) if log_scale else ties.strength[act]
    order = segment_order(ego, x)
    xs, es = x[order], ego[order]
    starts = segment_starts(es)
    floor = _LOG_VAR_FLOOR if log_scale else (1.0 / ties.years) ** 2 / 12.0
    lengths = np.diff(np.append(starts, xs.size))
    k, labels, sse = _cluster_egos(xs, starts, lengths, k_max=k_max, var_floor=floor,
                                   rate_years=ties.years, log_rates=log_scale)

    def place() -> None:  # layer 1 = the strongest of the ego's k clusters
        layer[act[order]] = np.repeat(k, lengths) - labels

    placed = aside(place)  # while the chance check runs
    p = np.full(starts.size, np.nan)
    tested = k >= 2
    if null_model is not None and null_draws > 0 and tested.any():
        p = _null_p(xs, starts, k, sse, tested, null_model=null_model,
                    draws=int(null_draws), log_scale=log_scale, seed=seed)
    placed()
    extra.update(k=k, egos=es[starts], p=p, tested=tested)
    return layer, k_max, extra


def _cluster_egos(xs: NDArray[np.float64], starts: NDArray[np.int64],
                  lengths: NDArray[np.int64], *, k_max: int, var_floor: float,
                  rate_years: float, log_rates: bool
                  ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """``k``, labels and SSE table of :func:`ckmeans_segments` for every ego.

    An ego with one active tie has one layer, label 0 and no spread (SSE 0
    with one cluster, ``inf`` with more): only the egos with two ties or more
    go through the programme, which clusters each ego on its own, so the
    answer is the same and egos with a single tie (most of them around a
    hub) cost nothing.
    """
    multi = lengths >= 2
    if multi.all():  # no copies
        res = ckmeans_segments(xs, starts, k_max=k_max, var_floor=var_floor,
                               rate_years=rate_years, log_rates=log_rates)
        return res.k, res.labels, res.sse
    k = np.ones(starts.size, dtype=np.int64)
    labels = np.zeros(xs.size, dtype=np.int64)
    sse = np.full((starts.size, k_max), np.inf)
    sse[:, 0] = 0.0
    if multi.any():
        keep = np.repeat(multi, lengths)
        m_len = lengths[multi]
        res = ckmeans_segments(xs[keep], starts_of(m_len), k_max=k_max, var_floor=var_floor,
                               rate_years=rate_years, log_rates=log_rates)
        k[multi] = res.k
        labels[keep] = res.labels
        sse[multi] = res.sse
    return k, labels, sse


def _null_p(xs: NDArray[np.float64], starts: NDArray[np.int64], k: NDArray[np.int64],
            sse: NDArray[np.float64], tested: NDArray[np.bool_], *, null_model: str,
            draws: int, log_scale: bool, seed: int | np.random.Generator) -> NDArray[np.float64]:
    """p-value of each tested ego's explained share ``1 - SSE_k / SSE_1`` under the null.

    Each draw takes its random numbers from its own generator, spawned from
    the seed, in ego order: for the lognormal model ``n + 1`` standard
    exponentials per tested ego of ``n`` ties (see :func:`_lognormal_sorted`;
    taken block by block, which gives the same numbers as one call), for the
    shuffle model one permutation of all tested values.  The tested egos are
    taken in runs (in ego order) of about ``_NULL_CELLS / draws`` values, and
    the draws of a run in groups holding at most ``_NULL_CELLS`` sampled
    values (see :func:`_null_hits`), so memory stays bounded by that however
    many ties there are.
    """
    rng = np.random.default_rng(seed)
    lengths = np.diff(np.append(starts, xs.size))
    seg_e = np.flatnonzero(tested)
    n_e = lengths[seg_e]
    vals = xs[_segment_positions(starts[seg_e], n_e)]
    seg_of = np.repeat(np.arange(seg_e.size), n_e)
    sigma = np.zeros(seg_e.size)
    if not log_scale:  # the share is blind to the scale e**mu and, on logs, to sigma too
        logs = np.log(vals)
        nn = n_e.astype(np.float64)
        mu = bincount(seg_of, weights=logs, minlength=seg_e.size) / nn
        sigma = np.sqrt(bincount(seg_of, weights=(logs - mu[seg_of]) ** 2,
                                 minlength=seg_e.size) / nn)
        del logs, mu
    with np.errstate(divide="ignore", invalid="ignore"):
        r_obs = np.nan_to_num(1.0 - sse[seg_e, k[seg_e] - 1] / sse[seg_e, 0], nan=1.0)
    first_e = starts_of(n_e)
    gens = rng.spawn(draws)
    shuffle = null_model != "lognormal"

    def permuted(g: np.random.Generator) -> NDArray[np.float64]:  # sorted within each ego
        perm = g.permutation(vals)
        out: NDArray[np.float64] = perm[np.lexsort((perm, seg_of))]
        return out

    # the shuffle permutes the whole pool: one run; the lognormal samples run after run
    runs = ([(0, seg_e.size)] if shuffle
            else segment_blocks(first_e, vals.size, max(1, _NULL_CELLS // draws)))
    hits = np.zeros(seg_e.size)
    for a, b in runs:  # the generators go on from run to run: one stream per draw
        per = max(1, _NULL_CELLS // int(n_e[a:b].sum()))
        for d0 in range(0, draws, per):
            group = gens[d0:d0 + per]
            hits[a:b] += _null_hits(group, n_e[a:b], sigma[a:b], k[seg_e[a:b]], r_obs[a:b],
                                    log_scale=log_scale,
                                    shuffled=pmap(permuted, group) if shuffle else None)
    p = np.full(starts.size, np.nan)
    p[seg_e] = (1.0 + hits) / (1.0 + draws)
    return p


def _null_hits(gens: Sequence[np.random.Generator], n: NDArray[np.int64],
               sigma: NDArray[np.float64], kk: NDArray[np.int64], r_obs: NDArray[np.float64],
               *, log_scale: bool, shuffled: list[NDArray[np.float64]] | None
               ) -> NDArray[np.float64]:
    """How many draws of a run of egos (in ego order) explain at least their ``r_obs``.

    One row of samples per generator, drawn block by block in ego order
    (``shuffled``: the rows given), laid out with the egos grouped by their
    number of layers ``k``; the shares are then computed on blocks of whole
    egos with the same ``k``, every draw of a block at once (the programme
    runs only up to the block's ``k``; a block's temporaries stay in the
    cache).
    """
    m, draws = n.size, len(gens)
    first_e = starts_of(n)
    size = int(first_e[-1] + n[-1])
    by_k = stable_order(kk)
    n_k, k_k = n[by_k], kk[by_k]
    first = starts_of(n_k)
    rank = np.empty(m, dtype=np.int64)
    rank[by_k] = np.arange(m)
    dest = _segment_positions(first[rank], n)  # by-k position of each ego-order value
    samples = np.empty((draws, size))
    if shuffled is None:
        blocks = [(int(first_e[a]), int(first_e[a] + n[a:b].sum()), a, b,
                   _SampleLayout.of(n[a:b])) for a, b in segment_blocks(first_e, size,
                                                                         _NULL_BLOCK)]

        def sample(row: int) -> None:  # block by block: the same numbers as in one piece
            for lo, hi, a, b, lay in blocks:
                samples[row, dest[lo:hi]] = _lognormal_sorted(gens[row], lay, sigma[a:b],
                                                              log_scale=log_scale)

        pmap(sample, list(range(draws)))
    else:
        for row, x in enumerate(shuffled):
            samples[row, dest] = x
    k_at = np.flatnonzero(np.diff(k_k, prepend=-1))
    plan = []
    for r0, r1 in itertools.pairwise([*k_at.tolist(), m]):
        f = first[r0:r1] - first[r0]
        per = (_NULL_BLOCK if k_k[r0] == 2 else 4 * _NULL_BLOCK) // draws + 1
        plan += [(int(k_k[r0]), r0 + a, r0 + b)
                 for a, b in segment_blocks(f, int(n_k[r0:r1].sum()), per)]
    r_obs_k = r_obs[by_k]

    def count(step: tuple[int, int, int]) -> NDArray[np.float64]:
        kv, a, b = step
        lo = int(first[a])
        r_null = explained_share(samples[:, lo:lo + int(n_k[a:b].sum())], first[a:b] - lo, kv)
        out: NDArray[np.float64] = (np.nan_to_num(r_null, nan=1.0) >= r_obs_k[a:b]).sum(
            axis=0, dtype=np.float64)
        return out

    out = np.empty(m)
    out[by_k] = np.concatenate(pmap(count, plan))
    return out


@dataclass(frozen=True, eq=False)
class _SampleLayout:
    """Where each value of a block of egos takes its exponentials (see :func:`_lognormal_sorted`).

    Ego ``j`` of ``n[j]`` values uses the slots ``first[j] + j .. first[j] +
    j + n[j]``, the last closing its sum.  The layout is the same for every
    draw, so it is built once.
    """

    seg: NDArray[np.intp]   # ego of each value
    slot: NDArray[np.intp]  # slot of each value
    end: NDArray[np.intp]   # closing slot of each ego
    prev: NDArray[np.intp]  # the slot before each ego's first (0 for the first ego)

    @classmethod
    def of(cls, n: NDArray[np.int64]) -> _SampleLayout:
        m = n.size
        seg = np.repeat(np.arange(m, dtype=np.intp), n)
        end = starts_of(n) + np.arange(m) + n
        return cls(seg=seg, slot=np.arange(seg.size, dtype=np.intp) + seg, end=end,
                   prev=np.maximum(end - n - 1, 0))


def _lognormal_sorted(g: np.random.Generator, lay: _SampleLayout,
                      sigma: NDArray[np.float64], *, log_scale: bool) -> NDArray[np.float64]:
    """A sorted sample of each ego's values, without a sort.

    ``exp(sigma * Z)`` for standard normals ``Z`` (``Z`` itself on the log
    scale): the lognormal of the ego up to its scale ``e**mu`` (and, on the
    log scale, the normal up to shift and scale), which the explained share
    does not see.  The order statistics of ``n`` standard normals are the
    normal quantiles of ``S_i / S_{n+1}``, ``S`` the partial sums of
    ``n + 1`` standard exponentials (Renyi).  The partial sums are taken in
    32.32 fixed point: integer sums are exact (wrapping included), so an
    ego's sample does not depend on the egos before it.
    """
    e = g.standard_exponential(lay.seg.size + lay.end.size)
    e *= 2.0 ** 32
    c = np.cumsum(e.astype(np.int64))
    base = c[lay.prev]
    base[0] = 0
    total = (c[lay.end] - base).astype(np.float64)
    u = (c[lay.slot] - base[lay.seg]).astype(np.float64)
    u /= total[lay.seg]
    np.clip(u, 1e-300, 1.0 - 2.0 ** -53, out=u)
    z: NDArray[np.float64] = special.ndtri(u)
    if log_scale:
        return z
    z *= sigma[lay.seg]
    return np.exp(z, out=z)


def _segment_positions(starts: NDArray[np.int64], n: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenated ``arange(start, start + n)`` of every segment."""
    total = int(n.sum())
    out: NDArray[np.int64] = np.arange(total, dtype=np.int64) - np.repeat(starts_of(n) - starts,
                                                                          n)
    return out


def _ego_table(ev: Events, ties: _Ties, layer: NDArray[np.int64], n_cols: int, *,
               method: str, extra: dict[str, Any], alpha: float) -> pa.Table:
    starts = segment_starts(ties.ego)  # the ties are sorted by ego
    egos = ties.ego[starts]
    active_size = (np.add.reduceat(ties.active, starts, dtype=np.int64) if starts.size
                   else np.zeros(0, np.int64))
    # per ego and layer (column 0: no layer)
    cell = np.repeat(np.arange(egos.size, dtype=np.int64) * (n_cols + 1),
                     np.diff(np.append(starts, layer.size)))
    cell += layer
    counts = bincount(cell, minlength=egos.size * (n_cols + 1)).reshape(egos.size, n_cols + 1)
    del cell
    n_layers = (counts[:, 1:] > 0).sum(axis=1).astype(np.int64)
    cum = np.cumsum(counts[:, 1:], axis=1, dtype=np.int32)
    del counts
    null_beyond = np.zeros((egos.size, n_cols), dtype=bool)
    natural = method == "natural"
    p_col = chance = None
    if natural:
        k_ego = np.zeros(egos.size, dtype=np.int64)
        where = np.searchsorted(egos, extra["egos"])
        k_ego[where] = extra["k"]
        null_beyond = np.arange(1, n_cols + 1)[None, :] > k_ego[:, None]
        null_beyond &= (active_size > 0)[:, None]
        p = np.full(egos.size, np.nan)
        p[where] = extra["p"]
        undefined = np.isnan(p)
        p_col = pa.array(np.where(undefined, 0.0, p), pa.float64(), mask=undefined)
        chance = pa.array(np.where(undefined, False, p > alpha), pa.bool_(), mask=undefined)
    cols: dict[str, pa.Array] = {
        "ego": ev.user_ids(egos),
        "active_size": pa.array(active_size, pa.int64()),
    }
    for i in range(n_cols):
        cols[f"layer_{i + 1}"] = pa.array(cum[:, i].astype(np.int64), pa.int64(),
                                          mask=null_beyond[:, i])
    # the scaling ratio: the mean of the defined ratios, summed in layer order
    ratio_sum = np.zeros(egos.size)
    n_def = np.zeros(egos.size, dtype=np.int64)
    for i in range(1, n_cols):
        undefined = (cum[:, i - 1] == 0) | null_beyond[:, i]
        r = ratio(cum[:, i], np.where(undefined, 0, cum[:, i - 1]))
        cols[f"ratio_{i + 1}_{i}"] = r
        ratio_sum += np.where(undefined, 0.0, cum[:, i] / np.maximum(cum[:, i - 1], 1))
        n_def += ~undefined
    cols["scaling_ratio"] = ratio(ratio_sum, n_def)
    cols["n_layers"] = pa.array(n_layers, pa.int64())
    if natural:
        cols["null_p"] = p_col
        cols["chance"] = chance
    return pa.table(cols)


def _global_table(ego: pa.Table, n_cols: int, *, natural: bool) -> pa.Table:
    import pyarrow.compute as pc

    has = pc.greater(ego.column("active_size"), 0)
    n_active = pc.sum(has).as_py() or 0
    cols: dict[str, pa.Array] = {"egos": pa.array([n_active], pa.int64())}

    def mean(name: str) -> pa.Array:  # one column of the active egos at a time
        col = ego.column(name).filter(has).cast(pa.float64())
        return pa.array([pc.mean(col).as_py()], pa.float64())

    cols["mean_active_size"] = mean("active_size")
    for i in range(n_cols):
        cols[f"mean_layer_{i + 1}"] = mean(f"layer_{i + 1}")
    for i in range(1, n_cols):
        cols[f"mean_ratio_{i + 1}_{i}"] = mean(f"ratio_{i + 1}_{i}")
    cols["mean_scaling_ratio"] = mean("scaling_ratio")
    cols["mean_n_layers"] = mean("n_layers")
    if natural:
        cols["chance_share"] = mean("chance")
    return pa.table(cols)


@small_pages()
def layer_stability(
    source: Any,
    *,
    every: Any = None,
    windows: Sequence[tuple[Any, Any]] | None = None,
    method: str = "rank",
    **options: Any,
) -> pa.Table:
    r"""Stability of each ego's layers between consecutive windows (Jaccard).

    For layer ``i`` (cumulative: the alters in layers ``1 .. i``) of ego ``u``
    in windows ``a`` and ``b``,
    :math:`J = |L_i^a \cap L_i^b| / |L_i^a \cup L_i^b|`.

    Parameters
    ----------
    source : Events or table-like
        As in :func:`dunbar_layers`; column-mapping keywords go in ``options``.
    every : duration, optional
        Cut the span of the data into consecutive windows of this length,
        from the first event (the last window may be shorter).
    windows : sequence of (t0, t1), optional
        Explicit consecutive windows (instead of ``every``).
    method : {"rank", "frequency", "natural"}
        Layer method, with the other options of :func:`dunbar_layers`.

    Returns
    -------
    pyarrow.Table
        One row per ego (active in one of the two windows), pair of consecutive
        windows and layer: ``ego``, ``window`` (int64, index of the later
        window, from 1), ``start``, ``end`` (the later window, in the input's
        time type), ``layer`` (int64), ``before``, ``after`` (int64, sizes of
        the cumulative layer in the earlier and later window), ``jaccard``
        (float64, null when both are empty).

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = {"actor": [0, 1, 0, 2, 0, 1], "target": [1, 0, 2, 0, 1, 0],
    ...       "ts": [0, 1, 2, 3, 10, 11]}
    >>> t = eq.layer_stability(ev, windows=[(0, 10), (10, 20)], sizes=(1, 2),
    ...                        active_per_year=0)
    >>> [(r["layer"], r["before"], r["after"], r["jaccard"]) for r in t.to_pylist()
    ...  if r["ego"] == 0]
    [(1, 1, 1, 1.0), (2, 2, 1, 0.5)]
    """
    read_keys = {"actor", "target", "ts", "kind", "event_id", "parent", "thread", "weight",
                 "kind_weights", "strict"}
    read_options = {k: options.pop(k) for k in list(options) if k in read_keys}
    ev = read_events(source, **read_options)
    if "window" in options or "level" in options:
        raise OptionError("layer_stability sets window and level itself; use every= or windows=")
    bounds = _windows(ev, every, windows)
    n_users = ev.n_users
    prev: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
    parts: list[pa.Table] = []
    n_cols = 0
    results: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
    for t0, t1 in bounds:
        opts = tie_options(ev, window=(None, None), half_life=options.get("half_life"),
                           min_weight=options.get("min_weight", 0.0))
        opts = TieOptions(t0=t0, t1=t1, half_life=opts.half_life,
                          reference=t1 if opts.half_life is not None else None,
                          min_weight=opts.min_weight)
        kw = {k: v for k, v in options.items() if k not in ("half_life", "min_weight")}
        _check(method, "tie", kw.get("direction", "out"), kw.get("null_model"))
        ties = _ties(ev, dyads_of(ev, opts), opts, direction=kw.get("direction", "out"),
                     reciprocal=kw.get("reciprocal", True), min_age=kw.get("min_age"),
                     active_per_year=kw.get("active_per_year", 1.0))
        kw["null_model"] = None
        layer, n_cols, _ = _assign(
            ties, method=method, sizes=kw.get("sizes", DEFAULT_SIZES),
            thresholds=kw.get("thresholds"), max_layers=kw.get("max_layers", 6),
            log_scale=kw.get("log_scale", False), null_model=None, null_draws=0,
            seed=kw.get("seed", 0))
        inl = layer > 0
        key = ties.ego[inl].astype(np.int64) * n_users + ties.alter[inl]
        results.append((key, layer[inl]))
    for w in range(1, len(results)):
        prev = results[w - 1]
        cur = results[w]
        parts.append(_jaccard(ev, prev, cur, n_users, n_cols, w, bounds[w]))
    if not parts:
        return _jaccard(ev, (np.zeros(0, np.int64),) * 2, (np.zeros(0, np.int64),) * 2,
                        n_users, n_cols, 1, (0, 0))
    return pa.concat_tables(parts)


def _windows(ev: Events, every: Any,
             windows: Sequence[tuple[Any, Any]] | None) -> list[tuple[int, int]]:
    if (every is None) == (windows is None):
        raise OptionError("give exactly one of every= or windows=")
    if windows is not None:
        out = [(to_ns_scalar(a, ev.time_type, name="windows"),
                to_ns_scalar(b, ev.time_type, name="windows")) for a, b in windows]
        if any(b <= a for a, b in out):
            raise OptionError(f"every window must end after it starts, got {windows!r}")
        return out
    step = int(to_seconds_duration(every, name="every") * 1e9)
    if step <= 0:
        raise OptionError(f"every must be a positive duration, got {every!r}")
    if ev.n_events == 0:
        return []
    lo, hi = ev.time_range
    n = (hi - lo) // step + 1
    return [(lo + i * step, lo + (i + 1) * step) for i in range(n)]


def _jaccard(ev: Events, a: tuple[NDArray[np.int64], NDArray[np.int64]],
             b: tuple[NDArray[np.int64], NDArray[np.int64]], n_users: int, n_cols: int,
             w: int, bound: tuple[int, int]) -> pa.Table:
    ka, la = a
    kb, lb = b
    egos = np.unique(np.concatenate([ka // n_users, kb // n_users])).astype(np.int64)
    common, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    e_common = np.searchsorted(egos, common // n_users)
    ea = np.searchsorted(egos, ka // n_users)
    eb = np.searchsorted(egos, kb // n_users)
    ne = egos.size
    rows_ego, rows_layer, before, after, inter = [], [], [], [], []
    for i in range(1, n_cols + 1):
        sa = bincount(ea, weights=la <= i, minlength=ne).astype(np.int64)
        sb = bincount(eb, weights=lb <= i, minlength=ne).astype(np.int64)
        both = (la[ia] <= i) & (lb[ib] <= i)
        si = bincount(e_common, weights=both, minlength=ne).astype(np.int64)
        rows_ego.append(egos)
        rows_layer.append(np.full(ne, i, np.int64))
        before.append(sa)
        after.append(sb)
        inter.append(si)
    e = np.concatenate(rows_ego) if rows_ego else np.zeros(0, np.int64)
    lay = np.concatenate(rows_layer) if rows_layer else np.zeros(0, np.int64)
    bf = np.concatenate(before) if before else np.zeros(0, np.int64)
    af = np.concatenate(after) if after else np.zeros(0, np.int64)
    it = np.concatenate(inter) if inter else np.zeros(0, np.int64)
    order = np.lexsort((lay, e))
    e, lay, bf, af, it = (x[order] for x in (e, lay, bf, af, it))
    n = e.size
    return pa.table({
        "ego": ev.user_ids(e),
        "window": pa.array(np.full(n, w, np.int64)),
        "start": ev.times(np.full(n, bound[0], np.int64)),
        "end": ev.times(np.full(n, bound[1], np.int64)),
        "layer": pa.array(lay, pa.int64()),
        "before": pa.array(bf, pa.int64()),
        "after": pa.array(af, pa.int64()),
        "jaccard": ratio(it, bf + af - it),
    })
