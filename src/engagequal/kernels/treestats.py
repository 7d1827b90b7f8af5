"""Reply-forest statistics: subtree aggregates and alternating exchanges.

Every function takes positional parent pointers (``parent[i]`` is the position
of node ``i``'s parent, ``-1`` for a root; the forest has no cycle) and works in
``O(n log depth)`` vectorised rounds, with no Python loop over nodes or levels,
so a chain a million replies deep costs about twenty rounds.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from engagequal.kernels.segments import scatter_reduce
from engagequal.kernels.trees import root_and_depth

__all__ = ["AlternatingRuns", "alternating_runs", "subtree_aggregate"]


def subtree_aggregate(
    parent: NDArray[np.integer[Any]],
    values: NDArray[np.float64] | NDArray[np.integer[Any]],
    *,
    op: Literal["sum", "max"] = "sum",
) -> NDArray[Any]:
    r"""Sum or maximum of ``values`` over each node's subtree (itself included).

    Parameters
    ----------
    parent : ndarray of int
        Parent positions, ``-1`` for a root; no cycles.
    values : ndarray
        One value per node.
    op : {"sum", "max"}
        The aggregate.

    Returns
    -------
    ndarray
        :math:`A(v) = \bigoplus_{u \in \mathrm{sub}(v)} x_u`: ``float64``, except
        the maximum of integers, which keeps their type.

    Notes
    -----
    Doubling on ancestor pointers ("pointer-jumping prefix sums"): with
    :math:`a_k(w)` the ancestor :math:`2^k` levels above ``w`` and
    :math:`A_k(v)` the aggregate over descendants less than :math:`2^k` levels
    below ``v``,

    .. math:: A_{k+1}(v) = A_k(v) \oplus \bigoplus_{w:\, a_k(w) = v} A_k(w),
              \qquad a_{k+1}(w) = a_k(a_k(w)),

    since every descendant ``u`` between :math:`2^k` and :math:`2^{k+1} - 1`
    levels below ``v`` is counted exactly once, through the node ``w`` on its
    path exactly :math:`2^k` levels below ``v``.  After
    :math:`\lceil \log_2(\text{depth} + 1) \rceil` rounds :math:`A = A_K`.
    Each round is one gather and one scatter over the nodes that still have an
    ancestor that far up, so the work is :math:`O(n \log \text{depth})`
    whatever the shape (a chain a million deep takes 20 rounds), and no
    temporary larger than the nodes still moving.  Sums of integer values
    (subtree sizes) are exact.

    Examples
    --------
    >>> import numpy as np
    >>> subtree_aggregate(np.array([-1, 0, 1, 0]), np.ones(4)).tolist()
    [4.0, 2.0, 1.0, 1.0]
    """
    n = parent.shape[0]
    x = np.asarray(values)
    keep = op == "max" and np.issubdtype(x.dtype, np.integer)
    acc = x.copy() if keep else x.astype(np.float64)
    anc: NDArray[np.int64] | NDArray[np.int32] = (
        parent.astype(np.int32) if n < 2**31 - 1 else parent.astype(np.int64))
    active = np.flatnonzero(anc >= 0).astype(anc.dtype)
    while active.size:
        up = anc[active]
        # the values are gathered before any is raised: a node that both gains
        # and gives in one round gives its value from before the round
        if op == "sum":
            scatter_reduce(np.add, acc, up, acc[active])
        else:
            scatter_reduce(np.maximum, acc, up, acc[active])
        nxt = anc[up]
        anc[active] = nxt
        active = active[nxt >= 0]
    return acc


class AlternatingRuns:
    """Alternating two-person runs of a reply forest (see :func:`alternating_runs`).

    Attributes
    ----------
    turn : ndarray of int32
        ``L(e)``: turns of the alternating run that ends at ``e`` (``1`` when
        ``e`` is a root or a self-reply).
    run_parent : ndarray of int32 (int64 past 2**31 nodes)
        ``parent[e]`` when ``e`` continues its parent's run, else ``-1``.
    run_root : ndarray of int32 (int64 past 2**31 nodes)
        First event of ``e``'s run segment in the run-parent forest.
    head : ndarray of int32 (int64 past 2**31 nodes)
        For a run segment that starts with a two-person step (``turn == 2`` at
        its root), the parent that opens it; else ``-1``.  Indexed by node; only
        meaningful at run roots.
    end : ndarray of bool
        ``e`` ends a maximal exchange: ``turn >= 2`` and no child continues it.
    longest : ndarray of int32
        Turns of the longest maximal exchange containing ``e`` (``1`` if none).
    segment_longest : ndarray of int32
        Longest maximal exchange containing ``e`` within ``e``'s own run
        segment (exchanges that ``e`` only opens as a head excluded).
    """

    __slots__ = ("end", "head", "longest", "run_parent", "run_root", "segment_longest", "turn")

    def __init__(self, turn: NDArray[np.int32], run_parent: NDArray[np.integer[Any]],
                 run_root: NDArray[np.integer[Any]], head: NDArray[np.integer[Any]],
                 end: NDArray[np.bool_],
                 longest: NDArray[np.int32], segment_longest: NDArray[np.int32]) -> None:
        self.turn = turn
        self.run_parent = run_parent
        self.run_root = run_root
        self.head = head
        self.end = end
        self.longest = longest
        self.segment_longest = segment_longest


def alternating_runs(parent: NDArray[np.int64], actor: NDArray[np.integer]) -> AlternatingRuns:
    r"""Two-person alternating runs (exchanges) along the root-to-leaf paths.

    Parameters
    ----------
    parent : ndarray of int
        Parent positions, ``-1`` for a root; no cycles.
    actor : ndarray of int
        Author of each node.

    Returns
    -------
    AlternatingRuns

    Notes
    -----
    An *exchange* is a run of consecutive events on one root-to-leaf path whose
    authors alternate between exactly two people ``u, v, u, v, ...``; the root
    counts as a turn.  With :math:`p` the parent and :math:`g` the grandparent
    of ``e`` and :math:`a` the author, ``e`` *continues* its parent's run when

    .. math:: a(e) \ne a(p), \quad a(p) \ne a(g), \quad a(e) = a(g),

    a test on ``e``'s own two ancestors only.  The turns of the run ending at
    ``e`` are then

    .. math:: L(e) = \begin{cases} L(p) + 1 & e \text{ continues } p \\
                    2 & a(e) \ne a(p) \text{ otherwise (a new run opened by } p) \\
                    1 & e \text{ is a root or } a(e) = a(p) \end{cases}

    so ``L`` is the depth in the forest of "continues" links (pointer jumping)
    plus the 1 or 2 turns its segment starts with.  Runs overlap by one event
    where a third person steps in (``A B A C A C`` holds ``A B A`` and
    ``A C A C``).  A run ending at ``e`` is *maximal* when no child continues
    it; each maximal run is counted once, at its last event, however many
    root-to-leaf paths pass through it.  ``longest`` is a subtree maximum of
    ``L`` in the link forest (:func:`subtree_aggregate`), raised at each
    segment's opening head.  Work: :math:`O(n \log \text{depth})`.

    Examples
    --------
    >>> import numpy as np
    >>> r = alternating_runs(np.array([-1, 0, 1, 2, 3]), np.array([0, 1, 0, 2, 0]))
    >>> r.turn.tolist(), r.end.tolist(), r.longest.tolist()
    ([1, 2, 3, 2, 3], [False, False, True, False, True], [3, 3, 3, 3, 3])
    """
    n = parent.shape[0]
    a = np.asarray(actor)
    small = np.int32 if n < 2**31 - 1 else np.int64  # positions kept in 32 bits
    par: NDArray[np.integer[Any]] = parent.astype(small)
    has_p = par >= 0
    pp = np.where(has_p, par, 0)
    ap = a[pp]
    gp = np.where(has_p, par[pp], -1)
    del pp
    has_g = gp >= 0
    ag = a[np.where(has_g, gp, 0)]
    del gp
    new_pair = has_p & (a != ap)
    del has_p
    link = new_pair & has_g & (ap != ag) & (a == ag)
    del ap, ag, has_g
    run_parent: NDArray[np.integer[Any]] = np.where(link, par, -1).astype(small, copy=False)
    run_root64, rdepth, _ = root_and_depth(run_parent)
    run_root: NDArray[np.integer[Any]] = run_root64.astype(small)
    del run_root64
    opener = new_pair & ~link
    del new_pair
    base = np.where(opener, 2, 1).astype(np.int32)
    turn = base[run_root]
    del base
    turn += rdepth
    del rdepth
    continued = np.zeros(n, dtype=bool)
    continued[par[link]] = True
    del link
    end = (turn >= 2) & ~continued
    del continued
    seg = subtree_aggregate(run_parent, turn, op="max")
    head: NDArray[np.integer[Any]] = np.where(opener, par, -1).astype(small, copy=False)
    del opener, par
    longest = seg.copy()
    opens = np.flatnonzero(head >= 0)
    scatter_reduce(np.maximum, longest, head[opens], seg[opens])
    del opens
    return AlternatingRuns(turn=turn, run_parent=run_parent, run_root=run_root, head=head,
                           end=end, longest=longest, segment_longest=seg)
