r"""The quality score: one number per user, 0 to 100, that explains itself.

Every component is a share in ``[0, 1]`` reported beside the score, so a
reader sees *why* a user scores what they score.  The score rewards what a
relationship needs (answers, back-and-forth, a few strong two-way ties,
regularity) and ignores what can be bought (followers, likes).

Vocabulary used below (all inside the window, self-interactions excluded):

* **passive** events are the kinds in
  :data:`engagequal.ingest.schema.PASSIVE_KINDS` (``like``, ``view``,
  ``reaction``); **structural** ones build the graph (``follow``,
  ``connection``); every other event of positive weight is **meaningful**.
* **message-like** events are meaningful events aimed at someone whose kind
  weighs at least 1 (comment, reply, message, call, meeting, ...): the ones
  that invite an answer.
* Two message-like events ``u -> v`` and ``v -> u`` at most ``delta`` apart
  *answer* each other.  A **temporal exchange** is three message-like events
  ``u -> v, v -> u, u -> v`` in time order, each within ``delta`` of the
  previous one: the three-turn conversation of the reply-tree definition, found
  from timing alone so that it needs no reply tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from numpy.typing import NDArray

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import PASSIVE_KINDS, STRUCTURAL_KINDS, to_seconds_duration
from engagequal.kernels.dyads import Dyads, reverse_pairs
from engagequal.kernels.pages import small_pages
from engagequal.kernels.parallel import aside
from engagequal.kernels.segments import bincount, running_count, segment_starts
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, dyads_of, event_weights, tie_options

__all__ = [
    "AMPLIFICATION_KINDS",
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "QUALITY_SCHEMA",
    "quality",
    "quality_table",
]

#: Kinds that pass a post on (the "amplification" of Kaushik).
AMPLIFICATION_KINDS = frozenset({"share", "retweet", "quote", "repost"})

#: The components of the score, in column order.
COMPONENTS = ("reciprocity", "conversation_share", "inner_circle", "responsiveness",
              "steadiness", "substance", "diversity", "embeddedness")

#: Default weights of the components in the score (they are normalised to sum 1).
#: See :func:`quality` for the reasoning.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "reciprocity": 0.20,
    "conversation_share": 0.20,
    "inner_circle": 0.15,
    "responsiveness": 0.15,
    "steadiness": 0.15,
    "substance": 0.15,
    "diversity": 0.0,
    "embeddedness": 0.0,
}

_F = pa.float64()
_I = pa.int64()
#: Schema of :func:`quality` (``user`` takes the type of the original ids;
#: ``embeddedness`` is present only when computed).
QUALITY_SCHEMA = pa.schema([
    ("user", pa.null()), ("score", _F),
    ("reciprocity", _F), ("conversation_share", _F), ("inner_circle", _F),
    ("responsiveness", _F), ("steadiness", _F), ("substance", _F), ("diversity", _F),
    ("embeddedness", _F),
    ("effective_contacts", _F), ("followers", _I), ("engaged_audience", _I),
    ("connections", _I), ("contacts", _I), ("posts", _I),
    ("conversation_rate", _F), ("amplification_rate", _F), ("applause_rate", _F),
    ("engagement_rate", _F),
])

_WEEK_S = 7 * 86_400
_MONDAY_SHIFT_S = 3 * 86_400  # 1970-01-01 was a Thursday: weeks start on Monday
_BITMAP_LIMIT = 256_000_000


@small_pages()
def quality(
    source: Any,
    *,
    weights: Mapping[str, float] | None = None,
    delta: Any = "7D",
    inner_threshold: float = 10.0,
    inner_size: int = 5,
    embeddedness: bool = False,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    **read_options: Any,
) -> pa.Table:
    r"""Quality score of every user, with its components and the practice rates.

    .. math::

        \mathrm{score}_u = 100 \cdot \frac{\sum_i \omega_i\, c_{i,u}}{\sum_i \omega_i}

    over the components :math:`c_i \in [0, 1]` below with weights
    :math:`\omega_i`; an undefined component (null in the table, e.g. the
    responsiveness of someone nobody wrote to) counts 0: the score rewards
    quality shown in the data, and absence of evidence earns nothing.

    Components (``delta`` is the answer window, 7 days by default):

    * ``reciprocity``: two-way partners / partners, counting ties of
      meaningful weight only (:math:`w_m(u,v) > \text{min\_weight}`), so a
      like returned for a like earns nothing.
    * ``conversation_share``: of the meaningful events the user sent or
      received, the share that belong to a temporal exchange (see the module
      notes).
    * ``inner_circle``: strength of the support clique,
      :math:`\frac1K \sum_{\text{top } K} \min(1, r_{uv} / \theta)` with
      reciprocated meaningful weight :math:`r_{uv} = \min(w_m(u,v), w_m(v,u))`,
      :math:`K` = ``inner_size`` (5, Dunbar's innermost layer) and
      :math:`\theta` = ``inner_threshold`` (10 weight units, e.g. two
      messages and two replies each way).
    * ``responsiveness``: of the people who sent the user a message-like event,
      the share the user answered at least once within ``delta``.  Counting
      people, not messages, keeps a flood from one sender from dominating.
    * ``steadiness``: of the weeks (Monday to Sunday, UTC) in which the user
      sent or received any non-structural event, the share with a two-way
      exchange (a message-like event of the user's answered, or answering,
      within ``delta``).
    * ``substance``: meaningful weight / non-structural weight of the events
      the user sent or received (likes are the rest).
    * ``diversity``: :math:`1 - 1/D` with the effective number of contacts
      :math:`D = \exp(H)`, :math:`H` the entropy of the user's meaningful
      weight (sent plus received) over partners; 0 for one partner, 0.5 for
      two equal partners, 0.8 for five, towards 1 for many.  ``D`` itself is
      the ``effective_contacts`` column.
    * ``embeddedness`` (only with ``embeddedness=True``): mean Onnela overlap
      :math:`O_{uv} = n_{uv} / ((k_u - 1) + (k_v - 1) - n_{uv})` of the user's
      two-way meaningful ties (:math:`n_{uv}` shared neighbours).

    Default weights (:data:`DEFAULT_WEIGHTS`) and why: reciprocity and
    conversation 0.20 each, the two things a follower count cannot show; inner
    circle, responsiveness, steadiness and substance 0.15 each.  Diversity and
    embeddedness are *shown, not scored* (weight 0): an entropy falls whenever
    a user deepens a relationship they already have, and an overlap falls when
    they meet someone new, so scoring either would punish exactly what the
    score rewards and break the guarantees below.  Pass ``weights=`` to change
    any of this (keys from :data:`COMPONENTS`; missing keys keep their default).

    Guarantees (proved in the Notes, checked by property tests) for the
    default weights, ``min_weight=0`` and no decay: adding follow events
    (hollow followers) or passive events (likes) anywhere never raises a
    user's score; adding a reciprocated conversation (three or more alternating
    message-like events between two users, each within ``delta`` of the last)
    never lowers the score of either of them.

    Parameters
    ----------
    source : Events or table-like
        Events, or anything :func:`engagequal.read_events` accepts (with its
        column-mapping keywords in ``read_options``).
    weights : mapping, optional
        Component -> non-negative weight, overriding :data:`DEFAULT_WEIGHTS`.
    delta : duration, default "7D"
        How long an answer may take.
    inner_threshold : float, default 10
        Reciprocated weight at which an inner-circle tie counts in full.
    inner_size : int, default 5
        Size :math:`K` of the inner circle.
    embeddedness : bool, default False
        Compute the Onnela overlap (a sparse matrix product; costly on hubs).
    window, half_life, min_weight
        The tie options of :func:`engagequal.reciprocity`.

    Returns
    -------
    pyarrow.Table
        One row per user with an event in the window, in id order:

        ======================  =======  ==============================================
        column                  type     meaning
        ======================  =======  ==============================================
        user                    id       the original user id
        score                   float64  0 to 100 (never null)
        reciprocity ...         float64  the components above, in [0, 1], null when
        diversity                        undefined (no partner, no message received,
                                         no active week, no weight)
        embeddedness            float64  only with ``embeddedness=True``
        effective_contacts      float64  :math:`D = \exp(H)`, >= 1, null without
                                         meaningful partners
        followers               int64    distinct users with a ``follow`` event to
                                         the user
        engaged_audience        int64    followers who sent the user at least one
                                         meaningful event in the window
        connections             int64    two-way ties (as in ``reciprocity``)
        contacts                int64    ties sent and never returned
        posts                   int64    root posts (events aimed at no one)
        conversation_rate       float64  responses that are neither applause nor
                                         amplification, per post
        amplification_rate      float64  shares / retweets / quotes, per post
        applause_rate           float64  likes / views / reactions, per post
        engagement_rate         float64  non-structural events received from
                                         others, per follower
        ======================  =======  ==============================================

        The per-post rates (Kaushik) count, with a reply tree, the events of
        others in the threads rooted at the user's posts, and without one,
        every event aimed at the user; they are null without posts, and
        ``engagement_rate`` is null without followers.

    Raises
    ------
    OptionError
        For unknown or negative weights, or bad options.

    Notes
    -----
    *Proof of the guarantees.*  Follow and passive events are neither
    meaningful nor message-like, so they change no numerator and no
    meaningful tie; they can only add to the denominators of ``substance``
    (passive weight) and ``steadiness`` (active weeks).  Every component is
    therefore unchanged or lower, and so is the score.  A reciprocated
    conversation between ``u`` and ``v`` adds ``k`` meaningful events: each
    lies in a temporal exchange (the conversation's own turns form one), so
    ``conversation_share`` goes from ``c/t`` to ``(c+k)/(t+k) >= c/t``;
    whether an existing event is in an exchange, answered or answering is an
    existence statement that extra events cannot falsify; ``v`` becomes (or
    stays) a two-way partner of ``u``, so partners and two-way partners grow
    by the same count; the reciprocated weight of every pair only grows and
    the inner-circle sum of capped top values is non-decreasing in each of
    them; each new person who wrote (``v`` for ``u`` and ``u`` for ``v``) was
    answered within ``delta``; every week the conversation touches gains a
    two-way exchange; meaningful weight grows.  Each component, and hence the
    score, is unchanged or higher.  An undefined component counts 0, so one
    becoming defined cannot lower the score either.

    Time: the message-like events are sorted once by (pair, second, direction);
    exchanges, answers and two-way weeks are then linear scans with
    ``maximum.accumulate``; the dyads are shared with the other metrics.
    Times are compared at one-second resolution.

    References
    ----------
    .. [1] R. I. M. Dunbar, V. Arnaboldi, M. Conti and A. Passarella, "The
       structure of online social networks mirrors those in the offline
       world", Social Networks 43, 39-47 (2015).
       doi:10.1016/j.socnet.2015.04.005
    .. [2] J.-P. Onnela et al., "Structure and tie strengths in mobile
       communication networks", PNAS 104, 7332-7336 (2007).
       doi:10.1073/pnas.0610245104
    .. [3] A. Paranjape, A. R. Benson and J. Leskovec, "Motifs in temporal
       networks", WSDM 2017. doi:10.1145/3018661.3018731
    .. [4] A. Kaushik, "Best social media metrics: conversation, amplification,
       applause, economic value", Occam's Razor (2011).

    Examples
    --------
    ``a`` and ``b`` talk; ``c`` only likes ``a``'s messages.

    >>> import engagequal as eq
    >>> ev = {"actor": ["a", "b", "a", "c"], "target": ["b", "a", "b", "a"],
    ...       "ts": [0, 60, 120, 180], "kind": ["message", "reply", "reply", "like"]}
    >>> q = eq.quality(ev)
    >>> r = q.select(["user", "reciprocity", "conversation_share", "substance"]).to_pylist()[0]
    >>> r["user"], r["reciprocity"], r["conversation_share"], round(r["substance"], 4)
    ('a', 1.0, 1.0, 0.9859)
    >>> [round(s, 1) for s in q.column("score").to_pylist()]
    [85.4, 85.6, 0.0]
    """
    ev = read_events(source, **read_options)
    opts = tie_options(ev, window=window, half_life=half_life, min_weight=min_weight)
    return quality_table(ev, dyads_of(ev, opts), opts, weights=weights, delta=delta,
                         inner_threshold=inner_threshold, inner_size=inner_size,
                         embeddedness=embeddedness)


def resolve_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Defaults overridden by ``weights``, validated (keys known, values >= 0,
    positive sum)."""
    out = dict(DEFAULT_WEIGHTS)
    for k, v in (weights or {}).items():
        if k not in COMPONENTS:
            raise OptionError(f"weights: unknown component {k!r}; expected one of {COMPONENTS}")
        fv = float(v)
        if not np.isfinite(fv) or fv < 0:
            raise OptionError(f"weights[{k!r}] must be a finite number >= 0, got {v!r}")
        out[k] = fv
    if sum(out.values()) <= 0:
        raise OptionError("weights: at least one component needs a positive weight")
    return out


def _kind_table(ev: Events, names: frozenset[str]) -> NDArray[np.bool_]:
    return np.array([k in names for k in ev.kinds] + [False], dtype=bool)


def _window_mask(ev: Events, opts: TieOptions) -> NDArray[np.bool_] | None:
    if opts.t0 is None and opts.t1 is None:
        return None
    m = np.ones(ev.n_events, dtype=bool)
    if opts.t0 is not None:
        m &= ev.ts >= opts.t0
    if opts.t1 is not None:
        m &= ev.ts < opts.t1
    return m


#: rows per block of the per-user week counts
_ROWS = 1 << 20


def _weeks(ts: NDArray[np.int64]) -> NDArray[np.int64]:
    """Monday-based week numbers of epoch nanoseconds."""
    w = ts // 1_000_000_000
    w += _MONDAY_SHIFT_S
    w //= _WEEK_S
    return w


def _count_distinct(
    sources: Sequence[tuple[NDArray[np.integer], NDArray[np.int64], NDArray[np.bool_] | None]],
    n_users: int,
) -> NDArray[np.int64]:
    """Per user, the number of distinct weeks among the rows of ``sources``.

    Each source is ``(user, ts, mask)``: user codes and times (nanoseconds) of
    the same rows, and the rows that count (None: all).  The (user, week)
    pairs are marked block by block in a bitmap, or kept as unique keys when
    the bitmap would be too large: no event-sized temporary is made.
    """
    srcs = [(u, t, m) for u, t, m in sources if u.size]
    if not srcs:
        return np.zeros(n_users, dtype=np.int64)
    span = np.array([min(int(t.min()) for _, t, _ in srcs),
                     max(int(t.max()) for _, t, _ in srcs)], dtype=np.int64)
    w0, w1 = (int(w) for w in _weeks(span))
    n_w = w1 - w0 + 1
    seen = np.zeros(n_users * n_w, dtype=bool) if n_users * n_w <= _BITMAP_LIMIT else None
    found: list[NDArray[np.int64]] = []
    for u, t, m in srcs:
        for a in range(0, u.shape[0], _ROWS):
            ub, tb = u[a:a + _ROWS], t[a:a + _ROWS]
            if m is not None:
                mb = m[a:a + _ROWS]
                ub, tb = ub[mb], tb[mb]
            key = _weeks(tb)
            key -= w0
            key += ub.astype(np.int64) * n_w
            if seen is not None:
                seen[key] = True
            else:
                found.append(np.unique(key))
    if seen is not None:
        counts: NDArray[np.int64] = np.count_nonzero(
            seen.reshape(n_users, n_w), axis=1).astype(np.int64)
        return counts
    uniq = np.unique(np.concatenate(found))
    per_user: NDArray[np.int64] = bincount(uniq // n_w, minlength=n_users).astype(np.int64)
    return per_user


class _Exchanges:
    """Per message-like event (in input order): answered-or-answering within
    delta (``two_way``), in a temporal exchange (``in_exchange``); per directed
    pair with a message: its recipient and whether the recipient answered."""

    def __init__(self, actor: NDArray[np.int64], target: NDArray[np.int64],
                 secs: NDArray[np.int64], delta_s: int, n_users: int) -> None:
        m = actor.shape[0]
        self.two_way = np.zeros(m, dtype=bool)
        self.in_exchange = np.zeros(m, dtype=bool)
        self.recipient = np.zeros(0, dtype=np.int64)
        self.answered_pair = np.zeros(0, dtype=bool)
        if m == 0:
            return
        direction = (actor > target).astype(np.int64)
        upair = np.minimum(actor, target) * np.int64(n_users) + np.maximum(actor, target)
        t = secs - int(secs.min())
        tbits = max(int(t.max()).bit_length(), 1)
        if max(int(upair.max()).bit_length(), 1) + tbits + 1 > 62:
            _, upair = np.unique(upair, return_inverse=True)  # dense ranks fit better
            upair = upair.astype(np.int64)
        if max(int(upair.max()).bit_length(), 1) + tbits + 1 <= 62:
            key = upair << (tbits + 1)
            del upair
            key |= t << 1
            key |= direction
            del t, direction
            order = np.argsort(key)
            # one gather of the packed key; its fields are read back by shifts
            key = np.take(key, order)
            is1 = (key & 1).astype(bool)
            key >>= 1
            t_s = key & np.int64((1 << tbits) - 1)
            key >>= tbits
            up_s = key
            del key
        else:  # pragma: no cover - needs > 2**62 (pair, second) combinations
            order = np.lexsort((direction, t, upair))
            up_s, t_s, is1 = upair[order], t[order], direction[order].astype(bool)
            del upair, t, direction
        # positions and nearest-event indices in 32 bits when they fit: half the memory
        itype = np.int32 if m < 2**31 - 1 else np.int64
        pos = np.arange(m, dtype=itype)
        is0 = ~is1

        def last_where(flag: NDArray[np.bool_]) -> NDArray[np.integer]:
            """Index of the latest flagged event at or before each (-1: none)."""
            out: NDArray[np.integer] = np.full(m, -1, dtype=itype)
            np.copyto(out, pos, where=flag)
            np.maximum.accumulate(out, out=out)
            return out

        def next_where(flag: NDArray[np.bool_]) -> NDArray[np.integer]:
            """Index of the earliest flagged event at or after each (m: none)."""
            out: NDArray[np.integer] = np.full(m, m, dtype=itype)
            np.copyto(out, pos, where=flag)
            rev = out[::-1]
            np.minimum.accumulate(rev, out=rev)
            return out

        def near(cand: NDArray[np.integer], before: bool) -> NDArray[np.bool_]:
            """Whether ``cand`` exists, is of the same pair and within delta."""
            ok: NDArray[np.bool_] = cand >= 0 if before else cand < m
            c = np.where(ok, cand, pos)
            ok &= np.take(up_s, c) == up_s  # np.take: a third faster than fancy indexing
            t_c = np.take(t_s, c)
            gap = t_s - t_c if before else t_c - t_s
            ok &= gap <= delta_s
            return ok

        def other(flag0: NDArray[np.bool_], flag1: NDArray[np.bool_], before: bool
                  ) -> NDArray[np.bool_]:
            """The nearest event of the other direction (among the flagged), in range."""
            find = last_where if before else next_where
            return near(np.where(is0, find(flag1), find(flag0)), before)

        # the nearest event of the other direction, before and after
        has_prev = other(is0, is1, True)
        has_next = other(is0, is1, False)
        # first of a triple: a later reverse event that is itself answered;
        # last of a triple: an earlier reverse event that itself answered
        first = other(is0 & has_next, is1 & has_next, False)
        last = other(is0 & has_prev, is1 & has_prev, True)
        self.two_way[order] = has_prev | has_next
        self.in_exchange[order] = (has_prev & has_next) | first | last
        # per (pair, direction): who received, and did they answer any message
        new = np.empty(m, dtype=bool)
        new[0] = True
        np.not_equal(up_s[1:], up_s[:-1], out=new[1:])
        sd = running_count(new)
        sd -= 1
        sd *= 2
        sd += is1
        n_sd = 2 * int(np.count_nonzero(new))
        wrote = bincount(sd, minlength=n_sd) > 0
        answered = bincount(sd, weights=has_next, minlength=n_sd) > 0
        first_of = np.zeros(n_sd, dtype=np.int64)
        first_of[sd] = pos  # an event of each (pair, direction)
        self.recipient = target[order][first_of[wrote]]
        self.answered_pair = answered[wrote]


def quality_table(
    ev: Events,
    d: Dyads,
    opts: TieOptions,
    *,
    weights: Mapping[str, float] | None = None,
    delta: Any = "7D",
    inner_threshold: float = 10.0,
    inner_size: int = 5,
    embeddedness: bool = False,
) -> pa.Table:
    """The quality table from events and their already-aggregated dyads.

    ``d`` must be ``dyads_of(ev, opts)`` (shared with the other tie metrics);
    see :func:`quality` for the definitions and the schema.
    """
    wts = resolve_weights(weights)
    delta_s = int(np.ceil(to_seconds_duration(delta, name="delta")))
    theta = float(inner_threshold)
    if not np.isfinite(theta) or theta <= 0:
        raise OptionError(f"inner_threshold must be a positive number, got {inner_threshold!r}")
    if int(inner_size) < 1:
        raise OptionError(f"inner_size must be >= 1, got {inner_size!r}")
    k_inner = int(inner_size)
    nu = ev.n_users

    wmask = _window_mask(ev, opts)
    idx_all = np.flatnonzero(wmask) if wmask is not None else None
    actor = ev.actor if idx_all is None else ev.actor[idx_all]
    target = ev.target if idx_all is None else ev.target[idx_all]
    ts = ev.ts if idx_all is None else ev.ts[idx_all]
    kind = ev.kind if idx_all is None else ev.kind[idx_all]
    sub = ev if wmask is None else ev.subset(wmask)
    w = event_weights(sub, opts)

    passive_k = _kind_table(ev, PASSIVE_KINDS)
    struct_k = _kind_table(ev, STRUCTURAL_KINDS)
    amp_k = _kind_table(ev, AMPLIFICATION_KINDS)
    follow_k = _kind_table(ev, frozenset({"follow"}))
    kw_k = np.array([ev.kind_weights.get(k, 0.0) for k in ev.kinds] + [0.0])

    passive = passive_k[kind]
    structural = struct_k[kind]
    aimed = (target >= 0) & (actor != target)
    nonstruct = ~structural & (actor != target)
    meaningful = nonstruct & ~passive & (w > 0)
    tie_ev = aimed & meaningful
    msg = tie_ev & (kw_k[kind] >= 1.0)

    # ---- exchanges, answers and two-way weeks from one sort, beside the rest ----
    m_actor = actor[msg].astype(np.int64)
    m_target = target[msg].astype(np.int64)
    m_ts = ts[msg]
    secs = m_ts // 1_000_000_000
    exchanges = aside(lambda: _Exchanges(m_actor, m_target, secs, delta_s, nu))

    # ---- dyad index of every aimed event (the shared dyads hold them all) ----
    n64 = np.int64(nu)
    dkey = d.u.astype(np.int64) * n64 + d.v
    rev = reverse_pairs(d.u, d.v, d.n_users)
    nd = len(d)

    def dyad_sums(sel: NDArray[np.bool_], x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per dyad of ``d``, the sum of ``x`` over the selected events (a CSR
        build sums duplicates with a counting sort; its sorted keys then find
        their dyads by a cache-friendly search of sorted queries)."""
        out = np.zeros(nd)
        if not sel.any():
            return out
        mat = sp.csr_matrix((x, (actor[sel], target[sel])), shape=(nu, nu))
        mat.sum_duplicates()
        rows = np.repeat(np.arange(nu, dtype=np.int64), np.diff(mat.indptr))
        out[np.searchsorted(dkey, rows * n64 + mat.indices)] = mat.data
        return out

    wm = dyad_sums(tie_ev, w[tie_ev])
    has_rev = rev.has()
    wm_rev = rev.of(wm)

    # ---- reciprocity over meaningful ties ----
    tie_m = wm > opts.min_weight
    rev_tie_m = rev.of(tie_m)
    mutual_m = tie_m & rev_tie_m
    out_m = bincount(d.u, weights=tie_m, minlength=nu)
    in_m = bincount(d.v, weights=tie_m, minlength=nu)
    mut_m = bincount(d.u, weights=mutual_m, minlength=nu)
    partners = out_m + in_m - mut_m

    # connections / contacts over all ties, as in reciprocity(level="user")
    tie_a = d.w > opts.min_weight
    rev_tie_a = rev.of(tie_a)
    out_a = bincount(d.u, weights=tie_a, minlength=nu)
    mut_a = bincount(d.u, weights=tie_a & rev_tie_a, minlength=nu)

    # ---- inner circle: top-K capped reciprocated weight ----
    r = np.minimum(wm, wm_rev)
    rsel = np.flatnonzero(r > 0)
    capped = np.minimum(1.0, r[rsel] / theta)
    ru = d.u[rsel]
    o = np.lexsort((-capped, ru))
    ru_s, c_s = ru[o], capped[o]
    st = segment_starts(ru_s)
    rank = np.arange(ru_s.size) - np.repeat(st, np.diff(np.append(st, ru_s.size)))
    top = rank < k_inner
    inner = bincount(ru_s[top], weights=c_s[top], minlength=nu) / k_inner

    # ---- diversity: entropy of meaningful weight over partners ----
    x_out = wm + wm_rev  # row u->v: everything exchanged with v
    only_in = ~has_rev  # row v->u without u->v: a partner only through its input
    pu = np.concatenate([d.u, d.v[only_in]])
    px = np.concatenate([x_out, wm[only_in]])
    pos_x = px > 0
    pu, px = pu[pos_x], px[pos_x]
    s_tot = bincount(pu, weights=px, minlength=nu)
    s_xlx = bincount(pu, weights=px * np.log(px), minlength=nu)
    has_p = s_tot > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(has_p, np.log(np.where(has_p, s_tot, 1.0))
                       - s_xlx / np.where(has_p, s_tot, 1.0), 0.0)
    eff = np.exp(np.maximum(ent, 0.0))

    # steadiness: the active weeks (the two-way ones come with the exchanges)
    active_weeks = _count_distinct([(actor, ts, nonstruct),
                                    (target, ts, nonstruct & (target >= 0))], nu)

    # substance: meaningful / non-structural weight, sent and received
    ns_aimed = nonstruct & aimed
    w_all = (bincount(actor[ns_aimed], weights=w[ns_aimed], minlength=nu)
             + bincount(target[ns_aimed], weights=w[ns_aimed], minlength=nu))
    w_mean = (bincount(actor[tie_ev], weights=w[tie_ev], minlength=nu)
              + bincount(target[tie_ev], weights=w[tie_ev], minlength=nu))

    # followers and the engaged audience
    fsel = aimed & follow_k[kind]
    follows = dyad_sums(fsel, np.ones(int(np.count_nonzero(fsel)))) > 0
    followers = bincount(d.v, weights=follows, minlength=nu)
    engaged = bincount(d.v, weights=follows & (wm > 0), minlength=nu)

    # practice rates per post (Kaushik) and engagement per follower
    post = (target < 0) & ~structural
    posts = bincount(actor[post], minlength=nu)
    resp_sel, resp_to = _responses(ev, idx_all, actor, target, aimed & nonstruct)
    resp_kind = kind[resp_sel]
    is_app = passive_k[resp_kind]
    is_amp = amp_k[resp_kind] & ~is_app
    is_conv = ~is_app & ~is_amp
    conv_n = bincount(resp_to, weights=is_conv, minlength=nu)
    amp_n = bincount(resp_to, weights=is_amp, minlength=nu)
    app_n = bincount(resp_to, weights=is_app, minlength=nu)
    received = bincount(target[ns_aimed], minlength=nu)

    # ---- embeddedness (optional) ----
    emb: NDArray[np.float64] | None = None
    emb_def: NDArray[np.bool_] | None = None
    if embeddedness or wts.get("embeddedness", 0.0) > 0:
        emb, emb_def = _overlap(d, mutual_m, nu)

    xch = exchanges()
    conv_num = (bincount(m_actor, weights=xch.in_exchange, minlength=nu)
                + bincount(m_target, weights=xch.in_exchange, minlength=nu))
    conv_den = (bincount(actor[tie_ev], minlength=nu)
                + bincount(target[tie_ev], minlength=nu)).astype(np.float64)

    # responsiveness: of the people who wrote to u, the share u answered
    writers = bincount(xch.recipient, minlength=nu)
    answered_writers = bincount(xch.recipient, weights=xch.answered_pair, minlength=nu)

    # steadiness: weeks with a two-way exchange among the active weeks
    tw = xch.two_way
    two_way_weeks = _count_distinct([(m_actor, m_ts, tw), (m_target, m_ts, tw)], nu)
    del m_ts

    # ---- assemble, for users present in the window ----
    users = np.flatnonzero(sub.active)

    comps: dict[str, pa.Array] = {
        "reciprocity": ratio(mut_m[users], partners[users]),
        "conversation_share": ratio(conv_num[users], conv_den[users]),
        "inner_circle": pa.array(np.clip(inner[users], 0.0, 1.0), _F,
                                 mask=partners[users] == 0),
        "responsiveness": ratio(answered_writers[users], writers[users]),
        "steadiness": ratio(two_way_weeks[users], active_weeks[users]),
        "substance": ratio(np.minimum(w_mean[users], w_all[users]), w_all[users]),
        "diversity": pa.array(1.0 - 1.0 / eff[users], _F, mask=~has_p[users]),
    }
    if emb is not None and emb_def is not None:
        comps["embeddedness"] = pa.array(emb[users], _F, mask=~emb_def[users])
    total_w = sum(wts[c] for c in comps)
    if total_w <= 0:
        raise OptionError("weights: the computed components all have weight 0")
    score = np.zeros(users.size)
    for c, arr in comps.items():
        if wts[c] > 0:
            vals = arr.fill_null(0.0).to_numpy(zero_copy_only=False)
            score += wts[c] * vals
    score = np.clip(100.0 * score / total_w, 0.0, 100.0)

    cols: dict[str, pa.Array] = {"user": ev.user_ids(users), "score": pa.array(score, _F)}
    cols.update(comps)
    cols.update({
        "effective_contacts": pa.array(eff[users], _F, mask=~has_p[users]),
        "followers": pa.array(followers[users].astype(np.int64)),
        "engaged_audience": pa.array(engaged[users].astype(np.int64)),
        "connections": pa.array(mut_a[users].astype(np.int64)),
        "contacts": pa.array((out_a - mut_a)[users].astype(np.int64)),
        "posts": pa.array(posts[users].astype(np.int64)),
        "conversation_rate": ratio(conv_n[users], posts[users]),
        "amplification_rate": ratio(amp_n[users], posts[users]),
        "applause_rate": ratio(app_n[users], posts[users]),
        "engagement_rate": ratio(received[users], followers[users]),
    })
    return pa.table(cols)


def _responses(ev: Events, idx_all: NDArray[np.int64] | None, actor: NDArray[np.int32],
               target: NDArray[np.int32], aimed_ns: NDArray[np.bool_]
               ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Positions (in the windowed arrays) of responses to posts and the user
    they count for: the post's author with a reply tree, else the target."""
    tree = ev.tree
    if tree is None:
        sel = np.flatnonzero(aimed_ns)
        return sel, target[sel].astype(np.int64)
    root = tree.root if idx_all is None else tree.root[idx_all]
    pos = np.arange(actor.shape[0]) if idx_all is None else idx_all
    author = ev.actor[root]
    root_is_post = ev.target[root] < 0
    sel = np.flatnonzero(aimed_ns & root_is_post & (root != pos) & (actor != author))
    return sel, author[sel].astype(np.int64)


def _overlap(d: Dyads, mutual: NDArray[np.bool_], nu: int
             ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Mean Onnela overlap of each user's two-way ties, and where it is defined."""
    sel = mutual & (d.u < d.v)
    i, j = d.u[sel].astype(np.int64), d.v[sel].astype(np.int64)
    if i.size == 0:
        return np.zeros(nu), np.zeros(nu, dtype=bool)
    a = sp.csr_matrix((np.ones(2 * i.size), (np.concatenate([i, j]), np.concatenate([j, i]))),
                      shape=(nu, nu))
    a.sum_duplicates()
    deg = np.asarray(a.sum(axis=1)).ravel()
    common = a.multiply(a @ a).tocsr()
    shared = np.asarray(common[i, j]).ravel()
    den = (deg[i] - 1) + (deg[j] - 1) - shared
    ok = den > 0
    ov = np.where(ok, shared / np.where(ok, den, 1.0), 0.0)
    s = bincount(i, weights=ov * ok, minlength=nu) + bincount(j, weights=ov * ok, minlength=nu)
    c = bincount(i, weights=ok, minlength=nu) + bincount(j, weights=ok, minlength=nu)
    defined = c > 0
    return np.where(defined, s / np.where(defined, c, 1.0), 0.0), defined
