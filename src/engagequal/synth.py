"""Seeded synthetic populations with planted structure (and the known truth).

:func:`population` draws a social network whose every property the metrics
measure is planted on purpose and returned beside the events: the Dunbar
layer of every tie, which ties are one-way, the depth of every reply and the
back-and-forth exchanges of every thread, the follower counts of broadcast
accounts.  Benchmarks use it at scale (written straight to Parquet in chunks,
in bounded memory); tests use it to prove the metrics recover what is there.

The model, in the order it is drawn:

1. **Activity.**  Each user gets a heavy-tailed network scale ``m`` (Pareto
   with tail exponent ``activity_alpha``): most users are light, a few are
   very active.
2. **Layered ties.**  For each layer ``k`` (cumulative mean sizes
   ``layer_sizes``, by default 1.5 / 5 / 15 / 50 / 150) each user draws
   ``Poisson(m * (S_k - S_{k-1}))`` tie stubs, and the stubs of a layer are
   paired at random (a configuration model per layer), so a tie is in the
   same layer for both of its ends.  A tie in layer ``k`` carries
   ``ratio ** (K - k)`` times the contact rate of the outermost layer
   (``layer_ratio``, about 3 in the literature), times a log-normal jitter
   per direction (``rate_noise``).  A share ``one_way`` of the ties is
   one-way (one random direction only, never answered); the others are
   mutual.
3. **Broadcast accounts.**  A share ``broadcast_share`` of the users are
   broadcast accounts: they receive a share ``broadcast_follows`` of all
   follow events (Zipf-distributed between them), and a share ``fan_share`` of
   their followers engage with them one-way at the outermost rate (mostly
   likes and shares), never answered.  Ordinary users are followed along their
   own ties only: few followers, deep two-way ties.
4. **Tie events.**  Each tie event picks a directed tie with probability
   proportional to its rate and a kind from ``kinds`` (fans use a passive
   mix); times are uniform over the period.
5. **Reply threads.**  A thread starts with a root event along a mutual tie
   ``u -> v`` (picked by rate) and has ``Poisson(branch_mean)`` branches, each
   a reply chain of ``Geometric(depth_p)`` replies (a geometric depth
   distribution).  A chain alternates between ``u`` and its branch partner
   (the first branch: ``v``; the others: a partner of ``u`` picked by rate);
   each later reply is, with probability ``self_reply``, a reply to oneself,
   else with probability ``alternate`` the other person of the exchange, else
   an interjection by a mutual partner of the person replied to, who then
   carries the exchange on.  Replies are aimed at their parent's actor and
   follow it after an exponential gap (mean ``reply_gap`` seconds, at least
   one second), so every reply comes after its parent.
6. **Follow events** (kind ``follow``, weight 0): to broadcast accounts, and
   along ordinary users' ties in the tie's direction.

The number of events is exactly ``n_events``: a share ``follow_share`` of
follows, ``thread_share`` in threads, the rest tie events.  The contact rate
of the outermost layer is ``outer_rate`` per year on average; the network
scale adapts so that the event budget is met (pass ``network_scale`` to fix it
instead, the rates then adapt).

>>> import engagequal as eq
>>> events, truth = eq.synth.population(200, 5_000, seed=1)
>>> events.num_rows, truth.threads.num_rows
(5000, 282)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import OptionError

__all__ = ["DEFAULT_KINDS", "FAN_KINDS", "Truth", "parse_count", "population", "simple_events"]

#: Kind mix of the events along ties (many likes, few meetings).
DEFAULT_KINDS: Mapping[str, float] = {
    "like": 0.40, "comment": 0.14, "message": 0.22, "mention": 0.06, "share": 0.10,
    "call": 0.05, "meeting": 0.03,
}
#: Kind mix of fans engaging with a broadcast account.
FAN_KINDS: Mapping[str, float] = {"like": 0.75, "share": 0.15, "comment": 0.10}
#: Kinds of the root of a reply thread; replies are ``reply``.
_ROOT_KINDS: Mapping[str, float] = {"comment": 0.5, "message": 0.3, "mention": 0.2}

_SECONDS_PER_YEAR = 365.25 * 86_400
_ID_MULT = np.uint64(0x9E3779B97F4A7C15)
_ID_MASK = np.uint64((1 << 63) - 1)


@dataclass(frozen=True, eq=False)
class Truth:
    """The structure planted in a synthetic population.

    Attributes
    ----------
    ties : pyarrow.Table
        One row per directed planted tie (the ego contacts the alter), sorted
        by ``(ego, alter)``: ``ego``, ``alter`` (int64 user ids), ``layer``
        (int8, 1 = innermost), ``rate`` (float64, planted expected tie events
        per year, thread events not included), ``reciprocated`` (bool, the
        alter contacts the ego too), ``fan`` (bool, a fan's tie to a broadcast
        account), ``events`` (int64, realised non-follow events ego -> alter,
        thread events included) and ``weight`` (float64, their summed default
        kind weight).
    users : pyarrow.Table
        ``user`` (int64), ``scale`` (float64, the planted network scale ``m``),
        ``broadcast`` (bool) and ``followers`` (int64, follow events received).
    events : pyarrow.Table or None
        One row per event of a reply thread: ``event_id``, ``thread`` (int64),
        ``depth`` (int32, 0 for the root) and ``exchange`` (int32, turns of the
        run alternating between exactly two people that ends at this event
        along its root path; 1 when the event does not continue the previous
        turn).  ``None`` when the events went to ``out`` without ``truth_out``.
    threads : pyarrow.Table or None
        One row per reply thread: ``thread``, ``size``, ``max_depth``,
        ``longest_exchange``, ``conversations`` (maximal exchanges of 3 or more
        turns), ``u`` (root actor) and ``v`` (root target).
    exchanges : pyarrow.Table or None
        One row per maximal exchange of 2 or more turns (a run that no reply
        continues): ``thread``, ``u`` and ``v`` (the two people, ``u < v``),
        ``turns`` and ``last_event``.
    params : dict
        Every knob of the draw, resolved (including the rate scale).

    Examples
    --------
    The planted reply depths are the ones :func:`engagequal.read_events` finds:

    >>> import pyarrow.compute as pc
    >>> import engagequal as eq
    >>> events, truth = eq.synth.population(200, 5_000, seed=1)
    >>> ev = eq.read_events(events, event_id="event_id", parent="parent", thread="thread")
    >>> int(ev.tree.depth.max()), pc.max(truth.threads["max_depth"]).as_py()
    (23, 23)
    >>> truth.params["n_users"], truth.ties.column_names[:3]
    (200, ['ego', 'alter', 'layer'])
    """

    ties: pa.Table
    users: pa.Table
    events: pa.Table | None
    threads: pa.Table | None
    exchanges: pa.Table | None
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_count(text: str | int) -> int:
    """``"10M"`` -> 10_000_000; accepts ``k``, ``M``, ``G`` and underscores.

    Parameters
    ----------
    text : str or int
        A count such as ``"1000"``, ``"10_000"``, ``"1.5k"``, ``"10M"`` or
        ``"2G"`` (``B`` is read as billions too; commas are ignored).

    Returns
    -------
    int
        The count, rounded to the nearest integer.

    Raises
    ------
    OptionError
        When ``text`` is not a count.

    Examples
    --------
    >>> parse_count("1.5k"), parse_count("10M"), parse_count(7)
    (1500, 10000000, 7)
    """
    if isinstance(text, int):
        return text
    s = str(text).strip().replace("_", "").replace(",", "")
    mult = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000, "G": 1_000_000_000,
            "g": 1_000_000_000, "B": 1_000_000_000}
    try:
        if s and s[-1] in mult:
            return round(float(s[:-1]) * mult[s[-1]])
        return int(s)
    except ValueError as exc:
        raise OptionError(f"not a count: {text!r} (expected e.g. 1000, 1M, 2.5k)") from exc


def user_ids(codes: NDArray[np.int64], scheme: str) -> NDArray[np.int64]:
    """User id of each code: the code (``"dense"``) or a scrambled 63-bit id."""
    if scheme == "dense":
        return codes.astype(np.int64)
    with np.errstate(over="ignore"):
        h = (codes.astype(np.uint64) * _ID_MULT) & _ID_MASK  # a bijection mod 2**63
    return h.astype(np.int64)


def _mix(kinds: Mapping[str, float], name: str) -> tuple[list[str], NDArray[np.float64]]:
    from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS

    names = list(kinds)
    p = np.asarray([float(kinds[k]) for k in names])
    unknown = [k for k in names if k not in DEFAULT_KIND_WEIGHTS]
    if unknown or not names or (p < 0).any() or p.sum() <= 0:
        raise OptionError(f"{name} must map known kinds to shares >= 0 with a positive sum, "
                          f"got {dict(kinds)!r}")
    return names, p / p.sum()


def _split(total: int, parts: int) -> NDArray[np.int64]:
    """``total`` split into ``parts`` near-equal integers."""
    edges = (np.arange(parts + 1, dtype=np.int64) * total) // max(parts, 1)
    return np.diff(edges)


@dataclass(frozen=True, eq=False)
class _Structure:
    """The global, event-independent part of a population (codes, not ids)."""

    ego: NDArray[np.int64]          # directed ties sorted by (ego, alter)
    alter: NDArray[np.int64]
    layer: NDArray[np.int8]
    rate: NDArray[np.float64]       # planted events per year
    recip: NDArray[np.bool_]
    fan: NDArray[np.bool_]
    key: NDArray[np.int64]          # ego * n + alter (sorted)
    cum_rate: NDArray[np.float64]   # cumulative rate over all ties
    m_ego: NDArray[np.int64]        # mutual ties: egos, alters, cumulative rate
    m_alter: NDArray[np.int64]
    m_cum: NDArray[np.float64]
    m_start: NDArray[np.int64]      # per user: first / end mutual tie position
    m_end: NDArray[np.int64]
    follow_src: NDArray[np.int64]   # follow events (shuffled)
    follow_dst: NDArray[np.int64]
    scale: NDArray[np.float64]
    broadcast: NDArray[np.bool_]


def _layered_ties(rng: np.random.Generator, n: int, scale: NDArray[np.float64],
                  sizes: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                       NDArray[np.int8]]:
    """Undirected ties ``a < b`` with their layer (configuration model per layer)."""
    inc = np.diff(np.concatenate([[0.0], sizes]))
    keys, layers = [], []
    for k, s in enumerate(inc):  # a loop over layers
        stubs = np.repeat(np.arange(n, dtype=np.int64), rng.poisson(scale * s))
        rng.shuffle(stubs)
        h = stubs.size // 2
        a, b = stubs[:h], stubs[h:2 * h]
        ok = a != b
        lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
        keys.append(lo * n + hi)
        layers.append(np.full(lo.size, k + 1, np.int8))
    key = np.concatenate(keys)
    layer = np.concatenate(layers)
    order = np.lexsort((layer, key))  # innermost layer first within a pair
    key, layer = key[order], layer[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, layer = key[first], layer[first]
    return key // n, key % n, layer


def _structure(rng: np.random.Generator, n: int, n_tie: int, n_follow: int, *,
               sizes: NDArray[np.float64], ratio: float, one_way: float, outer_rate: float,
               years: float, network_scale: float | None, activity_alpha: float,
               rate_noise: float, broadcast_share: float, broadcast_follows: float,
               fan_share: float) -> tuple[_Structure, float, float]:
    kk = sizes.size
    inc = np.diff(np.concatenate([[0.0], sizes]))
    rel = ratio ** np.arange(kk - 1, -1, -1, dtype=np.float64)  # outermost = 1
    x = 1.0 + rng.pareto(activity_alpha, n)
    x /= x.mean()
    if network_scale is None:
        per_m = float((inc * rel).sum()) * outer_rate * years  # tie events / unit scale / ego
        mean_m = 2.0 * max(n_tie, 1) / (n * per_m * (2.0 - one_way))
    else:
        mean_m = float(network_scale)
    scale = np.minimum(mean_m * x, (n - 1) / sizes[-1])
    a, b, layer = _layered_ties(rng, n, scale, sizes)
    one = rng.random(a.size) < one_way
    flip = rng.random(a.size) < 0.5
    # mutual ties give both directions; one-way ties one random direction
    src = np.concatenate([a, b[~one]])
    dst = np.concatenate([b, a[~one]])
    swap = np.concatenate([one & flip, np.zeros(int((~one).sum()), bool)])
    src, dst = np.where(swap, dst, src), np.where(swap, src, dst)
    lay = np.concatenate([layer, layer[~one]])
    recip = np.concatenate([~one, np.ones(int((~one).sum()), bool)])

    # broadcast accounts, their followers and fans
    n_b = max(1, round(broadcast_share * n)) if n > 2 else 0
    bcast_users = rng.choice(n, size=n_b, replace=False) if n_b else np.zeros(0, np.int64)
    broadcast = np.zeros(n, dtype=bool)
    broadcast[bcast_users] = True
    n_bf = round(broadcast_follows * n_follow) if n_b else 0
    if n_bf:
        zipf = 1.0 / np.arange(1, n_b + 1)
        fb = bcast_users[np.searchsorted(np.cumsum(zipf) / zipf.sum(), rng.random(n_bf),
                                         side="right").clip(0, n_b - 1)]
        ff = rng.integers(0, n, n_bf)
        ok = ff != fb
        fkey = np.unique(ff[ok] * n + fb[ok])
        ff, fb = fkey // n, fkey % n
    else:
        ff = fb = np.zeros(0, np.int64)
    social_key = src * n + dst
    rev_key = dst * n + src
    pair_taken = np.isin(ff * n + fb, np.concatenate([social_key, rev_key]))
    fan_pick = (rng.random(ff.size) < fan_share) & ~pair_taken
    fsrc, fdst = ff[fan_pick], fb[fan_pick]
    src = np.concatenate([src, fsrc])
    dst = np.concatenate([dst, fdst])
    lay = np.concatenate([lay, np.full(fsrc.size, kk, np.int8)])
    recip = np.concatenate([recip, np.zeros(fsrc.size, bool)])
    fan = np.concatenate([np.zeros(social_key.size, bool), np.ones(fsrc.size, bool)])

    key = src * n + dst
    order = np.argsort(key, kind="stable")
    src, dst, lay, recip, fan, key = (v[order] for v in (src, dst, lay, recip, fan, key))
    jitter = np.exp(rate_noise * rng.standard_normal(src.size)) if rate_noise > 0 else 1.0
    raw = rel[lay.astype(np.int64) - 1] * jitter
    c = n_tie / (years * raw.sum()) if raw.size and n_tie else outer_rate
    rate = np.asarray(raw * c, dtype=np.float64)

    # ordinary follows go along the ties, in the tie's direction
    n_sf = n_follow - ff.size
    social = np.flatnonzero(~fan & ~broadcast[dst])
    take = rng.choice(social, size=min(n_sf, social.size), replace=False)
    extra = n_sf - take.size
    xs, xd = rng.integers(0, n, extra), rng.integers(0, n - 1 if n > 1 else 1, extra)
    xd = np.where(xd >= xs, xd + 1, xd) if n > 1 else xd
    fsrc_all = np.concatenate([ff, src[take], xs])
    fdst_all = np.concatenate([fb, dst[take], xd])
    perm = rng.permutation(fsrc_all.size)

    mut = np.flatnonzero(recip)
    m_ego, m_alter = src[mut], dst[mut]
    m_cum = np.cumsum(rate[mut])
    users = np.arange(n, dtype=np.int64)
    s = _Structure(
        ego=src, alter=dst, layer=lay, rate=rate, recip=recip, fan=fan, key=key,
        cum_rate=np.cumsum(rate), m_ego=m_ego, m_alter=m_alter, m_cum=m_cum,
        m_start=np.searchsorted(m_ego, users, side="left"),
        m_end=np.searchsorted(m_ego, users, side="right"),
        follow_src=fsrc_all[perm], follow_dst=fdst_all[perm], scale=scale, broadcast=broadcast,
    )
    return s, float(mean_m), float(c)


def _pick(rng: np.random.Generator, cum: NDArray[np.float64], size: int,
          lo: NDArray[np.int64] | None = None, hi: NDArray[np.int64] | None = None
          ) -> NDArray[np.int64]:
    """Positions drawn with probability proportional to the increments of ``cum``
    (within ``[lo, hi)`` per draw when given)."""
    if lo is None or hi is None:  # sorted uniforms (exponential spacings): cache-friendly
        e = np.cumsum(rng.exponential(1.0, size + 1))
        r = e[:-1] * (cum[-1] / e[-1])
        return np.asarray(np.searchsorted(cum, r, side="right").clip(0, cum.size - 1),
                          dtype=np.int64)
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = cum[np.maximum(hi - 1, 0)]
    r = base + rng.random(size) * (top - base)
    pos = np.searchsorted(cum, r, side="right")
    return np.asarray(np.clip(pos, lo, np.maximum(hi - 1, lo)).clip(0, cum.size - 1),
                      dtype=np.int64)


@dataclass(frozen=True, eq=False)
class _Threads:
    actor: NDArray[np.int64]
    target: NDArray[np.int64]
    ts: NDArray[np.int64]
    kind: NDArray[np.int64]      # into the root-kind list; -1 for a reply
    parent: NDArray[np.int64]    # flat position, -1 for a root
    root: NDArray[np.int64]      # flat position of the root
    depth: NDArray[np.int32]
    exchange: NDArray[np.int32]
    thread_start: NDArray[np.int64]


def _threads(rng: np.random.Generator, st: _Structure, budget: int, t0: int, t1: int, *,
             branch_mean: float, depth_p: float, alternate: float, self_reply: float,
             reply_gap: float, root_p: NDArray[np.float64]) -> _Threads | None:
    if budget <= 0 or st.m_ego.size == 0:
        return None
    mean_size = 1.0 + branch_mean / depth_p
    n_thr = int(budget / mean_size * 1.2) + 8
    nb = rng.poisson(branch_mean, n_thr)
    lens = rng.geometric(depth_p, int(nb.sum())).astype(np.int64)
    b_thread = np.repeat(np.arange(n_thr, dtype=np.int64), nb)
    sizes = 1 + np.bincount(b_thread, weights=lens, minlength=n_thr).astype(np.int64)
    while sizes.sum() < budget:  # rarely more than one round
        more = rng.poisson(branch_mean, n_thr)
        ml = rng.geometric(depth_p, int(more.sum())).astype(np.int64)
        mt = np.repeat(np.arange(n_thr, 2 * n_thr, dtype=np.int64), more)
        nb = np.concatenate([nb, more])
        lens = np.concatenate([lens, ml])
        b_thread = np.concatenate([b_thread, mt])
        n_thr *= 2
        sizes = 1 + np.bincount(b_thread, weights=lens, minlength=n_thr).astype(np.int64)
    thread_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # flat layout: root, then each branch's chain; keep the first `budget` events
    b_off = np.cumsum(lens) - lens  # exclusive cumsum over all branches
    b_start = thread_start[b_thread] + 1 + (b_off - b_off[np.searchsorted(b_thread, b_thread)])
    keep_t = thread_start < budget
    n_thr = int(keep_t.sum())
    thread_start = thread_start[:n_thr]
    lens = np.clip(budget - b_start, 0, lens)
    kb = lens > 0
    b_thread, b_start, lens = b_thread[kb], b_start[kb], lens[kb]
    first_branch = np.ones(b_thread.size, dtype=bool)
    first_branch[1:] = b_thread[1:] != b_thread[:-1]

    n = budget
    actor = np.empty(n, np.int64)
    target = np.empty(n, np.int64)
    ts = np.empty(n, np.int64)
    kind = np.full(n, -1, np.int64)
    parent = np.full(n, -1, np.int64)
    root = np.empty(n, np.int64)
    depth = np.zeros(n, np.int32)
    exch = np.ones(n, np.int32)

    tie = _pick(rng, st.m_cum, n_thr)
    u, v = st.m_ego[tie], st.m_alter[tie]
    actor[thread_start] = u
    target[thread_start] = v
    ts[thread_start] = rng.integers(t0, t1, n_thr)
    kind[thread_start] = np.searchsorted(np.cumsum(root_p), rng.random(n_thr) * root_p.sum(),
                                         side="right").clip(0, root_p.size - 1)
    rsize = np.diff(np.append(thread_start, n))
    root[:] = np.repeat(thread_start, rsize)

    bu = u[b_thread]
    partner = v[b_thread].copy()
    other_br = ~first_branch
    if other_br.any():
        pick = _pick(rng, st.m_cum, int(other_br.sum()), st.m_start[bu[other_br]],
                     st.m_end[bu[other_br]])
        partner[other_br] = st.m_alter[pick]
    # chains, level by level (a loop over depth, not over events)
    a1 = bu.copy()                       # actor one up the path
    a2 = np.full(bu.size, -1, np.int64)  # actor two up
    oth = partner.copy()                 # the other person of the running exchange
    run = np.ones(bu.size, np.int32)
    tprev = ts[thread_start[b_thread]]
    live = np.arange(bu.size)
    i = 0
    while live.size:
        i += 1
        if i == 1:
            nxt = oth[live]
            new_oth = a1[live]
        else:
            r = rng.random(live.size)
            is_self = r < self_reply
            is_alt = ~is_self & (r < self_reply + (1 - self_reply) * alternate)
            inter = ~is_self & ~is_alt
            nxt = np.where(is_self, a1[live], oth[live])
            if inter.any():
                cur = a1[live[inter]]
                lo, hi = st.m_start[cur], st.m_end[cur]
                pick = _pick(rng, st.m_cum, cur.size, lo, hi)
                nxt[inter] = np.where(hi > lo, st.m_alter[pick], oth[live[inter]])
            new_oth = np.where(is_self, oth[live], a1[live])
        prev = a1[live]
        same = nxt == prev
        cont = ~same & (nxt == a2[live])
        new_run = np.where(same, 1, np.where(cont, run[live] + 1, 2)).astype(np.int32)
        pos = b_start[live] + i - 1
        actor[pos] = nxt
        target[pos] = prev
        gap = np.maximum(rng.exponential(reply_gap, live.size), 1.0).astype(np.int64)
        t = tprev[live] + gap
        ts[pos] = t
        parent[pos] = np.where(i == 1, thread_start[b_thread[live]], pos - 1)
        depth[pos] = i
        exch[pos] = new_run
        a2[live] = prev
        a1[live] = nxt
        oth[live] = new_oth
        run[live] = new_run
        tprev[live] = t
        live = live[lens[live] > i]
    return _Threads(actor=actor, target=target, ts=ts, kind=kind, parent=parent, root=root,
                    depth=depth, exchange=exch, thread_start=thread_start)


@dataclass
class _Chunk:
    events: pa.Table
    thread_truth: pa.Table | None
    thread_table: pa.Table | None
    exchanges: pa.Table | None
    tie_events: NDArray[np.int64]
    tie_weight: NDArray[np.float64]


def _chunk(rng: np.random.Generator, st: _Structure, n_users: int, n_tie: int, n_thr: int,
           f_lo: int, f_hi: int, t0: int, t1: int, offset: int, *, ids: str, order: str,
           kinds: tuple[list[str], NDArray[np.float64]],
           thread_opts: dict[str, Any]) -> _Chunk:
    from engagequal.ingest.schema import DEFAULT_KIND_WEIGHTS

    k_names, k_p = kinds
    f_names, f_p = _mix(FAN_KINDS, "FAN_KINDS")
    r_names, _ = _mix(_ROOT_KINDS, "_ROOT_KINDS")
    names = sorted({*k_names, *f_names, *r_names, "reply", "follow"})
    code = {k: i for i, k in enumerate(names)}
    k_codes = np.array([code[k] for k in k_names])
    f_codes = np.array([code[k] for k in f_names])
    r_codes = np.array([code[k] for k in r_names])

    # tie events
    tie = _pick(rng, st.cum_rate, n_tie) if n_tie and st.key.size else np.zeros(0, np.int64)
    t_actor, t_target = st.ego[tie], st.alter[tie]
    t_ts = rng.integers(t0, t1, tie.size)
    u = rng.random(tie.size)
    t_kind = np.where(
        st.fan[tie],
        f_codes[np.searchsorted(np.cumsum(f_p), u, side="right").clip(0, f_codes.size - 1)],
        k_codes[np.searchsorted(np.cumsum(k_p), u, side="right").clip(0, k_codes.size - 1)])
    # follows
    fo_actor, fo_target = st.follow_src[f_lo:f_hi], st.follow_dst[f_lo:f_hi]
    fo_ts = rng.integers(t0, t1, fo_actor.size)
    # threads
    th = _threads(rng, st, n_thr, t0, t1, **thread_opts) if n_thr else None
    n_th = 0 if th is None else th.actor.size
    if th is not None:
        th_kind = np.where(th.kind >= 0, r_codes[np.maximum(th.kind, 0)], code["reply"])
        actor = np.concatenate([th.actor, t_actor, fo_actor])
        target = np.concatenate([th.target, t_target, fo_target])
        ts = np.concatenate([th.ts, t_ts, fo_ts])
        kind = np.concatenate([th_kind, t_kind, np.full(fo_actor.size, code["follow"])])
    else:
        actor = np.concatenate([t_actor, fo_actor])
        target = np.concatenate([t_target, fo_target])
        ts = np.concatenate([t_ts, fo_ts])
        kind = np.concatenate([t_kind, np.full(fo_actor.size, code["follow"])])
    n = actor.size
    by_time = np.argsort(ts, kind="stable")
    rank = np.empty(n, np.int64)
    rank[by_time] = np.arange(n, dtype=np.int64)
    eid = offset + rank  # event ids increase with time, like snowflake ids
    parent = np.full(n, -1, np.int64)
    thread = eid.copy()
    if th is not None:
        has_p = th.parent >= 0
        parent[:n_th][has_p] = eid[th.parent[has_p]]
        thread[:n_th] = eid[th.root]
    rows = by_time if order == "time" else rng.permutation(n)
    w_of = np.array([DEFAULT_KIND_WEIGHTS[k] for k in names])
    kind_arr = pa.DictionaryArray.from_arrays(pa.array(kind[rows].astype(np.int32)),
                                              pa.array(names)).cast(pa.string())
    par = parent[rows]
    events = pa.table({
        "actor": pa.array(user_ids(actor[rows], ids)),
        "target": pa.array(user_ids(target[rows], ids)),
        "ts": pa.array(ts[rows]),
        "kind": kind_arr,
        "event_id": pa.array(eid[rows]),
        "parent": pa.array(par, mask=par < 0),
        "thread": pa.array(thread[rows]),
    })
    # realised events per planted tie (non-follow, non-self): thread events looked up
    key = actor[:n_th] * n_users + target[:n_th]
    engage = actor[:n_th] != target[:n_th]
    pos = np.searchsorted(st.key, key[engage]).clip(0, max(st.key.size - 1, 0))
    found = st.key[pos] == key[engage] if st.key.size else np.zeros(0, bool)
    if not found.all():  # the model guarantees every engagement follows a planted tie
        raise AssertionError("synthetic engagement off the planted ties")
    pos = np.concatenate([pos, tie])
    kw = w_of[np.concatenate([kind[:n_th][engage], t_kind])]
    tie_events = np.bincount(pos, minlength=st.key.size).astype(np.int64)
    tie_weight = np.bincount(pos, weights=kw, minlength=st.key.size).astype(np.float64)
    tt = tbl = ex = None
    if th is not None:
        t_eid = eid[:n_th]
        thr_id = eid[th.thread_start]
        tt = pa.table({"event_id": pa.array(t_eid), "thread": pa.array(eid[th.root]),
                       "depth": pa.array(th.depth), "exchange": pa.array(th.exchange)})
        rp = th.parent >= 0
        # a parent may have many children: any child that continues its run extends it
        extends = th.exchange[rp] == th.exchange[th.parent[rp]] + 1
        extended = np.bincount(th.parent[rp], weights=extends, minlength=n_th) > 0
        maximal = (th.exchange >= 2) & ~extended
        mx = np.flatnonzero(maximal)
        a_, b_ = th.actor[mx], th.target[mx]
        lo_, hi_ = np.minimum(a_, b_), np.maximum(a_, b_)
        ia, ib = user_ids(lo_, ids), user_ids(hi_, ids)
        ex = pa.table({"thread": pa.array(eid[th.root[mx]]),
                       "u": pa.array(np.minimum(ia, ib)), "v": pa.array(np.maximum(ia, ib)),
                       "turns": pa.array(th.exchange[mx]), "last_event": pa.array(eid[mx])})
        starts = th.thread_start
        size = np.diff(np.append(starts, n_th))
        tix = np.repeat(np.arange(starts.size), size)
        conv = np.bincount(tix[mx], weights=th.exchange[mx] >= 3,
                           minlength=starts.size).astype(np.int64)
        tbl = pa.table({
            "thread": pa.array(thr_id), "size": pa.array(size.astype(np.int64)),
            "max_depth": pa.array(np.maximum.reduceat(th.depth, starts)),
            "longest_exchange": pa.array(np.maximum.reduceat(th.exchange, starts)),
            "conversations": pa.array(conv),
            "u": pa.array(user_ids(th.actor[starts], ids)),
            "v": pa.array(user_ids(th.target[starts], ids)),
        })
    return _Chunk(events, tt, tbl, ex, tie_events, tie_weight)


def population(
    n_users: int,
    n_events: int,
    *,
    seed: int | np.random.Generator = 0,
    out: str | Path | None = None,
    truth_out: str | Path | None = None,
    layer_sizes: tuple[float, ...] = (1.5, 5.0, 15.0, 50.0, 150.0),
    layer_ratio: float = 3.0,
    outer_rate: float = 2.0,
    network_scale: float | None = None,
    one_way: float = 0.3,
    activity_alpha: float = 2.0,
    rate_noise: float = 0.15,
    kinds: Mapping[str, float] = DEFAULT_KINDS,
    thread_share: float = 0.3,
    branch_mean: float = 1.2,
    depth_p: float = 0.3,
    alternate: float = 0.85,
    self_reply: float = 0.02,
    reply_gap: float = 7_200.0,
    follow_share: float = 0.05,
    broadcast_share: float = 0.001,
    broadcast_follows: float = 0.6,
    fan_share: float = 0.3,
    start: int = 1_600_000_000,
    years: float = 1.0,
    ids: str = "scrambled",
    order: str = "time",
    chunk_events: int = 2_000_000,
) -> tuple[Any, Truth]:
    r"""A synthetic population of interaction events with planted structure.

    The model is described in the module docstring (:mod:`engagequal.synth`).

    Parameters
    ----------
    n_users, n_events : int
        Users and exact number of events.
    seed : int or numpy.random.Generator
        Source of randomness (no global state).  The same seed and options give
        the same bytes.
    out : path, optional
        Write the events to Parquet instead of returning them, one chunk at a
        time (memory bounded by the users and ties, not the events): one file
        with a row group per chunk when the path ends in ``.parquet``, else a
        folder of ``part-NNNNN.parquet`` files.  The path is returned.
    truth_out : path, optional
        With ``out``: a folder for the per-event thread truth
        (``events.parquet``, ``threads.parquet``, ``exchanges.parquet``), which
        is otherwise not kept (``Truth.events`` etc. are None).
    layer_sizes : tuple of float
        Cumulative mean layer sizes per unit of network scale.
    layer_ratio : float
        Contact-rate ratio between consecutive layers.
    outer_rate : float
        Mean tie events per year of the outermost layer (the network scale
        adapts to the event budget); ignored when ``network_scale`` is given.
    network_scale : float, optional
        Mean network scale ``m`` (layer sizes are ``m * layer_sizes``); the
        rates adapt to the event budget instead.
    one_way : float
        Share of the ties that are one-way.
    activity_alpha : float
        Pareto tail exponent of the network scale (smaller: heavier tail).
    rate_noise : float
        Log-normal sigma of each directed tie's rate around its layer's rate.
    kinds : mapping of str to float
        Kind mix of the tie events (names from ``DEFAULT_KIND_WEIGHTS``).
    thread_share : float
        Share of the events inside reply threads.
    branch_mean, depth_p : float
        Branches per thread (Poisson mean) and the geometric parameter of the
        replies per branch (mean ``1 / depth_p``).
    alternate, self_reply : float
        Probability that a later reply is by the other person of the running
        exchange; probability that it answers oneself.
    reply_gap : float
        Mean seconds between a reply and its parent.
    follow_share : float
        Share of the events that are follows.
    broadcast_share, broadcast_follows, fan_share : float
        Share of users that are broadcast accounts, share of the follows they
        receive, share of their followers that engage with them (one-way).
    start : int
        Epoch seconds of the start of the period.
    years : float
        Length of the period in years (365.25 days).
    ids : {"scrambled", "dense"}
        User ids: scrambled 63-bit integers (a bijection of the codes), or the
        codes ``0 .. n_users - 1``.
    order : {"time", "shuffled"}
        Row order within each chunk.
    chunk_events : int
        Events per chunk; each chunk covers an equal slice of the period, and
        its reply threads are complete within it.

    Returns
    -------
    events : pyarrow.Table or Path
        ``actor``, ``target`` (int64 user ids), ``ts`` (int64 epoch seconds),
        ``kind`` (string), ``event_id`` (int64, increasing with time within a
        chunk), ``parent`` (int64, null for a root), ``thread`` (int64, the
        root's ``event_id``; an event outside any reply thread is its own
        thread).  Every target is filled: a root is aimed at the tie partner,
        a reply at its parent's actor.
    truth : Truth
        The planted structure.

    Notes
    -----
    Vectorised: the Python loops run over layers, chunks and reply depth
    levels only.  Time and memory are linear in the events of one chunk plus
    the ties.  Rows are in time order within a chunk; a reply near the end of
    a chunk's slice may come after the first rows of the next chunk.

    References
    ----------
    .. [1] R. I. M. Dunbar, V. Arnaboldi, M. Conti and A. Passarella, "The
       structure of online social networks mirrors those in the offline
       world", Social Networks 43, 39-47 (2015). doi:10.1016/j.socnet.2015.04.005
    .. [2] W.-X. Zhou, D. Sornette, R. A. Hill and R. I. M. Dunbar, "Discrete
       hierarchical organization of social group sizes", Proc. R. Soc. B 272,
       439-444 (2005). doi:10.1098/rspb.2004.2970

    Examples
    --------
    >>> import engagequal as eq
    >>> events, truth = eq.synth.population(500, 20_000, seed=1)
    >>> events.num_rows, events.column_names
    (20000, ['actor', 'target', 'ts', 'kind', 'event_id', 'parent', 'thread'])
    >>> sorted(truth.ties.column("layer").unique().to_pylist())
    [1, 2, 3, 4, 5]
    """
    n_users, n_events = int(n_users), int(n_events)
    if n_users < 2 or n_events < 0:
        raise OptionError(f"need n_users >= 2 and n_events >= 0, got {n_users}, {n_events}")
    shares = {"one_way": one_way, "thread_share": thread_share, "follow_share": follow_share,
              "alternate": alternate, "self_reply": self_reply, "fan_share": fan_share,
              "broadcast_share": broadcast_share, "broadcast_follows": broadcast_follows}
    for k, val in shares.items():
        if not 0.0 <= float(val) <= 1.0:
            raise OptionError(f"{k} must lie in [0, 1], got {val!r}")
    if thread_share + follow_share > 1.0:
        raise OptionError("thread_share + follow_share must not exceed 1")
    if not 0.0 < depth_p <= 1.0 or branch_mean < 0 or years <= 0 or layer_ratio < 1:
        raise OptionError("need 0 < depth_p <= 1, branch_mean >= 0, years > 0, layer_ratio >= 1")
    if ids not in ("scrambled", "dense") or order not in ("time", "shuffled"):
        raise OptionError(f"ids must be 'scrambled' or 'dense' and order 'time' or 'shuffled', "
                          f"got {ids!r}, {order!r}")
    sizes = np.asarray(layer_sizes, dtype=np.float64)
    if sizes.size == 0 or (np.diff(sizes) <= 0).any() or sizes[0] <= 0:
        raise OptionError(f"layer_sizes must be positive and increasing, got {layer_sizes!r}")
    mix = _mix(kinds, "kinds")
    rng = np.random.default_rng(seed)
    n_follow = round(follow_share * n_events)
    n_thread = round(thread_share * n_events)
    n_tie = n_events - n_follow - n_thread
    st, mean_m, c = _structure(
        rng, n_users, n_tie, n_follow, sizes=sizes, ratio=layer_ratio, one_way=one_way,
        outer_rate=outer_rate, years=years, network_scale=network_scale,
        activity_alpha=activity_alpha, rate_noise=rate_noise,
        broadcast_share=broadcast_share, broadcast_follows=broadcast_follows,
        fan_share=fan_share)
    if n_events - n_follow > 0 and st.key.size == 0:
        raise OptionError(f"no tie could be planted among {n_users} users; raise n_users, "
                          "n_events or network_scale")
    if st.m_ego.size == 0:  # no mutual tie to hold a thread: the budget goes to tie events
        n_tie, n_thread = n_tie + n_thread, 0
    n_chunks = max(1, -(-n_events // max(int(chunk_events), 1)))
    chunk_seeds = rng.integers(0, 2**63 - 1, n_chunks)
    span = round(years * _SECONDS_PER_YEAR)
    edges = start + (np.arange(n_chunks + 1, dtype=np.int64) * span) // n_chunks
    tie_parts, thr_parts, fol_parts = (_split(x, n_chunks) for x in (n_tie, n_thread, n_follow))
    fol_edges = np.concatenate([[0], np.cumsum(fol_parts)])
    thread_opts = {"branch_mean": branch_mean, "depth_p": depth_p, "alternate": alternate,
                   "self_reply": self_reply, "reply_gap": reply_gap,
                   "root_p": _mix(_ROOT_KINDS, "_ROOT_KINDS")[1]}

    tie_events = np.zeros(st.key.size, np.int64)
    tie_weight = np.zeros(st.key.size)
    tables: list[pa.Table] = []
    truth_parts: dict[str, list[pa.Table]] = {"events": [], "threads": [], "exchanges": []}
    writer: Any = None
    out_path = None if out is None else Path(out)
    truth_writers: dict[str, Any] = {}
    offset = 0
    try:
        for c_i in range(n_chunks):  # a loop over chunks
            ch = _chunk(np.random.default_rng(int(chunk_seeds[c_i])), st, n_users,
                        int(tie_parts[c_i]), int(thr_parts[c_i]), int(fol_edges[c_i]),
                        int(fol_edges[c_i + 1]), int(edges[c_i]), int(edges[c_i + 1]), offset,
                        ids=ids, order=order, kinds=mix, thread_opts=thread_opts)
            offset += ch.events.num_rows
            tie_events += ch.tie_events
            tie_weight += ch.tie_weight
            parts = {"events": ch.thread_truth, "threads": ch.thread_table,
                     "exchanges": ch.exchanges}
            if out_path is None:
                tables.append(ch.events)
            else:
                writer = _write(out_path, ch.events, c_i, writer)
            for name, t in parts.items():
                if t is None:
                    continue
                if out_path is None:
                    truth_parts[name].append(t)
                elif truth_out is not None:
                    truth_writers[name] = _write(Path(truth_out) / f"{name}.parquet", t, c_i,
                                                 truth_writers.get(name))
    finally:
        for w in (writer, *truth_writers.values()):
            if w is not None:
                w.close()

    def ids_of(codes: NDArray[np.int64]) -> pa.Array:
        return pa.array(user_ids(codes, ids))

    ties = pa.table({
        "ego": ids_of(st.ego), "alter": ids_of(st.alter), "layer": pa.array(st.layer),
        "rate": pa.array(st.rate), "reciprocated": pa.array(st.recip),
        "fan": pa.array(st.fan), "events": pa.array(tie_events), "weight": pa.array(tie_weight),
    }).sort_by([("ego", "ascending"), ("alter", "ascending")])
    users = pa.table({
        "user": ids_of(np.arange(n_users, dtype=np.int64)), "scale": pa.array(st.scale),
        "broadcast": pa.array(st.broadcast),
        "followers": pa.array(np.bincount(st.follow_dst, minlength=n_users).astype(np.int64)),
    })
    params = {"n_users": n_users, "n_events": n_events, "layer_sizes": tuple(layer_sizes),
              "layer_ratio": layer_ratio, "outer_rate": outer_rate, "network_scale": mean_m,
              "rate_scale": c, "one_way": one_way, "activity_alpha": activity_alpha,
              "rate_noise": rate_noise, "kinds": dict(kinds), "thread_share": thread_share,
              "branch_mean": branch_mean, "depth_p": depth_p, "alternate": alternate,
              "self_reply": self_reply, "reply_gap": reply_gap, "follow_share": follow_share,
              "broadcast_share": broadcast_share, "broadcast_follows": broadcast_follows,
              "fan_share": fan_share, "start": start, "years": years, "ids": ids,
              "order": order, "chunk_events": chunk_events, "n_chunks": n_chunks}

    def cat(name: str) -> pa.Table | None:
        if out_path is not None or not truth_parts[name]:
            return None
        return pa.concat_tables(truth_parts[name])

    truth = Truth(ties=ties, users=users, events=cat("events"), threads=cat("threads"),
                  exchanges=cat("exchanges"), params=params)
    if out_path is not None:
        return out_path, truth
    events = pa.concat_tables(tables) if tables else _empty_events()
    return events.combine_chunks(), truth


def _empty_events() -> pa.Table:
    i64 = pa.int64()
    return pa.table({"actor": pa.array([], i64), "target": pa.array([], i64),
                     "ts": pa.array([], i64), "kind": pa.array([], pa.string()),
                     "event_id": pa.array([], i64), "parent": pa.array([], i64),
                     "thread": pa.array([], i64)})


def _write(path: Path, table: pa.Table, index: int, writer: Any) -> Any:
    """Append one chunk: a row group of one file (``*.parquet``) or a part file."""
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1 << 20)
        return writer
    path.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path / f"part-{index:05d}.parquet", row_group_size=1 << 20)
    return None


_KINDS = np.array(["like", "comment", "reply", "message", "mention", "share", "call", "meeting"])
_KIND_P = np.array([0.45, 0.15, 0.12, 0.15, 0.05, 0.05, 0.02, 0.01])


def simple_events(n_users: int, n_events: int, *, seed: int | np.random.Generator = 0,
                  reciprocity: float = 0.5, start: int = 1_600_000_000,
                  days: float = 365.0) -> pa.Table:
    """Events with heavy-tailed activity, a share of answered ties and a kind mix.

    A small, quick generator without planted layers or threads (see
    :func:`population` for those).

    Parameters
    ----------
    n_users, n_events : int
        Population size and number of events.
    seed : int or numpy.random.Generator
        Source of randomness (no global state).
    reciprocity : float
        Probability that an event is answered by its target.
    start : int
        Epoch seconds of the first possible event.
    days : float
        Length of the period the events spread over.

    Returns
    -------
    pyarrow.Table
        ``actor``, ``target`` (int64), ``ts`` (int64 epoch seconds), ``kind``.

    Examples
    --------
    >>> t = simple_events(100, 1000, seed=1)
    >>> t.num_rows, t.column_names
    (1000, ['actor', 'target', 'ts', 'kind'])
    """
    rng = np.random.default_rng(seed)
    activity = rng.pareto(1.5, n_users) + 1.0
    p = activity / activity.sum()
    n_first = n_events - int(n_events * reciprocity / (1 + reciprocity))
    actor = rng.choice(n_users, size=n_first, p=p)
    target = rng.choice(n_users, size=n_first, p=p)
    same = actor == target
    target[same] = (target[same] + 1 + rng.integers(0, n_users - 1, same.sum())) % n_users
    ts = start + rng.integers(0, int(days * 86_400), n_first)
    n_back = n_events - n_first
    back = rng.choice(n_first, size=n_back, replace=n_back > n_first)
    b_actor, b_target = target[back], actor[back]
    b_ts = ts[back] + rng.exponential(3600.0 * 6, n_back).astype(np.int64) + 1
    kinds = rng.choice(_KINDS, size=n_events, p=_KIND_P)
    return pa.table({
        "actor": np.concatenate([actor, b_actor]).astype(np.int64),
        "target": np.concatenate([target, b_target]).astype(np.int64),
        "ts": np.concatenate([ts, b_ts]).astype(np.int64),
        "kind": kinds,
    })
