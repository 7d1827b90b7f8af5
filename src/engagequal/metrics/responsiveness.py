"""Responsiveness: does ``v`` answer ``u`` within ``delta``, and how fast?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.read import read_events
from engagequal.ingest.schema import to_seconds_duration
from engagequal.kernels.pages import small_pages
from engagequal.kernels.parallel import pmap
from engagequal.kernels.segments import (
    bincount,
    running_count,
    segment_starts,
    segmented_median,
    sort_within_segments,
    stable_order,
)
from engagequal.metrics._tables import ratio
from engagequal.metrics._ties import TieOptions, tie_options, windowed
from engagequal.metrics.reciprocity import present_users

__all__ = ["answer_times", "message_like", "responsiveness"]

#: Events of kinds worth at least this much expect an answer.
MESSAGE_MIN_WEIGHT = 1.0


def message_like(ev: Events) -> NDArray[np.bool_]:
    """Events that address someone else and invite an answer: kinds whose
    weight is at least 1 (comment, reply, message, call, meeting, ...)."""
    kw = np.array([ev.kind_weights.get(k, 0.0) for k in ev.kinds])
    ok_kind = kw[ev.kind] >= MESSAGE_MIN_WEIGHT if ev.n_events else np.zeros(0, bool)
    out: NDArray[np.bool_] = ok_kind & (ev.actor != ev.target) & (ev.target >= 0)
    return out


def answer_times(a: NDArray[np.int32], b: NDArray[np.int32], t: NDArray[np.int64],
                 n_users: int) -> NDArray[np.int64]:
    """For each event ``a -> b`` at ``t``, the wait in ns until the first event
    ``b -> a`` strictly after ``t``; ``-1`` when there is none.

    Notes
    -----
    The events are put in (unordered pair, time) order by a stable sort of
    the times and one plain sort of the packed ``int64`` key (pair, position
    in time order); then, for each event, the first
    event of the opposite direction at or after the first strictly later
    event of the same pair is read from a reversed running minimum of
    positions (one per direction).  ``O(n log n)`` for the sorts, linear
    passes otherwise, and memory access independent of row order.  A
    self-interaction (``a == b``) is never answered.

    Examples
    --------
    >>> import numpy as np
    >>> answer_times(np.array([0, 1, 0]), np.array([1, 0, 1]), np.array([0, 5, 9]), 2).tolist()
    [5, 4, -1]
    """
    n = a.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    bits = max(int(n_users - 1).bit_length(), 1)
    pair = np.minimum(a, b).astype(np.int64)
    pair <<= bits
    pair |= np.maximum(a, b)
    pbits = max(int(n - 1).bit_length(), 1)
    if 2 * bits + pbits <= 63:
        # time order first (a run-detecting stable sort: logs mostly come in time
        # order), then one plain sort of (pair, position in time order)
        by_time = stable_order(t)
        key = np.take(pair, by_time)  # np.take: a third faster than fancy indexing
        key <<= pbits
        key |= np.arange(n, dtype=np.int64)
        key.sort()
        key &= np.int64((1 << pbits) - 1)
        order = np.take(by_time, key)
        del key, by_time
    else:
        order = np.lexsort((t, pair))
    # the gathers side by side (np.take: a third faster than fancy indexing)
    cols: list[NDArray[Any]] = [pair, t, a, b]
    p_s, t_s, a_s, b_s = pmap(lambda x: np.take(x, order), cols)
    d_s = a_s > b_s
    two = a_s != b_s  # a self-interaction is never answered
    del pair, a_s, b_s
    # start of the next (pair, time) group after each event: the first strictly later event
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = (p_s[1:] != p_s[:-1]) | (t_s[1:] != t_s[:-1])
    gstarts = np.flatnonzero(new)
    later = np.append(gstarts[1:], n)[running_count(new) - 1]
    del new, gstarts
    # next position (>= i) holding an event of each direction; n when none
    pos = np.arange(n, dtype=np.int64)

    def next_of(direction: bool) -> NDArray[np.int64]:
        """The next position of ``direction`` at or after each later event."""
        nxt = np.where(d_s, pos, n) if direction else np.where(d_s, n, pos)
        rev = nxt[::-1]
        np.minimum.accumulate(rev, out=rev)
        out: NDArray[np.int64] = np.take(np.append(nxt, n), later)
        return out

    n0, n1 = pmap(next_of, [False, True])
    j = np.where(d_s, n0, n1)
    del n0, n1
    jc = np.minimum(j, n - 1)
    p_j, t_j = pmap(lambda x: np.take(x, jc), [p_s, t_s])
    found = (j < n) & (p_j == p_s) & two
    wait_s = np.where(found, t_j - t_s, -1)
    out = np.empty(n, dtype=np.int64)
    out[order] = wait_s
    return out


def responder_medians(responder: NDArray[np.integer], wait: NDArray[np.int64]
                      ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The responders (ascending codes) and the median wait in seconds of the
    answers each gave (``responder`` codes and ``wait`` in nanoseconds, one per
    answer).

    Examples
    --------
    >>> import numpy as np
    >>> who, med = responder_medians(np.array([4, 1, 4, 4]), np.array([3, 5, 1, 2]) * 10**9)
    >>> who.tolist(), med.tolist()
    ([1, 4], [5.0, 2.0])
    """
    resp, w = sort_within_segments(responder, wait)  # by (responder, wait)
    starts = segment_starts(resp)
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return resp[starts].astype(np.int64), segmented_median(w.astype(np.float64) / 1e9, starts)


def median_waits(responder: NDArray[np.integer], wait: NDArray[np.int64], n_users: int
                 ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """:func:`responder_medians` per user code: the medians (0 where none) and
    whether the user gave any answer."""
    who, m = responder_medians(responder, wait)
    med = np.zeros(n_users)
    med[who] = m
    has = np.zeros(n_users, dtype=bool)
    has[who] = True
    return med, has


@small_pages()
def responsiveness(
    source: Any,
    *,
    delta: Any = "7D",
    level: str = "user",
    window: tuple[Any, Any] | None = None,
    **read_options: Any,
) -> pa.Table:
    """How often and how fast people answer the messages they receive.

    For each message-like event ``u -> v`` at time ``t`` (kinds of weight at
    least 1, self-interactions excluded), ``v`` *answered* when ``v`` sent a
    message-like event to ``u`` in ``(t, t + delta]``; the response time is the
    wait until the first such event.  This is the two-node temporal motif
    ``u -> v, v -> u`` of Paranjape, Benson and Leskovec.

    Parameters
    ----------
    source : Events or table-like
        Events, or anything :func:`engagequal.read_events` accepts.
    delta : duration, default "7D"
        Longest wait that still counts as an answer.
    level : {"user", "event"}
        ``user``: one row per user with an event in the window.
        ``event``: one row per message-like event.
    window : (t0, t1), optional
        Only events with ``t0 <= ts < t1``; an answer must fall inside too.

    Returns
    -------
    pyarrow.Table
        ``level="user"``: ``user``, ``received`` (message-like events aimed at
        the user), ``answered`` (of those, answered within ``delta``),
        ``response_rate`` (answered / received, null when nothing was
        received), ``median_response_s`` (median wait of the answered ones in
        seconds, null when none), ``sent``, ``sent_answered`` (the user's own
        messages that got an answer) and ``answered_share`` (sent_answered /
        sent).
        ``level="event"``: ``actor``, ``target``, ``ts``, ``answered``,
        ``response_s`` (null when not answered).

    References
    ----------
    .. [1] A. Paranjape, A. R. Benson and J. Leskovec, "Motifs in temporal
       networks", WSDM 2017. doi:10.1145/3018661.3018731

    Examples
    --------
    >>> import engagequal as eq
    >>> ev = {"actor": ["a", "b", "a"], "target": ["b", "a", "b"], "ts": [0, 60, 7200],
    ...       "kind": ["message"] * 3}
    >>> t = eq.responsiveness(ev, delta="1h")
    >>> t.select(["user", "received", "answered", "median_response_s"]).to_pylist()[1]
    {'user': 'b', 'received': 2, 'answered': 1, 'median_response_s': 60.0}
    """
    if level not in ("user", "event"):
        raise OptionError(f"level must be 'user' or 'event', got {level!r}")
    ev = read_events(source, **read_options)
    opts = tie_options(ev, window=window)
    return responsiveness_table(ev, opts, delta_s=to_seconds_duration(delta, name="delta"),
                                level=level)


def responsiveness_table(ev: Events, opts: TieOptions, *, delta_s: float,
                         level: str = "user") -> pa.Table:
    """Responsiveness of already-read events (see :func:`responsiveness`)."""
    sub = windowed(ev, opts)
    m = message_like(sub)
    a, b, t = sub.actor[m], sub.target[m], sub.ts[m]
    wait = answer_times(a, b, t, ev.n_users)
    answered = (wait >= 0) & (wait <= np.int64(round(delta_s * 1e9)))
    if level == "event":
        order = np.lexsort((b, a, t))
        return pa.table({
            "actor": ev.user_ids(a[order]),
            "target": ev.user_ids(b[order]),
            "ts": ev.times(t[order]),
            "answered": pa.array(answered[order]),
            "response_s": pa.array(wait[order] / 1e9, pa.float64(), mask=~answered[order]),
        })
    nu = ev.n_users
    received = bincount(b, minlength=nu)
    got = bincount(b, weights=answered, minlength=nu)
    sent = bincount(a, minlength=nu)
    sent_ans = bincount(a, weights=answered, minlength=nu)
    med, has = median_waits(b[answered], wait[answered], nu)
    users = np.flatnonzero(present_users(ev, opts))
    return pa.table({
        "user": ev.user_ids(users),
        "received": pa.array(received[users].astype(np.int64)),
        "answered": pa.array(got[users].astype(np.int64)),
        "response_rate": ratio(got[users], received[users]),
        "median_response_s": pa.array(med[users], pa.float64(), mask=~has[users]),
        "sent": pa.array(sent[users].astype(np.int64)),
        "sent_answered": pa.array(sent_ans[users].astype(np.int64)),
        "answered_share": ratio(sent_ans[users], sent[users]),
    })
