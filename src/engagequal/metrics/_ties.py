"""Options shared by the tie metrics: time window, decay, minimum weight."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engagequal.errors import OptionError
from engagequal.events import Events
from engagequal.ingest.schema import to_ns_scalar, to_seconds_duration
from engagequal.kernels.dyads import Dyads, Pairs, aggregate_dyads, aggregate_pairs

__all__ = ["TieOptions", "dyads_of", "event_weights", "pairs_of", "tie_options", "windowed"]


@dataclass(frozen=True)
class TieOptions:
    """Resolved options: window ``[t0, t1)`` in ns, half-life in s, reference time in ns."""

    t0: int | None
    t1: int | None
    half_life: float | None
    reference: int | None
    min_weight: float


def tie_options(
    ev: Events,
    *,
    window: tuple[Any, Any] | None = None,
    half_life: Any = None,
    min_weight: float = 0.0,
    reference: Any = None,
) -> TieOptions:
    """Resolve user options against the events' time type.

    ``window`` is ``(t0, t1)``, either end may be ``None``; times are numbers
    (epoch seconds), datetimes, numpy datetime64 or ISO strings.  ``half_life``
    is a duration (seconds or ``"30D"``).  The decay reference time defaults to
    the window end when given, else the latest event.
    """
    t0 = t1 = None
    if window is not None:
        try:
            a, b = window
        except (TypeError, ValueError) as exc:
            raise OptionError(f"window must be a pair (t0, t1), got {window!r}") from exc
        t0 = None if a is None else to_ns_scalar(a, ev.time_type, name="window[0]")
        t1 = None if b is None else to_ns_scalar(b, ev.time_type, name="window[1]")
        if t0 is not None and t1 is not None and t1 <= t0:
            raise OptionError(f"window end must come after its start, got {window!r}")
    hl = None if half_life is None else to_seconds_duration(half_life, name="half_life")
    ref = None
    if reference is not None:
        ref = to_ns_scalar(reference, ev.time_type, name="reference")
    elif hl is not None:
        ref = t1 if t1 is not None else ev.time_range[1]
    mw = float(min_weight)
    if not np.isfinite(mw) or mw < 0:
        raise OptionError(f"min_weight must be a finite number >= 0, got {min_weight!r}")
    return TieOptions(t0=t0, t1=t1, half_life=hl, reference=ref, min_weight=mw)


def windowed(ev: Events, opts: TieOptions) -> Events:
    """The events inside the window (all of them when no window is set)."""
    if opts.t0 is None and opts.t1 is None:
        return ev
    m = np.ones(ev.n_events, dtype=bool)
    if opts.t0 is not None:
        m &= ev.ts >= opts.t0
    if opts.t1 is not None:
        m &= ev.ts < opts.t1
    return ev.subset(m)


def event_weights(ev: Events, opts: TieOptions) -> NDArray[np.float64]:
    """Weights after exponential decay ``w * 2 ** (-(T - t) / h)``."""
    if opts.half_life is None or opts.reference is None:
        return ev.weight
    age_s = (opts.reference - ev.ts).astype(np.float64) / 1e9
    return ev.weight * np.exp2(-age_s / opts.half_life)


def dyads_of(ev: Events, opts: TieOptions, *, times: bool = True) -> Dyads:
    """Directed dyads of the windowed, decayed events (``times=False`` skips
    first / last contact)."""
    sub = windowed(ev, opts)
    return aggregate_dyads(sub.actor, sub.target, event_weights(sub, opts),
                           sub.ts if times else None, sub.n_users)


def pairs_of(ev: Events, opts: TieOptions, *, times: bool = True) -> Pairs:
    """Unordered pairs of the windowed, decayed events (``times=False`` skips
    first / last contact)."""
    sub = windowed(ev, opts)
    return aggregate_pairs(sub.actor, sub.target, event_weights(sub, opts),
                           sub.ts if times else None, sub.n_users)
