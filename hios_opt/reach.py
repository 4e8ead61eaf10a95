"""Reachability queries in linear memory.

:attr:`OpGraph.descendants_bits <hios_opt.graph.OpGraph.descendants_bits>`
answers "is there a path from ``u`` to ``v``?" with one shift, but its bitsets
take ``n^2 / 8`` bytes (13 MiB at 10,000 ops, 1.3 GiB at 100,000). Above
:data:`hios_opt.graph.REACH_BITS_MAX_OPS` ops the graph answers from a
:class:`ReachIndex` instead: six 4-byte integers per op (a level, and the
labels of two depth-first traversals) besides the topological position, and
a pruned search for the queries those labels cannot settle. The answer is always exact; why each
label is a valid test is in the Notes of :class:`ReachIndex`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

__all__ = ["ReachIndex"]


class ReachIndex:
    """Exact reachability of a DAG in ``O(V)`` memory.

    Parameters
    ----------
    succ : sequence of sequences of int
        Successor indices of each op.
    topo : sequence of int
        A topological order of the op indices.
    position : sequence of int
        Position of each op in ``topo``.

    Notes
    -----
    The labels (each a necessary or a sufficient condition for a path
    ``u -> v`` of length >= 1):

    * *topological position*: a path needs ``position[u] < position[v]``;
    * *level* (edges on the longest path from a source): a path needs
      ``level[u] < level[v]``;
    * *GRAIL intervals* (Yildirim, Chaoji and Zaki, "GRAIL: Scalable
      Reachability Index for Large Graphs", PVLDB 2010): in a depth-first
      traversal that numbers ops in post-order, every descendant of ``u``
      finishes before ``u``, so a path needs ``post[v] < post[u]`` and
      ``low[u] <= low[v]``, where ``low[w]`` is the smallest post-order number
      among ``w`` and its descendants. Two traversals (children in opposite
      orders) are kept; each cuts different non-pairs;
    * *DFS-tree nesting*: when ``v`` was discovered inside ``u``'s visit of the
      first traversal (``pre[u] < pre[v]`` and ``post[v] < post[u]``) there is
      a path, a positive answer for free.

    A query that no label settles searches forward from ``u``, entering only ops
    that could still lie on a path to ``v`` by every label above. The answer is
    always exact; the labels only decide how much is searched. Memory: six
    4-byte integers per op.

    Examples
    --------
    >>> index = ReachIndex([(1, 2), (3,), (3,), ()], [0, 1, 2, 3], [0, 1, 2, 3])   # a diamond
    >>> index.reaches(0, 3), index.reaches(1, 2), index.reaches(3, 0)
    (True, False, False)
    """

    def __init__(self, succ: Sequence[Sequence[int]], topo: Sequence[int], position: Sequence[int]) -> None:
        n = len(succ)
        self.succ = succ
        self.position = position
        level = array("i", bytes(4 * n))
        for u in topo:
            next_level = level[u] + 1
            for v in succ[u]:
                if level[v] < next_level:
                    level[v] = next_level
        self.level = level
        self.pre, self.post1, self.low1 = self._traversal(succ, topo, reverse=False)
        _, self.post2, self.low2 = self._traversal(succ, topo, reverse=True)

    @staticmethod
    def _traversal(succ: Sequence[Sequence[int]], topo: Sequence[int], *, reverse: bool) -> tuple[array, array, array]:
        # Iterative depth-first search from every source (roots in topological
        # order, or reversed), children in successor order (or reversed).
        n = len(succ)
        pre = array("i", bytes(4 * n))
        post = array("i", bytes(4 * n))
        seen = bytearray(n)
        pre_count = post_count = 0
        for root in (reversed(topo) if reverse else topo):
            if seen[root]:
                continue
            seen[root] = 1
            pre[root] = pre_count
            pre_count += 1
            stack = [(root, iter(reversed(succ[root]) if reverse else succ[root]))]
            while stack:
                node, children = stack[-1]
                for child in children:
                    if not seen[child]:
                        seen[child] = 1
                        pre[child] = pre_count
                        pre_count += 1
                        stack.append((child, iter(reversed(succ[child]) if reverse else succ[child])))
                        break
                else:
                    stack.pop()
                    post[node] = post_count
                    post_count += 1
        low = array("i", post)
        for u in reversed(topo):
            best = low[u]
            for v in succ[u]:
                if low[v] < best:
                    best = low[v]
            low[u] = best
        return pre, post, low

    def _may_reach(self, u: int, v: int) -> bool:
        """False when a label rules out a path ``u -> v`` (``u != v``)."""
        return (self.position[u] < self.position[v] and self.level[u] < self.level[v]
                and self.post1[v] < self.post1[u] and self.low1[u] <= self.low1[v]
                and self.post2[v] < self.post2[u] and self.low2[u] <= self.low2[v])

    def reaches(self, u: int, v: int) -> bool:
        """True when there is a path of length >= 1 from op ``u`` to op ``v``."""
        if u == v or not self._may_reach(u, v):
            return False
        pre, post1 = self.pre, self.post1
        if pre[u] < pre[v] and post1[v] < post1[u]:
            return True
        # Search from u, entering only ops from which v is still possible.
        # Ops rejected by the labels are never stored: memory is the search.
        position, level, low1, post2, low2 = self.position, self.level, self.low1, self.post2, self.low2
        pos_v, level_v, post1_v, low1_v, post2_v, low2_v = (
            position[v], level[v], post1[v], low1[v], post2[v], low2[v])
        succ = self.succ
        seen = {u}
        stack = [u]
        while stack:
            w = stack.pop()
            for x in succ[w]:
                if x == v:
                    return True
                if x in seen:
                    continue
                seen.add(x)
                if (position[x] < pos_v and level[x] < level_v and post1_v < post1[x] and low1[x] <= low1_v
                        and post2_v < post2[x] and low2[x] <= low2_v):
                    if pre[x] < pre[v] and post1_v < post1[x]:
                        return True
                    stack.append(x)
        return False

    def nbytes(self) -> int:
        """Bytes held by the labels (the adjacency is the graph's own)."""
        return sum(a.itemsize * len(a) for a in (self.level, self.pre, self.post1, self.low1, self.post2, self.low2))
