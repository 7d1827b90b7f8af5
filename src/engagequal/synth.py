"""Seeded synthetic interaction events (a first, simple generator)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["simple_events"]

_KINDS = np.array(["like", "comment", "reply", "message", "mention", "share", "call", "meeting"])
_KIND_P = np.array([0.45, 0.15, 0.12, 0.15, 0.05, 0.05, 0.02, 0.01])


def simple_events(n_users: int, n_events: int, *, seed: int | np.random.Generator = 0,
                  reciprocity: float = 0.5, start: int = 1_600_000_000,
                  days: float = 365.0) -> pa.Table:
    """Events with heavy-tailed activity, a share of answered ties and a kind mix.

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
